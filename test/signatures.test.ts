/**
 * Crash signatures across generations (issue 18, point 4): `hotdump dev` in a real git repository
 * (so go build stamps vcs.revision and vcs.modified), a bug introduced by editing orders.go and
 * cart.go, crashing twice in its generation, fixed in the next, back in the one after: one
 * signature with its count, first seen in the generation and revision that introduced it, after
 * editing those files, and marked as a regression.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { freePort } from "../src/supervise/probe.js";
import { runCli } from "./helpers/cli.js";
import { httpGet } from "./helpers/http.js";
import { useScratch } from "./helpers/scratch.js";

const scratch = useScratch("hotdump-signatures-");

const MAIN = `package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	http.HandleFunc("/order", func(w http.ResponseWriter, r *http.Request) {
		// Outside the handler's goroutine: net/http cannot recover it, the process dies.
		done := make(chan int)
		go func() { done <- placeOrder(cartSize(), r.URL.Query().Get("sku")) }()
		fmt.Fprint(w, <-done)
	})
	http.ListenAndServe(os.Getenv("ADDR"), nil)
}
`;
const GOOD = `package main

func placeOrder(qty int, sku string) int {
	return qty * len(sku)
}
`;
const BAD = `package main

func placeOrder(qty int, sku string) int {
	var stock map[string]int
	stock[sku] = qty
	return qty
}
`;
const cart = (n: number) => `package main

func cartSize() int { return ${n} }
`;

interface Group {
  fingerprint: string;
  kind: string;
  count: number;
  generations: number[];
  crashIds: string[];
  first: { generation: number; revision: string | null; modified: boolean | null; changed: string[] } | null;
  regression: { fixedIn: number; backIn: number } | null;
}

describe("crash signatures across generations", () => {
  it("first seen in the generation and revision that introduced it, after editing orders.go and cart.go; back after a fix is a regression", async () => {
    const { cwd, store } = scratch.project();
    const git = (...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8" }).trim();
    writeFileSync(join(cwd, "go.mod"), "module shop\n\ngo 1.24\n");
    writeFileSync(join(cwd, "main.go"), MAIN);
    writeFileSync(join(cwd, "orders.go"), GOOD);
    writeFileSync(join(cwd, "cart.go"), cart(1));
    // Two files saved one after the other are one build even on a loaded machine (the default
    // 10 ms debounce split them into two generations there once).
    writeFileSync(join(cwd, "hotdump.toml"), '[watch]\ndebounce = "400ms"\n');
    git("init", "-q");
    git("add", ".");
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "shop");
    const head = git("rev-parse", "HEAD");
    const port = await freePort();
    // go stamps VCS facts unless -buildvcs=false (this machine's go env file sets it).
    const sup = scratch.start(["dev", "--json-events", "--store", store, "--env", `ADDR=127.0.0.1:${port}`], {
      cwd,
      env: { GOFLAGS: "-buildvcs=true" },
    });
    const ready = (n: number) =>
      sup.waitFor((e) => e.event === "ready" && e.generation === n, 120_000, `generation ${n} ready`);
    const crashes = () => sup.events.filter((e) => e.event === "crash" && e.crashId).length;
    const crashOnce = async (n: number) => {
      const before = crashes();
      await httpGet(port, "/order?sku=A-1").catch(() => {});
      await sup.waitFor(() => crashes() > before, 120_000, `crash ${before + 1}`);
      return n;
    };

    await ready(1);
    expect(await httpGet(port, "/order?sku=ab")).toBe("2");
    // The bug arrives with an edit of orders.go and cart.go (uncommitted: vcs.modified).
    writeFileSync(join(cwd, "orders.go"), BAD);
    writeFileSync(join(cwd, "cart.go"), cart(2));
    await ready(2);
    await crashOnce(2);
    // dev restarts the crashed generation; the same bug again is the same signature.
    await sup.waitFor((e) => e.event === "ready" && e.generation === 2 && (e.restart as number) >= 1, 60_000);
    await crashOnce(2);
    // Fixed in generation 3 (orders.go changed, the request answers)...
    await sup.waitFor((e) => e.event === "ready" && e.generation === 2 && (e.restart as number) >= 2, 60_000);
    writeFileSync(join(cwd, "orders.go"), GOOD);
    await ready(3);
    expect(await httpGet(port, "/order?sku=ab")).toBe("4");
    // ...and back in generation 4.
    writeFileSync(join(cwd, "orders.go"), BAD);
    await ready(4);
    await crashOnce(4);

    const r = await runCli(["crashes", "--json", "--signatures", "--store", store], { cwd });
    expect(r.code, r.stderr).toBe(0);
    const groups = JSON.parse(r.stdout) as Group[];
    const g = groups.find((x) => x.kind === "panic" && x.generations.includes(2));
    expect(g, r.stdout).toBeDefined();
    expect(g).toMatchObject({ count: 3, generations: [2, 4], regression: { fixedIn: 3, backIn: 4 } });
    expect(g?.first).toMatchObject({ generation: 2, revision: head, modified: true });
    expect(g?.first?.changed.map((f) => f.split("/").pop()).sort()).toEqual(["cart.go", "orders.go"]);
    // Every crash of it carries the same fingerprint (crashes --json, the flat list).
    const flat = JSON.parse((await runCli(["crashes", "--json", "--store", store], { cwd })).stdout) as {
      id: string;
      fingerprint: string;
    }[];
    expect(
      flat
        .filter((c) => c.fingerprint === g?.fingerprint)
        .map((c) => c.id)
        .sort(),
    ).toEqual([...(g?.crashIds ?? [])].sort());
    const text = await runCli(["crashes", "--store", store], { cwd });
    expect(text.stdout).toMatch(
      new RegExp(
        `first seen in generation 2 \\(${head.slice(0, 12)}, modified\\), after editing (cart\\.go, orders\\.go|orders\\.go, cart\\.go)`,
      ),
    );
    expect(text.stdout).toMatch(/regression: fixed in generation 3, back in 4/);
  }, 600_000);
});
