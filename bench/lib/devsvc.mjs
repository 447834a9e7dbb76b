// The small net/http service the dev benches edit, its project directory, air's configs, and the
// extra-files trees the watcher benches add (a package nothing imports: every tool watches it,
// none builds it).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./common.mjs";

export const source = (port, version) => `package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"time"
)

const version = "v${version}"

var started = time.Now()

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, version) })
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"version": version, "up": time.Since(started).String()})
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:${port}", nil))
}
`;

export async function project(name, port, extra = {}) {
  const dir = tempDir(name);
  writeFileSync(join(dir, "go.mod"), "module devbench\n\ngo 1.24\n");
  writeFileSync(join(dir, "main.go"), source(port, 0));
  for (const [f, text] of Object.entries(extra)) writeFileSync(join(dir, f), text);
  return dir;
}

export const AIR_DEFAULT = 'root = "."\ntmp_dir = "tmp"\n';
export const AIR_MIN = `${AIR_DEFAULT}\n[build]\ndelay = 1\n`;

/** `files` extra .go files under gen/: 100 per directory, 100 directories per level-1 directory. */
export function addGenTree(dir, files) {
  const per = 100;
  for (let i = 0; i < files / per; i++) {
    const top = `g${String(Math.floor(i / 100)).padStart(3, "0")}`;
    const pkg = `d${String(i % 100).padStart(3, "0")}`;
    const d = join(dir, "gen", top, pkg);
    mkdirSync(d, { recursive: true });
    for (let f = 0; f < per; f++)
      writeFileSync(join(d, `f${String(f).padStart(3, "0")}.go`), `package ${pkg}\n\nconst F${f} = ${f}\n`);
  }
}
