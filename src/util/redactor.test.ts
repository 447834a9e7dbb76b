import { describe, expect, it } from "vitest";
import { createRedactor, REDACTED, redactOptions, secretEnvValues } from "./redactor.js";

const env = {
  DB_PASSWORD: "s3cr3t-hunter2-pw",
  STRIPE_API_KEY: "sk_live_abcdef123456",
  HOME: "/root",
  LEVEL: "debug",
};
const r = createRedactor(true, secretEnvValues(env));

describe("the redaction policy", () => {
  it.each([
    [
      "panic: connect postgres://orders:hunter2-xyz@db:5432/orders failed",
      "postgres://orders:[redacted]@db:5432/orders",
    ],
    ["--password=hunter2 --user=bob", "--password=[redacted] --user=bob"],
    ['{"db_password": "hunter2", "user": "bob"}', '{"db_password": "[redacted]", "user": "bob"}'],
    ['main.Config {DSN: "x", Token: "abc123"}', 'Token: "[redacted]"'],
    ["Authorization: Bearer abcdefghijklmnop", "Authorization: Bearer [redacted]"],
    ["id AKIAIOSFODNN7EXAMPLE used", "id [redacted] AWS key used"],
    [
      "k=-----BEGIN RSA PRIVATE KEY-----\\nMIIEpAIBAAKCAQEA\\n-----END RSA PRIVATE KEY----- end",
      "[redacted] private key end",
    ],
    ["jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJl ok", "jwt [redacted] JWT ok"],
    ["charging with sk_live_abcdef123456 now", `charging with ${REDACTED} now`],
    ["dsn=postgres://u:s3cr3t-hunter2-pw@h/d", "dsn=[redacted]"],
  ])("%s", (input, want) => {
    const out = r.text(input);
    expect(out).toContain(want);
    expect(out).not.toMatch(/hunter2|abc123|sk_live|AKIAIOSF|MIIEpA|eyJzdWIi|abcdefghijklmnop/);
  });

  it("leaves file:line, plain words and non-secret env values alone, and is idempotent", () => {
    const s = "main.(*tokenStore).Get\n\t/app/auth/token.go:42 +0x1d\nlevel=debug author=me";
    expect(r.text(s)).toBe(s);
    const once = r.text("password=hunter2 postgres://a:b@h/");
    expect(r.text(once)).toBe(once);
    expect(secretEnvValues(env)).toEqual(["sk_live_abcdef123456", "s3cr3t-hunter2-pw"]);
  });

  it("does nothing without --redact", () => {
    expect(createRedactor(false).text("password=hunter2")).toBe("password=hunter2");
    expect(redactOptions(false, env)).toEqual({ redact: false });
  });
});
