/** setupFiles entry: tells test/helpers/testLimit.ts when the running test's own limit ends. */
import { afterEach, beforeEach } from "vitest";
import { setTestDeadline } from "./testLimit.js";

beforeEach((ctx) => {
  setTestDeadline(Date.now() + ctx.task.timeout);
});
afterEach(() => {
  setTestDeadline(Number.POSITIVE_INFINITY);
});
