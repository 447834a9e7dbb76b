/** What `fn` throws when called (undefined when it returns), for assertions on the error itself. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}
