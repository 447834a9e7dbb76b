/**
 * The Go build information blob (.go.buildinfo), the data `go version -m` prints.
 * Layout of Go 1.18+ (src/debug/buildinfo/buildinfo.go and cmd/link, go1.26): a 32-byte header
 * "\xff Go buildinf:" + pointer size + flags; flag bit 1 ("version inline") means the Go version
 * and the module text follow as two uvarint-length-prefixed strings. Older binaries (flag clear)
 * hold pointers to the strings instead; those are reported as unknown rather than chased.
 */

const BUILDINFO_MAGIC = Buffer.from("\xff Go buildinf:", "latin1");
const FLAG_BIG_ENDIAN = 0x1;
const FLAG_VERSION_INLINE = 0x2;

export interface GoBuildInfo {
  goVersion: string;
  /** `path` line: the main package's import path. */
  mainPath: string | null;
  /** `mod` line: the main module's path. */
  modulePath: string | null;
  /** `build` lines, e.g. {"-ldflags": "...", GOARCH: "amd64", "vcs.revision": "..."}. */
  settings: Record<string, string>;
}

function uvarint(b: Buffer, at: number): [value: number, next: number] | null {
  let v = 0;
  let mul = 1;
  for (let i = at; i < b.length && i < at + 9; i++) {
    const byte = b[i]!;
    v += (byte & 0x7f) * mul;
    if (byte < 0x80) return Number.isSafeInteger(v) ? [v, i + 1] : null;
    mul *= 128;
  }
  return null;
}

function lengthPrefixed(b: Buffer, at: number): [text: string, next: number] | null {
  const n = uvarint(b, at);
  if (!n) return null;
  const [len, start] = n;
  if (start + len > b.length) return null;
  return [b.toString("utf8", start, start + len), start + len];
}

/** Decode the blob starting at `b[0]` (the magic); null when it is absent or not inline. */
export function parseGoBuildInfo(b: Buffer): GoBuildInfo | null {
  if (b.length < 32 || !b.subarray(0, BUILDINFO_MAGIC.length).equals(BUILDINFO_MAGIC)) return null;
  const flags = b[15]!;
  if (!(flags & FLAG_VERSION_INLINE) || flags & FLAG_BIG_ENDIAN) return null;
  const ver = lengthPrefixed(b, 32);
  if (!ver) return null;
  const mod = lengthPrefixed(b, ver[1]);
  const info: GoBuildInfo = { goVersion: ver[0], mainPath: null, modulePath: null, settings: {} };
  if (!mod) return info;
  let text = mod[0];
  // cmd/go wraps the module text in two 16-byte sentinels; the tail one is preceded by "\n".
  if (text.length >= 33 && text[text.length - 17] === "\n") text = text.slice(16, -16);
  for (const line of text.split("\n")) {
    const [kind, a] = line.split("\t");
    if (kind === "path" && a !== undefined) info.mainPath = a;
    else if (kind === "mod" && a !== undefined) info.modulePath = a;
    else if (kind === "build" && a !== undefined) {
      // key=value; cmd/go quotes a value holding spaces (e.g. -ldflags="-s -w") and we keep the quotes.
      const eq = a.indexOf("=");
      if (eq > 0) info.settings[a.slice(0, eq)] = a.slice(eq + 1);
    }
  }
  return info;
}

/** Find the blob in a data area: the linker aligns it to 16 bytes. */
export function findGoBuildInfo(area: Buffer): GoBuildInfo | null {
  for (let at = area.indexOf(BUILDINFO_MAGIC); at !== -1; at = area.indexOf(BUILDINFO_MAGIC, at + 1)) {
    if (at % 16 === 0) {
      const info = parseGoBuildInfo(area.subarray(at));
      if (info) return info;
    }
  }
  return null;
}
