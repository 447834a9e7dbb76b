/** Splits a byte stream into lines (a partial last line waits for its newline; flush() ends it). */
export class LineSplitter {
  private rest = "";
  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer | string): void {
    const text = this.rest + chunk.toString();
    const parts = text.split("\n");
    this.rest = parts.pop() ?? "";
    // A child that prints one enormous line must not grow us without bound.
    if (this.rest.length > 64 * 1024) {
      this.onLine(this.rest);
      this.rest = "";
    }
    for (const p of parts) this.onLine(p.endsWith("\r") ? p.slice(0, -1) : p);
  }

  flush(): void {
    if (this.rest) this.onLine(this.rest);
    this.rest = "";
  }
}
