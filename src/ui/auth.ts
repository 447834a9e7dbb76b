/**
 * Who may talk to the dashboard. Cores and reports hold secrets (Delve reads a crashed frame's
 * locals from the core: test/delve.test.ts gets `secret="tok-12345"` back from the dlvcrash
 * fixture's core), so:
 * - bound to loopback, requests must also name a loopback Host (a DNS-rebinding page on another
 *   origin cannot pass it, because its Host header is its own domain name);
 * - with a token, every request needs it: `Authorization: Bearer T`, or `?token=T` once, which
 *   sets an HttpOnly SameSite=Strict cookie (EventSource cannot send headers).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";

export const COOKIE = "hotdump_ui";
const TOKEN_RE = /^[A-Za-z0-9._-]{16,256}$/;

export const isValidToken = (t: string) => TOKEN_RE.test(t);

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

export function cookieValue(req: IncomingMessage, name: string): string | null {
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
