/**
 * One line per Delve value: a Variable tree (service/api Variable) → `main.Fault {Code: 503,
 * Reason: "overload"}`. Types are shown where Go source would spell them (the top value, structs,
 * maps, slices) and left out of collection elements, whose type the container already names.
 */
import { isSecretName } from "../../util/secretNames.js";
import { Kind, type Variable } from "./types.js";

export interface FormatOptions {
  /** Mask struct fields whose names look secret (`Password: <redacted>`). */
  redact?: boolean;
  /** Cut the line here (default 400 characters). */
  maxLength?: number;
}

export const REDACTED = "<redacted>";

export function formatVariable(v: Variable, opts: FormatOptions = {}): string {
  const max = opts.maxLength ?? 400;
  const s = fmt(v, true, opts.redact ?? false, 0);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

const kids = (v: Variable): Variable[] => v.children ?? [];

/** Go-like quoting: JSON escapes are a subset of Go's %q escapes for printable text. */
export function quoteGo(s: string): string {
  return JSON.stringify(s);
}

function more(n: number): string {
  return n > 0 ? `, ...+${n} more` : "";
}

function fmt(v: Variable, withType: boolean, redact: boolean, depth: number): string {
  if (v.unreadable) return `(unreadable ${v.unreadable})`;
  if (depth > 8) return "...";
  const typed = (body: string) => (withType && v.type ? `${v.type} ${body}` : body);
  switch (v.kind) {
    case Kind.String: {
      const shown = quoteGo(v.value);
      const rest = v.len - Buffer.byteLength(v.value);
      return rest > 0 ? `${shown}...+${rest} more` : shown;
    }
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
      return fmtPointer(v, withType, redact, depth);
    case Kind.UnsafePointer: {
      const target = kids(v)[0];
      return target && target.addr !== 0
        ? `unsafe.Pointer(0x${target.addr.toString(16)})`
        : "unsafe.Pointer(nil)";
    }
    case Kind.Struct:
      return typed(fmtStruct(v, redact, depth));
    case Kind.Interface:
      return fmtInterface(v, redact, depth);
    case Kind.Map:
      return typed(fmtMap(v, redact, depth));
    case Kind.Slice: {
      if (v.base === 0 && kids(v).length === 0) return typed("nil");
      const head = withType ? `${v.type} len: ${v.len}, cap: ${v.cap}, ` : "";
      return `${head}${fmtElems(v, redact, depth)}`;
    }
    case Kind.Array:
      return typed(fmtElems(v, redact, depth));
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

function fmtPointer(v: Variable, withType: boolean, redact: boolean, depth: number): string {
  const target = kids(v)[0];
  // Delve sends a nil pointer with value "0" and a zero-address child (or no child).
  if (!target || target.addr === 0 || v.value === "0") return withType ? `(${v.type})(nil)` : "nil";
  if (target.onlyAddr || (target.kind === Kind.Struct && kids(target).length === 0 && target.len > 0))
    return `(${v.type})(0x${target.addr.toString(16)})`;
  return `*${fmt(target, withType, redact, depth + 1)}`;
}

function fmtStruct(v: Variable, redact: boolean, depth: number): string {
  const fields = kids(v);
  // Past MaxVariableRecurse Delve sends the struct without its fields.
  if (fields.length === 0 && v.len > 0) return "{...}";
  const parts = fields.map(
    (f) =>
      `${f.name}: ${redact && isSecretName(f.name) ? REDACTED : fmt(f, f.kind === Kind.Struct, redact, depth + 1)}`,
  );
  return `{${parts.join(", ")}${more(v.len - fields.length)}}`;
}

function fmtInterface(v: Variable, redact: boolean, depth: number): string {
  const data = kids(v)[0];
  if (!data || (data.kind === Kind.Invalid && data.addr === 0) || v.addr === 0) return "nil";
  // The dynamic value shows its own type when the static type does not say it.
  const showType = data.kind !== Kind.String && data.kind !== Kind.Bool && !isNumber(data.kind);
  return fmt(data, showType, redact, depth + 1);
}

const isNumber = (k: number) => k >= Kind.Int && k <= Kind.Complex128;

function fmtMap(v: Variable, redact: boolean, depth: number): string {
  const c = kids(v);
  if (v.base === 0 && c.length === 0) return "nil";
  const parts: string[] = [];
  for (let i = 0; i + 1 < c.length; i += 2) {
    const k = c[i] as Variable;
    const val = c[i + 1] as Variable;
    const secret = redact && k.kind === Kind.String && isSecretName(k.value);
    parts.push(
      `${fmt(k, false, redact, depth + 1)}: ${secret ? REDACTED : fmt(val, false, redact, depth + 1)}`,
    );
  }
  return `[${parts.join(", ")}${more(v.len - c.length / 2)}]`;
}

function fmtElems(v: Variable, redact: boolean, depth: number): string {
  const c = kids(v);
  return `[${c.map((e) => fmt(e, false, redact, depth + 1)).join(", ")}${more(v.len - c.length)}]`;
}
