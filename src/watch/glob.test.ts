import { describe, expect, it } from "vitest";
import { parseGitignore } from "./gitignore.js";
import { globToRegExp } from "./glob.js";

describe("globToRegExp", () => {
  const m = (g: string, p: string) => globToRegExp(g).test(p);
  it("matches names at any depth when the pattern has no slash", () => {
    expect(m("*_gen.go", "a/b/x_gen.go")).toBe(true);
    expect(m("*.go", "main.go")).toBe(true);
    expect(m("*.go", "main.goo")).toBe(false);
  });
  it("anchors patterns with a slash and handles ** ? [] {}", () => {
    expect(m("cmd/*.go", "cmd/main.go")).toBe(true);
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

describe("parseGitignore", () => {
  it("reads negation, directory-only rules and comments", () => {
    const rules = parseGitignore("# c\n\nbuild/\n*.log\n!keep.log\n\\#hash\n");
    expect(rules.map((r) => [r.negate, r.dirOnly])).toEqual([
      [false, true],
      [false, false],
      [true, false],
      [false, false],
    ]);
    expect(rules[3]?.re.test("#hash")).toBe(true);
  });
});
