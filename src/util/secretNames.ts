/**
 * Which names look secret. Cores hold every secret the process had in memory (a local
 * `secret := "tok-12345"` comes back verbatim), so `--redact` masks values by the shape of the
 * name or the type that holds them. Names are split into words (camelCase, snake_case, dots) so
 * `apiKey`, `auth_token` and `*oauth2.Token` match while `keyboard` and `author` do not.
 */
const SECRET_WORDS = new Set([
  "token",
  "tokens",
  "password",
  "passwords",
  "passwd",
  "pwd",
  "secret",
  "secrets",
  "key",
  "keys",
  "apikey",
  "authorization",
  "auth",
  "credential",
  "credentials",
  "creds",
  "cookie",
  "cookies",
  "bearer",
  "privatekey",
  "privkey",
  "dsn",
  "jwt",
]);

/** Substrings that are secret wherever they appear (`dbPassword1`, `xsecretx`). */
const SECRET_PARTS = /password|passwd|secret|apikey|credential|authorization|cookie|token/i;

function splitWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
}

export function isSecretName(name: string): boolean {
  if (!name) return false;
  if (SECRET_PARTS.test(name)) return true;
  return splitWords(name).some((w) => SECRET_WORDS.has(w));
}

/** A Go type whose own name looks secret: `*oauth2.Token`, `main.Credentials`, `[]main.APIKey`. */
export function isSecretType(type: string): boolean {
  // Only the named type counts, not the element types of a map or the package path.
  const m = /([A-Za-z_][A-Za-z0-9_]*)\s*$/.exec(type.replace(/\[[^\]]*\]/g, " "));
  return m ? isSecretName(m[1] as string) : false;
}
