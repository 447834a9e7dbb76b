/**
 * systemd's notify protocol over a real UNIX datagram socket (koffi): what go-systemd's SdNotify
 * sends arrives parsed, READY=1 resolves readiness, and hotdump tells its own manager.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { netsys } from "./netsys.js";
import {
  type NotifyMessage,
  type NotifySocket,
  openNotifySocket,
  parseNotify,
  tellManager,
} from "./notify.js";

let dir: string | undefined;
let sock: NotifySocket | undefined;
afterEach(() => {
  sock?.close();
  sock = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("notify", () => {
  it("parses KEY=VALUE lines as sd_notify(3) sends them", () => {
    expect([...parseNotify("READY=1\nSTATUS=warming up\n\nbogus")]).toEqual([
      ["READY", "1"],
      ["STATUS", "warming up"],
    ]);
  });

  it.skipIf(!netsys())(
    "a datagram to NOTIFY_SOCKET arrives; READY=1 resolves readiness; tellManager sends",
    async () => {
      dir = mkdtempSync(join(tmpdir(), "hotdump-notify-"));
      sock = openNotifySocket(join(dir, "notify"), "g1.1.sock");
      const got: NotifyMessage[] = [];
      sock.on((m) => got.push(m));
      const env = { NOTIFY_SOCKET: sock.path };
      expect(tellManager("STATUS=starting", env)).toBe(true);
      expect(tellManager("READY=1\nSTATUS=serving", env)).toBe(true);
      await sock.ready;
      await new Promise((r) => setTimeout(r, 20));
      expect(got.map((m) => m.get("STATUS"))).toEqual(["starting", "serving"]);
      // Nothing to tell without a manager; a socket that is gone is a false, not a throw.
      expect(tellManager("READY=1", {})).toBe(false);
      expect(tellManager("READY=1", { NOTIFY_SOCKET: join(dir, "missing.sock") })).toBe(false);
    },
  );

  it.skipIf(!netsys())("a path too long for sun_path goes to a private temporary directory", () => {
    dir = mkdtempSync(join(tmpdir(), "hotdump-notify-"));
    const deep = join(dir, "x".repeat(90));
    sock = openNotifySocket(deep, "g1.1.sock");
    expect(Buffer.byteLength(sock.path)).toBeLessThanOrEqual(107);
    expect(sock.path).toMatch(/hotdump-notify-.*\/g1\.1\.sock$/);
  });
});
