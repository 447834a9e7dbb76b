/**
 * `hotdump dev`'s store does not balloon (issue 20): after several edits only the binaries of the
 * serving generation, the one before it and every generation with a crash are left, and `history`
 * still lists every generation with its SHA-256. Also: a program that panics the moment it starts
 * (it starts before its binary is hashed) is reported with its generation's exact SHA-256.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../src/supervise/probe.js";
import { runCli } from "./helpers/cli.js";
import { type Supervised, startSupervised } from "./helpers/supervised.js";

const service = (port: number, body: string, extra = "") => `package main

import (
	"fmt"
	"net/http"
)

func main() {
	${extra}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "${body}") })
	http.ListenAndServe("127.0.0.1:${port}", nil)
}
`;

let sup: Supervised | undefined;
let dir: string | undefined;
afterEach(async () => {
  await sup?.stop("SIGKILL");
  sup = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("hotdump dev's store", () => {
  it("keeps only the serving, previous and crashed generations' binaries; history keeps every SHA-256", async () => {
    const port = await freePort();
    dir = mkdtempSync(join(tmpdir(), "hotdump-devstore-"));
    const root = dir;
    writeFileSync(join(root, "go.mod"), "module devstore\n\ngo 1.24\n");
    const save = (body: string, extra = "") =>
      writeFileSync(join(root, "main.go"), service(port, body, extra));
    save("v1");
    sup = startSupervised(["dev", "--json-events", "--probe", "alive:300ms"], { cwd: root });
    const s = sup;
    const ready = (n: number) =>
      s.waitFor((e) => e.event === "ready" && e.generation === n, 90_000, `generation ${n} ready`);
    const built = (n: number) =>
      s.waitFor((e) => e.event === "build-ok" && e.generation === n, 90_000, `generation ${n} stored`);
    await ready(1);
    save("v2");
    await ready(2);
    // Generation 3 panics in main, before anything else: it may well end before its hash is done.
    save("v3", 'panic("at start")');
    const crash = await s.waitFor(
      (e) => e.event === "crash" && e.generation === 3,
      90_000,
      "crash of generation 3",
    );
    save("v4");
    await ready(4);
    save("v5");
    await ready(5);
    const shas = new Map<number, string>();
    for (const n of [1, 2, 3, 4, 5]) shas.set(n, (await built(n)).sha256 as string);
    expect(new Set(shas.values()).size).toBe(5);

    const store = join(root, ".hotdump");
    const crashes = JSON.parse((await runCli(["crashes", "--json", "--store", store])).stdout) as {
      id: string;
      binarySha256: string;
    }[];
    expect(crashes.find((c) => c.id === crash.crashId)?.binarySha256).toBe(shas.get(3));

    const left = readdirSync(join(store, "binaries")).filter((f) => /^[0-9a-f]{64}$/.test(f));
    expect(left.sort()).toEqual([shas.get(3), shas.get(4), shas.get(5)].sort());
    const history = JSON.parse((await runCli(["history", "--json", "--store", store])).stdout) as {
      generation: number;
      sha256: string;
    }[];
    expect(history.map((h) => [h.generation, h.sha256])).toEqual([...shas.entries()]);
  });
});
