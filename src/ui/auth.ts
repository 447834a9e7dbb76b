/**
 * Who may talk to the dashboard. Cores and reports hold secrets (Delve reads a crashed frame's
 * locals from the core: test/delve.test.ts gets `secret="tok-12345"` back from the dlvcrash
 * fixture's core), so:
 * - bound to loopback, requests must also name a loopback Host (a DNS-rebinding page on another
 *   origin cannot pass it, because its Host header is its own domain name);
 * - every request needs the token, also on loopback (any local user can reach 127.0.0.1; the
 *   store is 0700, and the dashboard must not be the way around that, as Jupyter decided):
 *   `Authorization: Bearer T`, or `?token=T` once, which sets an HttpOnly SameSite=Strict cookie
 *   (EventSource cannot send headers);
 * - the token is random (192 bits) unless given by --token-file or HOTDUMP_UI_TOKEN, never argv
 *   (every user sees argv in ps); a given one must carry at least 128 bits.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { closeSync, constants as fsc, fstatSync, openSync, readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";
import { uiBadToken, uiTokenFile } from "./errors.js";

const COOKIE = "hotdump_ui";
const TOKEN_RE = /^[A-Za-z0-9._-]{16,256}$/;
const MIN_TOKEN_BITS = 128;

/**
 * A generous estimate of a token's bits: its length times log2 of the alphabet its character
 * classes span (hex, digits, letters, base64url), and nothing for a token that is mostly one
 * character or a repeated pattern. `openssl rand -hex 16` (128 bits) passes; 16 of one letter
 * (accepted before) does not.
 */
function tokenBits(t: string): number {
  let alphabet = 0;
  if (/^[0-9a-f]+$/.test(t) || /^[0-9A-F]+$/.test(t)) alphabet = /^[0-9]+$/.test(t) ? 10 : 16;
  else {
    if (/[a-z]/.test(t)) alphabet += 26;
    if (/[A-Z]/.test(t)) alphabet += 26;
    if (/[0-9]/.test(t)) alphabet += 10;
    if (/[._-]/.test(t)) alphabet += 3;
  }
  const distinct = new Set(t).size;
  if (distinct < Math.min(alphabet, t.length) / 4 || /^(.+?)\1+$/.test(t)) return 0;
  return t.length * Math.log2(Math.max(alphabet, 2));
}

export const isValidToken = (t: string) => TOKEN_RE.test(t) && tokenBits(t) >= MIN_TOKEN_BITS;

export const generateToken = () => randomBytes(24).toString("base64url");

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "");
  if (h === "localhost") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1";
  return false;
}

/** The hostname of a Host header (`127.0.0.1:7070`, `[::1]:7070`, `localhost`). */
export function hostHeaderName(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(header.trim());
  return m ? m[1]!.toLowerCase() : null;
}

const digest = (s: string) => createHash("sha256").update(s).digest();

function sameToken(given: string, expected: string): boolean {
  // Compare digests so the comparison is constant-time whatever the lengths.
  return timingSafeEqual(digest(given), digest(expected));
}

function cookieValue(req: IncomingMessage, name: string): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return null;
}

export type AuthResult = { ok: true; viaQuery: boolean } | { ok: false };

export function checkToken(req: IncomingMessage, url: URL, token: string): AuthResult {
  const auth = req.headers.authorization;
  if (auth?.startsWith("Bearer ") && sameToken(auth.slice(7).trim(), token))
    return { ok: true, viaQuery: false };
  const cookie = cookieValue(req, COOKIE);
  if (cookie !== null && sameToken(cookie, token)) return { ok: true, viaQuery: false };
  const q = url.searchParams.get("token");
  if (q !== null && sameToken(q, token)) return { ok: true, viaQuery: true };
  return { ok: false };
}

export const tokenCookie = (token: string) => `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`;

export const TOKEN_ENV = "HOTDUMP_UI_TOKEN";

/**
 * The token a dashboard asks for: from --token-file (a file only its owner can read, like an ssh
 * key), else $HOTDUMP_UI_TOKEN, else undefined (the server generates one). Either way out of argv.
 */
export function resolveUiToken(
  tokenFile: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  let token: string | undefined;
  if (tokenFile !== undefined) token = readTokenFile(tokenFile);
  else if (env[TOKEN_ENV]) token = env[TOKEN_ENV];
  if (token !== undefined && !isValidToken(token)) throw uiBadToken();
  return token;
}

function readTokenFile(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (e) {
    throw uiTokenFile(path, (e as NodeJS.ErrnoException).code ?? String(e));
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw uiTokenFile(path, "not a regular file");
    const uid = process.getuid?.() ?? 0;
    if (st.uid !== uid && st.uid !== 0) throw uiTokenFile(path, `owned by uid ${st.uid}, not by you`);
    if ((st.mode & 0o077) !== 0)
      throw uiTokenFile(path, `mode ${(st.mode & 0o777).toString(8)} lets others read it: chmod 600 ${path}`);
    return readFileSync(fd, "utf8").trim();
  } finally {
    closeSync(fd);
  }
}
