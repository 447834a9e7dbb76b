/**
 * Go's own notation for the values a Go developer knows by sight: a time.Time as its String(), a
 * time.Duration as `1.5s`, strings as %q quotes them, []byte as a byte string, an error as its
 * Error() text where the core holds it, net.IP, url.URL, big.Int and json.RawMessage as their
 * String(). Delve sends these as their fields (service/api Variable); the fields stay available
 * one level down (Variable.raw in the report, `eval --json`).
 *
 * Only memory is read, never a method called: an Error() text is rebuilt for the error types whose
 * text is a field (errors.errorString, fmt.wrapError...) and left to the fields otherwise.
 */
import { Kind, type Variable } from "./delveProtocol.js";

const kids = (v: Variable): Variable[] => v.children ?? [];
const field = (v: Variable | undefined, name: string) => v?.children?.find((c) => c.name === name);

/** `net/url.URL` → `url.URL`, `*example.com/widget.Thing` → `*widget.Thing`: how %T spells a type. */
export function shortType(t: string): string {
  return t.replace(/(?:[\w.-]+\/)+(\w+\.)/g, "$1");
}

/** The bytes of a string value: Delve sends invalid UTF-8 also as StringValueBytes (base64). */
function stringBytes(v: Variable): Buffer {
  return v.StringValueBytes ? Buffer.from(v.StringValueBytes, "base64") : Buffer.from(v.value, "utf8");
}

/** Go's unicode.IsPrint, as far as Unicode property escapes spell it (letters, marks, numbers, punctuation, symbols, ASCII space). */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const ESCAPES: Record<number, string> = {
  7: "\\a",
  8: "\\b",
  12: "\\f",
  10: "\\n",
  13: "\\r",
  9: "\\t",
  11: "\\v",
};

/**
 * strconv.Quote over bytes: printable runes as they are, the C escapes, other control bytes and
 * every byte of invalid UTF-8 as `\xNN`, other non-printable runes as `\uNNNN`/`\UNNNNNNNN`.
 */
export function quoteBytes(b: Uint8Array): string {
  let out = '"';
  let i = 0;
  while (i < b.length) {
    const [rune, width] = decodeRune(b, i);
    if (rune < 0) {
      out += `\\x${(b[i] as number).toString(16).padStart(2, "0")}`;
      i++;
      continue;
    }
    i += width;
    if (rune === 0x22) out += '\\"';
    else if (rune === 0x5c) out += "\\\\";
    else if (PRINTABLE.test(String.fromCodePoint(rune))) out += String.fromCodePoint(rune);
    else if (ESCAPES[rune]) out += ESCAPES[rune];
    else if (rune < 0x20 || rune === 0x7f) out += `\\x${rune.toString(16).padStart(2, "0")}`;
    else if (rune < 0x10000) out += `\\u${rune.toString(16).padStart(4, "0")}`;
    else out += `\\U${rune.toString(16).padStart(8, "0")}`;
  }
  return `${out}"`;
}

/** One UTF-8 rune at b[i]: [rune, width], rune -1 when the bytes there are not valid UTF-8. */
function decodeRune(b: Uint8Array, i: number): [number, number] {
  const c0 = b[i] as number;
  if (c0 < 0x80) return [c0, 1];
  const n = c0 >= 0xf0 && c0 <= 0xf4 ? 4 : c0 >= 0xe0 ? (c0 < 0xf0 ? 3 : 0) : c0 >= 0xc2 ? 2 : 0;
  if (n === 0 || i + n > b.length) return [-1, 1];
  let r = c0 & (0xff >> (n + 1));
  for (let k = 1; k < n; k++) {
    const c = b[i + k] as number;
    if ((c & 0xc0) !== 0x80) return [-1, 1];
    r = (r << 6) | (c & 0x3f);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid (unicode/utf8.DecodeRune).
  const min = [0, 0, 0x80, 0x800, 0x10000][n] as number;
  if (r < min || r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff)) return [-1, 1];
  return [r, n];
}

/** `"abc"`, with `...+N more` when Delve cut the string at MaxStringLen. */
export function quoteString(v: Variable): string {
  const b = stringBytes(v);
  const rest = v.len - b.length;
  return rest > 0 ? `${quoteBytes(b)}...+${rest} more` : quoteBytes(b);
}

/** time.Duration.String(): `1.5s`, `2m0s`, `150ms`, `0s` (time/time.go). */
export function durationString(ns: bigint): string {
  if (ns === 0n) return "0s";
  const neg = ns < 0n;
  let u = neg ? -ns : ns;
  const sign = neg ? "-" : "";
  const frac = (v: bigint, digits: number) => {
    const s = v.toString().padStart(digits, "0").replace(/0+$/, "");
    return s ? `.${s}` : "";
  };
  if (u < 1_000_000_000n) {
    if (u < 1000n) return `${sign}${u}ns`;
    if (u < 1_000_000n) return `${sign}${u / 1000n}${frac(u % 1000n, 3)}µs`;
    return `${sign}${u / 1_000_000n}${frac(u % 1_000_000n, 6)}ms`;
  }
  const nanos = u % 1_000_000_000n;
  u /= 1_000_000_000n;
  const secs = `${u % 60n}${frac(nanos, 9)}s`;
  if (u < 60n) return `${sign}${secs}`;
  const mins = (u / 60n) % 60n;
  const hours = u / 3600n;
  return hours > 0n ? `${sign}${hours}h${mins}m${secs}` : `${sign}${mins}m${secs}`;
}

// time/time.go: seconds from year 1 to 1970, and from year 1 to 1885 (the wall clock's base).
const UNIX_TO_INTERNAL = 62_135_596_800n;
const WALL_TO_INTERNAL = 59_453_308_800n;
const HAS_MONOTONIC = 1n << 63n;

/**
 * time.Time.String(): `2026-03-01 10:30:00.5 +0100 CET`, with ` m=+0.001` when it carries a
 * monotonic reading. Seconds and nanoseconds come from wall/ext (time.go's encoding); the offset
 * from Delve's own rendering of the value (it applies the Location's zone transitions), the zone's
 * abbreviation from the loaded Location. Null when the fields are not there.
 */
export function timeString(v: Variable): string | null {
  const wallV = field(v, "wall");
  const extV = field(v, "ext");
  if (!wallV || !extV || wallV.unreadable || extV.unreadable || !/^\d+$/.test(wallV.value)) return null;
  const wall = BigInt(wallV.value);
  const ext = BigInt(extV.value);
  const nsec = Number(wall & ((1n << 30n) - 1n));
  const mono = (wall & HAS_MONOTONIC) !== 0n;
  const internal = mono ? WALL_TO_INTERNAL + ((wall << 1n) & ((1n << 64n) - 1n)) / (1n << 31n) : ext;
  const unix = internal - UNIX_TO_INTERNAL;
  const loc = field(v, "loc");
  const offset = zoneOffset(v.value, loc);
  if (offset === null) return null;
  const d = new Date(Number((unix + BigInt(offset)) * 1000n));
  if (Number.isNaN(d.getTime())) return null;
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const fraction = nsec ? `.${p(nsec, 9).replace(/0+$/, "")}` : "";
  const off = `${offset < 0 ? "-" : "+"}${p(Math.floor(Math.abs(offset) / 3600))}${p(Math.floor((Math.abs(offset) % 3600) / 60))}`;
  const date = `${p(d.getUTCFullYear(), 4)}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}`;
  const clock = `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}${fraction}`;
  const m = mono ? ` m=${ext < 0n ? "-" : "+"}${(Number(ext < 0n ? -ext : ext) / 1e9).toFixed(9)}` : "";
  return `${date} ${clock} ${off} ${zoneName(loc, offset) ?? off}${m}`;
}

/** The offset in seconds: 0 for a nil Location (UTC), else read from Delve's RFC 3339 value. */
function zoneOffset(rendered: string, loc: Variable | undefined): number | null {
  if (!loc || loc.value === "0" || kids(loc)[0]?.addr === 0) return 0;
  const m = /(Z|([+-])(\d\d):(\d\d))$/.exec(rendered);
  if (!m) return null;
  if (m[1] === "Z") return 0;
  return (m[2] === "-" ? -1 : 1) * (Number(m[3]) * 3600 + Number(m[4]) * 60);
}

/** CET, UTC...: the loaded zone with this offset, else the Location's own name. */
function zoneName(loc: Variable | undefined, offset: number): string | null {
  const l = loc && loc.value !== "0" ? kids(loc)[0] : undefined;
  if (!l) return "UTC";
  const zones = kids(field(l, "zone") ?? ({} as Variable));
  const z = zones.find((z) => field(z, "offset")?.value === String(offset) && field(z, "name")?.value);
  if (z) return field(z, "name")?.value ?? null;
  const name = field(l, "name")?.value;
  return name && name !== "Local" ? name : null;
}

/** The Error() text of the error types whose text sits in their fields. */
export function errorText(v: Variable, depth = 0): string | null {
  if (depth > 6 || v.unreadable) return null;
  if (v.kind === Kind.Interface) {
    const data = kids(v)[0];
    return data ? errorText(data, depth + 1) : null;
  }
  const body = v.kind === Kind.Ptr ? kids(v)[0] : v;
  if (!body || body.unreadable) return null;
  const t = shortType(body.type);
  const str = (name: string) => {
    const f = field(body, name);
    return f?.kind === Kind.String && !f.unreadable && f.len === stringBytes(f).length
      ? stringBytes(f).toString("utf8")
      : null;
  };
  switch (t) {
    // runtime/error.go: errorString and errorAddressString print with "runtime error: ".
    case "runtime.errorString":
      return body.kind === Kind.String ? `runtime error: ${body.value}` : null;
    case "runtime.errorAddressString": {
      const m = str("msg");
      return m === null ? null : `runtime error: ${m}`;
    }
    case "runtime.plainError":
      return body.kind === Kind.String ? body.value : null;
    case "errors.errorString":
      return str("s");
    case "fmt.wrapError":
    case "fmt.wrapErrors":
      return str("msg");
    case "errors.joinError": {
      const errs = field(body, "errs");
      const parts = kids(errs ?? ({} as Variable)).map((e) => errorText(e, depth + 1));
      return errs && parts.length === errs.len && parts.every((p) => p !== null) ? parts.join("\n") : null;
    }
    case "fs.PathError":
    case "os.LinkError": {
      const inner = field(body, "Err");
      const why = inner ? errorText(inner, depth + 1) : null;
      if (t === "os.LinkError")
        return why === null ? null : `${str("Op")} ${str("Old")} ${str("New")}: ${why}`;
      return why === null ? null : `${str("Op")} ${str("Path")}: ${why}`;
    }
    case "syscall.Errno":
      return ERRNO[Number(body.value)] ?? `errno ${body.value}`;
    case "context.deadlineExceededError":
      return "context deadline exceeded";
    default:
      return null;
  }
}

/** syscall/zerrors_linux_amd64.go's texts of the errnos a service meets. */
const ERRNO: Record<number, string> = {
  1: "operation not permitted",
  2: "no such file or directory",
  4: "interrupted system call",
  5: "input/output error",
  9: "bad file descriptor",
  11: "resource temporarily unavailable",
  12: "cannot allocate memory",
  13: "permission denied",
  17: "file exists",
  20: "not a directory",
  21: "is a directory",
  22: "invalid argument",
  24: "too many open files",
  28: "no space left on device",
  32: "broken pipe",
  98: "address already in use",
  99: "cannot assign requested address",
  104: "connection reset by peer",
  110: "connection timed out",
  111: "connection refused",
  113: "no route to host",
};

/** The bytes of a []byte-like slice as loaded (null when an element is missing or unreadable). */
function sliceBytes(v: Variable): Buffer | null {
  const c = kids(v);
  if (c.some((e) => e.unreadable || !/^\d+$/.test(e.value))) return null;
  return Buffer.from(c.map((e) => Number(e.value)));
}

/** net.IP.String(): dotted IPv4 (also IPv4-in-IPv6), RFC 5952 IPv6. */
export function ipString(b: Buffer): string | null {
  if (b.length === 4) return [...b].join(".");
  if (b.length !== 16) return null;
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff)
    return [...b.subarray(12)].join(".");
  const words = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2));
  // The longest run of two or more zero words becomes `::` (the first one on a tie).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}

/** url.URL.Redacted(): the URL as String() prints it, a password shown as xxxxx. */
function urlString(body: Variable): string | null {
  const s = (name: string) => {
    const f = field(body, name);
    return f?.kind === Kind.String && !f.unreadable ? stringBytes(f).toString("utf8") : null;
  };
  const scheme = s("Scheme");
  const host = s("Host");
  const path = s("RawPath") || s("Path");
  if (scheme === null || host === null || path === null) return null;
  const opaque = s("Opaque");
  let out = scheme ? `${scheme}:` : "";
  if (opaque) out += opaque;
  else {
    const userPtr = field(body, "User");
    const user = userPtr && userPtr.value !== "0" ? kids(userPtr)[0] : undefined;
    let userinfo = "";
    if (user && user.addr !== 0) {
      const name = field(user, "username")?.value ?? "";
      userinfo = `${name}${field(user, "passwordSet")?.value === "true" ? ":xxxxx" : ""}@`;
    }
    if (scheme || host || userinfo) out += `//${userinfo}${host}`;
    if (path && !path.startsWith("/") && (host || userinfo)) out += "/";
    out += path;
  }
  if (field(body, "ForceQuery")?.value === "true" || s("RawQuery")) out += `?${s("RawQuery") ?? ""}`;
  const fragment = s("RawFragment") || s("Fragment");
  if (fragment) out += `#${fragment}`;
  return out;
}

/** big.Int.String(): the decimal value of its little-endian 64-bit words. */
function bigIntString(body: Variable): string | null {
  const abs = field(body, "abs");
  if (!abs) return null;
  const words = kids(abs);
  if (words.length !== abs.len || words.some((w) => !/^\d+$/.test(w.value))) return null;
  let n = 0n;
  for (let i = words.length - 1; i >= 0; i--) n = (n << 64n) | BigInt((words[i] as Variable).value);
  return `${field(body, "neg")?.value === "true" && n !== 0n ? "-" : ""}${n}`;
}

/**
 * The well-known value as Go prints it, or null to print the fields. `typed` is whether the type
 * is to be named (the top value, a struct field).
 */
export function wellKnown(v: Variable, typed: boolean): string | null {
  const t = shortType(v.type);
  switch (t) {
    case "time.Time": {
      const s = timeString(v);
      return s === null ? null : typed ? `time.Time(${s})` : s;
    }
    case "time.Duration":
      return /^-?\d+$/.test(v.value) ? durationString(BigInt(v.value)) : null;
    case "net.IP": {
      if (v.base === 0 && kids(v).length === 0) return typed ? "net.IP(nil)" : "nil";
      const b = kids(v).length === v.len ? sliceBytes(v) : null;
      const ip = b ? ipString(b) : null;
      return ip === null ? null : typed ? `net.IP(${ip})` : ip;
    }
    case "json.RawMessage": {
      const b = sliceBytes(v);
      if (!b) return null;
      const rest = v.len - b.length;
      return `json.RawMessage(${b.toString("utf8")}${rest > 0 ? `...+${rest} more` : ""})`;
    }
    case "*url.URL":
    case "url.URL": {
      const body = t === "url.URL" ? v : kids(v)[0];
      if (!body || body.addr === 0 || v.value === "0") return null;
      const u = urlString(body);
      return u === null ? null : `${typed ? t : "url.URL"}(${u})`;
    }
    case "*big.Int":
    case "big.Int": {
      const body = t === "big.Int" ? v : kids(v)[0];
      if (!body || body.addr === 0 || v.value === "0") return null;
      const n = bigIntString(body);
      return n === null ? null : typed ? `${t}(${n})` : n;
    }
    default:
      break;
  }
  if ((v.kind === Kind.Slice || v.kind === Kind.Array) && /^(\[\d*\])(uint8|byte)$/.test(t)) {
    if (v.kind === Kind.Slice && v.base === 0 && kids(v).length === 0) return typed ? `${t}(nil)` : "nil";
    const b = sliceBytes(v);
    if (!b) return null;
    const rest = v.len - b.length;
    const shown = `${quoteBytes(b)}${rest > 0 ? `...+${rest} more` : ""}`;
    return `${t.replace("uint8", "byte")}(${shown})`;
  }
  return null;
}
