import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createGitignore } from "./gitignore.js";
import { compileGlob } from "./glob.js";

describe("compileGlob", () => {
  const m = (g: string, p: string) => compileGlob(g)(p);
  it("matches names at any depth when the pattern has no slash", () => {
    expect(m("*_gen.go", "a/b/x_gen.go")).toBe(true);
    expect(m("*.go", "main.go")).toBe(true);
    expect(m("*.go", "main.goo")).toBe(false);
  });
  it("anchors patterns with a slash and handles ** ? [] {}", () => {
    expect(m("cmd/*.go", "cmd/main.go")).toBe(true);
    expect(m("/cmd/*.go", "cmd/main.go")).toBe(true);
    expect(m("cmd/*.go", "x/cmd/main.go")).toBe(false);
    expect(m("cmd/*.go", "cmd/a/main.go")).toBe(false);
    expect(m("web/**/*.tmpl", "web/a/b/c.tmpl")).toBe(true);
    expect(m("web/**/*.tmpl", "web/c.tmpl")).toBe(true);
    expect(m("web/**", "web/a/b")).toBe(true);
    expect(m("v?.go", "v1.go")).toBe(true);
    expect(m("[!a]*.go", "b.go")).toBe(true);
    expect(m("[!a]*.go", "a.go")).toBe(false);
    expect(m("*.{tmpl,html}", "x/y.html")).toBe(true);
    expect(m("a.b", "axb")).toBe(false);
  });
});

describe("createGitignore", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const tree = (files: Record<string, string>) => {
    const root = mkdtempSync(join(tmpdir(), "hotdump-gitignore-"));
    dirs.push(root);
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(root, name, ".."), { recursive: true });
      writeFileSync(join(root, name), text);
    }
    return createGitignore(root);
  };

  it("reads negation, directory-only rules, comments and escapes", () => {
    const g = tree({ ".gitignore": "# c\n\nbuild/\n*.log\n!keep.log\n\\#hash\n\\!bang\n" });
    expect(g.ignores("build", true)).toBe(true);
    expect(g.ignores("build", false)).toBe(false);
    expect(g.ignores("build/x.go", false)).toBe(true);
    expect(g.ignores("a/b.log", false)).toBe(true);
    expect(g.ignores("keep.log", false)).toBe(false);
    expect(g.ignores("#hash", false)).toBe(true);
    expect(g.ignores("!bang", false)).toBe(true);
    expect(g.ignores("# c", false)).toBe(false);
  });

  it("has no braces, as git has none", () => {
    const g = tree({ ".gitignore": "*.{tmpl,html}\n" });
    expect(g.ignores("x/y.html", false)).toBe(false);
    expect(g.ignores("x/y.{tmpl,html}", false)).toBe(true);
  });

  it("lets a deeper .gitignore re-include, but never below an excluded directory", () => {
    const g = tree({
      ".gitignore": "*.pb.go\ngen/\n",
      "api/.gitignore": "!keep.pb.go\n",
      ".git/info/exclude": "local.go\n",
    });
    expect(g.ignores("api/x.pb.go", false)).toBe(true);
    expect(g.ignores("api/keep.pb.go", false)).toBe(false);
    expect(g.ignores("gen/keep.pb.go", false)).toBe(true);
    expect(g.ignores("sub/local.go", false)).toBe(true);
  });
});
