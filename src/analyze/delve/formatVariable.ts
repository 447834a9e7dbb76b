/**
 * One line per Delve value: a Variable tree (service/api Variable) → `main.Fault {Code: 503,
 * Reason: "overload"}`. Types are shown where Go source would spell them (the top value, structs,
 * maps, slices) and left out of collection elements, whose type the container already names; they
 * are spelled as %T does (`url.URL`, not `net/url.URL`). Values Go developers know by their
 * String() read that way (goNotation.ts) unless `raw` asks for the fields.
 */

import { isSecretName } from "../../util/secretNames.js";
import { Kind, type Variable } from "./delveProtocol.js";
import { errorText, quoteBytes, quoteString, shortType, wellKnown } from "./goNotation.js";

export interface FormatOptions {
  /** Mask struct fields whose names look secret (`Password: <redacted>`). */
  redact?: boolean;
  /** Cut the line here (default 400 characters). */
  maxLength?: number;
  /** Delve's fields for every value, without Go's notation of well-known types (time.Time...). */
  raw?: boolean;
}

export const REDACTED = "<redacted>";

export function formatVariable(v: Variable, opts: FormatOptions = {}): string {
  const max = opts.maxLength ?? 400;
  const s = fmt(v, true, { redact: opts.redact ?? false, raw: opts.raw ?? false }, 0);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

const kids = (v: Variable): Variable[] => v.children ?? [];

/** strconv.Quote of a JS string (its UTF-8 bytes). */
export function quoteGo(s: string): string {
  return quoteBytes(Buffer.from(s, "utf8"));
}

interface Mode {
  redact: boolean;
  raw: boolean;
}

function more(n: number): string {
  return n > 0 ? `, ...+${n} more` : "";
}

function fmt(v: Variable, withType: boolean, m: Mode, depth: number): string {
  if (v.unreadable) return `(unreadable ${v.unreadable})`;
  if (depth > 8) return "...";
  const typed = (body: string) => (withType && v.type ? `${shortType(v.type)} ${body}` : body);
  if (!m.raw) {
    const known = wellKnown(v, withType);
    if (known !== null) return known;
    const text = v.kind === Kind.Ptr || v.kind === Kind.Struct ? errorText(v) : null;
    if (text !== null) return `${quoteGo(text)} (${shortType(v.type)})`;
  }
  switch (v.kind) {
    case Kind.String:
      return quoteString(v);
    case Kind.Bool:
    case Kind.Int:
    case Kind.Int8:
    case Kind.Int16:
    case Kind.Int32:
    case Kind.Int64:
    case Kind.Uint:
    case Kind.Uint8:
    case Kind.Uint16:
    case Kind.Uint32:
    case Kind.Uint64:
      // Delve sends uintptr with the Uint kind; addresses read better in hex.
      if (v.type === "uintptr" && /^\d+$/.test(v.value)) return `0x${BigInt(v.value).toString(16)}`;
      return v.value === "" ? `(unknown ${v.type})` : v.value;
    case Kind.Float32:
    case Kind.Float64:
      return v.value === "" ? `(unknown ${v.type})` : v.value;
    case Kind.Uintptr:
      return v.value === "" ? `(unknown ${v.type})` : `0x${BigInt(v.value).toString(16)}`;
    case Kind.Complex64:
    case Kind.Complex128: {
      const [re, im] = kids(v);
      return `(${re?.value ?? "?"} + ${im?.value ?? "?"}i)`;
    }
    case Kind.Ptr:
      return fmtPointer(v, withType, m, depth);
    case Kind.UnsafePointer: {
      const target = kids(v)[0];
      return target && target.addr !== 0
        ? `unsafe.Pointer(0x${target.addr.toString(16)})`
        : "unsafe.Pointer(nil)";
    }
    case Kind.Struct:
      return typed(fmtStruct(v, m, depth));
    case Kind.Interface:
      return fmtInterface(v, m, depth);
    case Kind.Map:
      return typed(fmtMap(v, m, depth));
    case Kind.Slice: {
      if (v.base === 0 && kids(v).length === 0) return typed("nil");
      const head = withType ? `${shortType(v.type)} len: ${v.len}, cap: ${v.cap}, ` : "";
      return `${head}${fmtElems(v, m, depth)}`;
    }
    case Kind.Array:
      return typed(fmtElems(v, m, depth));
    case Kind.Chan: {
      const [qcount, size] = kids(v);
      if (v.base === 0 && v.value === "" && !qcount) return typed("nil");
      return qcount && size ? typed(`${qcount.value}/${size.value}`) : typed(`0x${v.base.toString(16)}`);
    }
    case Kind.Func:
      return v.value === "" ? "nil" : v.value;
    default:
      return v.value || `(${v.type || "unknown"})`;
  }
}

function fmtPointer(v: Variable, withType: boolean, m: Mode, depth: number): string {
  const target = kids(v)[0];
  // Delve sends a nil pointer with value "0" and a zero-address child (or no child).
  if (!target || target.addr === 0 || v.value === "0")
    return withType ? `(${shortType(v.type)})(nil)` : "nil";
  if (target.onlyAddr || (target.kind === Kind.Struct && kids(target).length === 0 && target.len > 0))
    return `(${shortType(v.type)})(0x${target.addr.toString(16)})`;
  return `*${fmt(target, withType, m, depth + 1)}`;
}

function fmtStruct(v: Variable, m: Mode, depth: number): string {
  const fields = kids(v);
  // Past MaxVariableRecurse Delve sends the struct without its fields.
  if (fields.length === 0 && v.len > 0) return "{...}";
  const parts = fields.map(
    (f) =>
      `${f.name}: ${m.redact && isSecretName(f.name) ? REDACTED : fmt(f, f.kind === Kind.Struct, m, depth + 1)}`,
  );
  return `{${parts.join(", ")}${more(v.len - fields.length)}}`;
}

function fmtInterface(v: Variable, m: Mode, depth: number): string {
  const data = kids(v)[0];
  if (!data || (data.kind === Kind.Invalid && data.addr === 0) || v.addr === 0) return "nil";
  // An error reads as its Error() text with the dynamic type after it, as far as the core holds it.
  const text = m.raw ? null : errorText(data);
  if (text !== null) return `${quoteGo(text)} (${shortType(data.type)})`;
  // The dynamic value shows its own type when the static type does not say it.
  const showType = data.kind !== Kind.String && data.kind !== Kind.Bool && !isNumber(data.kind);
  return fmt(data, showType, m, depth + 1);
}

const isNumber = (k: number) => k >= Kind.Int && k <= Kind.Complex128;

function fmtMap(v: Variable, m: Mode, depth: number): string {
  const c = kids(v);
  if (v.base === 0 && c.length === 0) return "nil";
  const parts: string[] = [];
  for (let i = 0; i + 1 < c.length; i += 2) {
    const k = c[i] as Variable;
    const val = c[i + 1] as Variable;
    const secret = m.redact && k.kind === Kind.String && isSecretName(k.value);
    parts.push(`${fmt(k, false, m, depth + 1)}: ${secret ? REDACTED : fmt(val, false, m, depth + 1)}`);
  }
  return `[${parts.join(", ")}${more(v.len - c.length / 2)}]`;
}

function fmtElems(v: Variable, m: Mode, depth: number): string {
  const c = kids(v);
  return `[${c.map((e) => fmt(e, false, m, depth + 1)).join(", ")}${more(v.len - c.length)}]`;
}
