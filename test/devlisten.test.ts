/**
 * `hotdump dev --listen`: hotdump holds the socket, so requests made while a new build compiles
 * and starts wait in the kernel's backlog and are served, by the old generation until the new one
 * is ready, then by the new one. A bounded client loop runs through three edits: no request fails.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../src/supervise/probe.js";
import { httpGet } from "./helpers/http.js";
import { pidsRunning, type Supervised, startSupervised } from "./helpers/supervised.js";

// The service uses the inherited socket when hotdump passes one (the snippet in the README), and
// drains on SIGTERM: stop accepting, let in-flight requests land, then Shutdown.
const service = (version: string) => `package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func listener() net.Listener {
	if os.Getenv("LISTEN_FDS") == "1" && os.Getenv("LISTEN_PID") == strconv.Itoa(os.Getpid()) {
		if l, err := net.FileListener(os.NewFile(3, "http")); err == nil {
			return l
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		panic(err)
	}
	return l
}

func main() {
	l := listener()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/env" {
			for _, kv := range os.Environ() {
				if strings.HasPrefix(kv, "HOTDUMP_") || strings.HasPrefix(kv, "LISTEN_") {
					fmt.Fprintln(w, kv)
				}
			}
			return
		}
		fmt.Fprint(w, "${version}")
	})}
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM)
		<-stop
		l.Close()
		time.Sleep(100 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		os.Exit(0)
	}()
	srv.Serve(l)
	select {}
}
`;

let sup: Supervised | undefined;
afterEach(async () => {
  await sup?.stop("SIGKILL");
});

describe("hotdump dev --listen", () => {
  it("serves every request through three rebuilds", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hotdump-devlisten-"));
    writeFileSync(join(dir, "go.mod"), "module devlisten\n\ngo 1.24\n");
    writeFileSync(join(dir, "main.go"), service("v1"));
    const port = await freePort();
    sup = startSupervised(
      ["dev", "--json-events", "--listen", `127.0.0.1:${port}`, "--probe", "alive:200ms"],
      { cwd: dir },
    );
    await sup.waitFor((e) => e.event === "ready" && e.generation === 1, 90_000, "generation 1 ready");

    let stop = false;
    const seen = new Set<string>();
    const errors: string[] = [];
    let ok = 0;
    const loop = (async () => {
      const deadline = Date.now() + 90_000;
      while (!stop && ok + errors.length < 20_000 && Date.now() < deadline) {
        try {
          seen.add(await httpGet(port, "/", 10_000));
          ok++;
        } catch (e) {
          errors.push((e as Error).message);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    for (const [i, v] of ["v2", "v3", "v4"].entries()) {
      writeFileSync(join(dir, "main.go"), service(v));
      await sup.waitFor((e) => e.event === "switch" && e.generation === i + 2, 60_000, `switch to ${v}`);
      await sup.waitFor(
        (e) => e.event === "stopped" && e.generation === i + 1,
        10_000,
        `generation ${i + 1} stopped`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
    stop = true;
    await loop;
    expect(errors, errors.slice(0, 3).join("; ")).toEqual([]);
    expect(ok).toBeGreaterThan(20);
    expect(seen).toContain("v4");
    expect(await httpGet(port, "/", 10_000)).toBe("v4");
    // The service sees the systemd activation names, never hotdump's own stage-1 handoff ones.
    const env = (await httpGet(port, "/env", 10_000)).trim().split("\n").sort();
    expect(env).toContain("LISTEN_FDS=1");
    expect(env.filter((kv) => kv.startsWith("HOTDUMP_"))).toEqual([]);

    // Ctrl-C: everything stops cleanly, nothing keeps running.
    const binaries = sup.events
      .filter((e) => e.event === "build-ok")
      .map((e) => join(dir, ".hotdump", "binaries", String(e.sha256)));
    expect(await sup.stop("SIGINT")).toBe(0);
    for (const b of binaries) expect(await pidsRunning(b)).toEqual([]);
  });
});
