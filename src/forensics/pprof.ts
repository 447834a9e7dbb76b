/**
 * A reader for Go's CPU profiles (the gzipped protobuf that net/http/pprof serves), reduced to what
 * a flame graph needs: each sample's stack of function names and its values.
 *
 * Decoded here rather than through `go tool pprof -raw`: profile.proto is a stable, documented
 * format, while -raw is a debugging printout with no promise of stability, and the service's host
 * need not have a Go toolchain. Go's runtime symbolises the profile itself (the Function table
 * carries names), so no binary is needed to name frames.
 *
 * Field numbers mirror github.com/google/pprof proto/profile.proto (Profile, Sample, Location,
 * Line, Function, ValueType), keeping the upstream names.
 */
import { gunzipSync } from "node:zlib";
import { HotdumpError } from "../errors.js";

interface ValueType {
  type: string;
  unit: string;
}

interface ProfileSample {
  /** Function names, root first (the caller of everything at [0], the sampled frame last). */
  stack: string[];
  values: number[];
}

interface DecodedProfile {
  sampleTypes: ValueType[];
  periodType: ValueType | null;
  period: number;
  durationNanos: number;
  timeNanos: number;
  samples: ProfileSample[];
}

const badProfile = (why: string, cause?: unknown) =>
  new HotdumpError("forensics", "E_PROFILE_BAD", `not a pprof profile: ${why}`, {
    ...(cause ? { cause } : {}),
  });

/** Minimal protobuf wire reader: varints as numbers (ids and counts stay far below 2^53). */
class Reader {
  pos = 0;
  constructor(
    private readonly buf: Buffer,
    readonly end = buf.length,
  ) {}

  get done(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw badProfile("truncated varint");
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    throw badProfile("varint longer than 10 bytes");
  }

  bigVarint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw badProfile("truncated varint");
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return result;
      shift += 7n;
    }
    throw badProfile("varint longer than 10 bytes");
  }

  /** The bytes of a length-delimited field as a sub-reader. */
  sub(): Reader {
    const len = this.varint();
    const start = this.pos;
    if (start + len > this.end) throw badProfile("field runs past the end");
    this.pos += len;
    const r = new Reader(this.buf, start + len);
    r.pos = start;
    return r;
  }

  string(): string {
    const r = this.sub();
    return this.buf.toString("utf8", r.pos, r.end);
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.sub();
    else if (wire === 5) this.pos += 4;
    else throw badProfile(`unsupported wire type ${wire}`);
    if (this.pos > this.end) throw badProfile("field runs past the end");
  }

  /** An int64 field; a field of an unexpected wire type is skipped and reads as 0. */
  scalar(wire: number): number {
    if (wire === 0) return this.varint();
    this.skip(wire);
    return 0;
  }

  /** A repeated scalar field: packed (wire 2) or one value per tag (wire 0). */
  repeated(wire: number, into: number[]): void {
    if (wire === 2) {
      const r = this.sub();
      while (!r.done) into.push(r.varint());
    } else into.push(this.varint());
  }
}

function* fields(r: Reader): Generator<{ field: number; wire: number }> {
  while (!r.done) {
    const key = r.varint();
    yield { field: Math.floor(key / 8), wire: key & 7 };
  }
}

interface RawValueType {
  type: number;
  unit: number;
}

function readValueType(r: Reader): RawValueType {
  const v = { type: 0, unit: 0 };
  for (const { field, wire } of fields(r)) {
    if (field === 1 && wire === 0) v.type = r.varint();
    else if (field === 2 && wire === 0) v.unit = r.varint();
    else r.skip(wire);
  }
  return v;
}

export function decodeProfile(data: Buffer): DecodedProfile {
  let raw = data;
  if (data[0] === 0x1f && data[1] === 0x8b) {
    try {
      raw = gunzipSync(data);
    } catch (cause) {
      throw badProfile("bad gzip stream", cause);
    }
  }
  const strings: string[] = [];
  const sampleTypes: RawValueType[] = [];
  let periodType: RawValueType | null = null;
  const rawSamples: { locs: number[]; values: number[] }[] = [];
  const locations = new Map<number, { address: bigint; functions: number[] }>();
  const functions = new Map<number, number>();
  let period = 0;
  let durationNanos = 0;
  let timeNanos = 0;

  const top = new Reader(raw);
  for (const { field, wire } of fields(top)) {
    switch (field) {
      case 1:
        sampleTypes.push(readValueType(top.sub()));
        break;
      case 2: {
        const r = top.sub();
        const s = { locs: [] as number[], values: [] as number[] };
        for (const f of fields(r)) {
          if (f.field === 1) r.repeated(f.wire, s.locs);
          else if (f.field === 2) r.repeated(f.wire, s.values);
          else r.skip(f.wire);
        }
        rawSamples.push(s);
        break;
      }
      case 4: {
        const r = top.sub();
        const loc = { id: 0, address: 0n, functions: [] as number[] };
        for (const f of fields(r)) {
          if (f.field === 1 && f.wire === 0) loc.id = r.varint();
          else if (f.field === 3 && f.wire === 0) loc.address = r.bigVarint();
          else if (f.field === 4 && f.wire === 2) {
            const line = r.sub();
            for (const lf of fields(line)) {
              if (lf.field === 1 && lf.wire === 0) loc.functions.push(line.varint());
              else line.skip(lf.wire);
            }
          } else r.skip(f.wire);
        }
        locations.set(loc.id, loc);
        break;
      }
      case 5: {
        const r = top.sub();
        let id = 0;
        let name = 0;
        for (const f of fields(r)) {
          if (f.field === 1 && f.wire === 0) id = r.varint();
          else if (f.field === 2 && f.wire === 0) name = r.varint();
          else r.skip(f.wire);
        }
        functions.set(id, name);
        break;
      }
      case 6:
        if (wire !== 2) throw badProfile("string table entry is not a string");
        strings.push(top.string());
        break;
      case 9:
        timeNanos = top.scalar(wire);
        break;
      case 10:
        durationNanos = top.scalar(wire);
        break;
      case 11:
        periodType = readValueType(top.sub());
        break;
      case 12:
        period = top.scalar(wire);
        break;
      default:
        top.skip(wire);
    }
  }
  if (strings[0] !== "") throw badProfile("the string table does not start with the empty string");
  const str = (i: number) => strings[i] ?? `?${i}`;
  const vt = (v: RawValueType): ValueType => ({ type: str(v.type), unit: str(v.unit) });

  const samples = rawSamples.map((s) => {
    const leafFirst: string[] = [];
    for (const id of s.locs) {
      const loc = locations.get(id);
      if (!loc) {
        leafFirst.push(`[location ${id}]`);
        continue;
      }
      // Line[0] is the innermost inlined call, the last line the function it was inlined into.
      if (loc.functions.length === 0) leafFirst.push(`0x${loc.address.toString(16)}`);
      for (const fid of loc.functions) leafFirst.push(str(functions.get(fid) ?? -1));
    }
    return { stack: leafFirst.reverse(), values: s.values };
  });
  return {
    sampleTypes: sampleTypes.map(vt),
    periodType: periodType ? vt(periodType) : null,
    period,
    durationNanos,
    timeNanos,
    samples,
  };
}

/** Which value of a sample counts samples: "samples" when present (CPU profiles), else the first. */
export function sampleCountIndex(p: DecodedProfile): number {
  const i = p.sampleTypes.findIndex((t) => t.type === "samples");
  return Math.max(i, 0);
}
