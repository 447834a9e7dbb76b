/**
 * Go-style durations ("1.5s", "200ms", "1m30s") and byte sizes ("512MiB", "2GB"), the two value
 * shapes hotdump.toml shares with Go's own flags (time.ParseDuration), so a Go developer writes
 * what they already know.
 */

const unitMs: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Milliseconds (may be fractional), or an Error explaining the mistake. Negative input is rejected. */
export function parseDuration(text: string): number | Error {
  const s = text.trim();
  if (s === "0") return 0;
  if (s.startsWith("-")) return new Error(`negative duration "${text}"`);
  const body = s.startsWith("+") ? s.slice(1) : s;
  if (body === "") return new Error("empty duration");
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < body.length) {
    re.lastIndex = pos;
    const m = re.exec(body);
    if (!m) {
      const hint = /^\d+(\.\d+)?$/.test(body)
        ? ` (add a unit, e.g. "${body}ms")`
        : ' (units: ns, us, ms, s, m, h; e.g. "1.5s")';
      return new Error(`invalid duration "${text}"${hint}`);
    }
    total += Number(m[1]) * (unitMs[m[2] as string] as number);
    pos = re.lastIndex;
  }
  return total;
}

const sizeUnits: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** Bytes, from an integer or "512MiB" / "2GB" / "10%"-free strings; an Error otherwise. */
export function parseSize(value: string | number): number | Error {
  if (typeof value === "number") {
    if (!Number.isInteger(value) || value < 0)
      return new Error(`invalid size ${value} (a byte count or "2GB")`);
    return value;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const mult = m ? sizeUnits[(m[2] ?? "").toLowerCase()] : undefined;
  if (!m || mult === undefined) return new Error(`invalid size "${value}" (e.g. "512MiB", "2GB")`);
  return Math.round(Number(m[1]) * mult);
}
