import { describe, expect, it } from "vitest";
import { delveVariable } from "../../../test/helpers/delve.js";
import { isSecretName, isSecretType } from "../../util/secretNames.js";
import { versionWarnings } from "./client.js";
import { type GetVersionOut, Kind } from "./delveProtocol.js";
import { formatVariable, REDACTED } from "./formatVariable.js";

const v = delveVariable;
const str = (name: string, value: string, len = Buffer.byteLength(value)) =>
  v({ name, type: "string", kind: Kind.String, value, len });

describe("formatVariable", () => {
  it("cuts strings Delve truncated and marks the rest", () => {
    expect(formatVariable(str("s", "abc", 300))).toBe('"abc"...+297 more');
    expect(formatVariable(str("s", 'say "hi"\n'))).toBe('"say \\"hi\\"\\n"');
  });

  it("prints a struct past the recursion limit as {...} and masks secret fields when asked", () => {
    const cfg = v({
      type: "main.Config",
      kind: Kind.Struct,
      len: 3,
      children: [
        str("User", "admin"),
        str("Password", "hunter2"),
        v({ name: "Inner", type: "main.Inner", kind: Kind.Struct, len: 2, children: [] }),
      ],
    });
    expect(formatVariable(cfg)).toBe(
      'main.Config {User: "admin", Password: "hunter2", Inner: main.Inner {...}}',
    );
    expect(formatVariable(cfg, { redact: true })).toBe(
      `main.Config {User: "admin", Password: ${REDACTED}, Inner: main.Inner {...}}`,
    );
  });

  it("keeps slices, nil values and long lines readable", () => {
    const ints = v({
      type: "[]int",
      kind: Kind.Slice,
      len: 40,
      cap: 64,
      base: 0xc000020000,
      children: [1, 2].map((n) => v({ type: "int", kind: Kind.Int, value: String(n) })),
    });
    expect(formatVariable(ints)).toBe("[]int len: 40, cap: 64, [1, 2, ...+38 more]");
    expect(formatVariable(v({ type: "[]int", kind: Kind.Slice }))).toBe("[]int nil");
    expect(formatVariable(v({ type: "error", kind: Kind.Interface, children: [v({ addr: 0 })] }))).toBe(
      "nil",
    );
    expect(formatVariable(str("s", "x".repeat(1000)), { maxLength: 50 })).toHaveLength(50);
  });
});

describe("secret names", () => {
  it.each(["secret", "apiKey", "auth_token", "DBPassword", "sessionCookie", "Authorization", "creds"])(
    "%s is secret",
    (n) => expect(isSecretName(n)).toBe(true),
  );
  it.each(["keyboard", "author", "count", "orders", "monkey"])("%s is not", (n) =>
    expect(isSecretName(n)).toBe(false),
  );
  it("judges a type by its own name", () => {
    expect(isSecretType("*oauth2.Token")).toBe(true);
    expect(isSecretType("map[string]*main.order")).toBe(false);
    expect(isSecretType("string")).toBe(false);
  });
});

describe("versionWarnings", () => {
  const base: GetVersionOut = {
    DelveVersion: "Version: 1.27.2",
    APIVersion: 2,
    Backend: "core",
    TargetGoVersion: "Go cmd/compile go1.26.8",
    MinSupportedVersionOfGo: "1.25.0",
    MaxSupportedVersionOfGo: "1.27.0",
  };
  it("is quiet inside Delve's range and names the remedy outside it", () => {
    expect(versionWarnings(base)).toEqual([]);
    expect(versionWarnings({ ...base, TargetGoVersion: "Go cmd/compile go1.24.3" })[0]).toMatch(
      /older.*older Delve/,
    );
    expect(versionWarnings({ ...base, TargetGoVersion: "Go cmd/compile go1.28rc1" })[0]).toMatch(
      /newer.*upgrade/,
    );
  });
});
