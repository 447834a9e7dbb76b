/**
 * A bounded tail of a byte stream: keeps the last `limit` bytes (cut at a line start when it can),
 * so a chatty child can run for days without hotdump growing.
 */
export class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = 0;

  constructor(readonly limit: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.limit && this.chunks.length > 1) {
      const first = this.chunks.shift()!;
      this.size -= first.length;
      this.dropped += first.length;
    }
    if (this.size > this.limit * 2 && this.chunks.length === 1) {
      const only = this.chunks[0]!;
      const keep = only.subarray(only.length - this.limit);
      this.dropped += only.length - keep.length;
      this.chunks = [Buffer.from(keep)];
      this.size = keep.length;
    }
  }

  /** Bytes dropped from the front so far. */
  get truncatedBytes(): number {
    return this.dropped + Math.max(0, this.size - this.limit);
  }

  toBuffer(): Buffer {
    const all = Buffer.concat(this.chunks);
    if (all.length <= this.limit) return all;
    let cut = all.subarray(all.length - this.limit);
    const nl = cut.indexOf(10);
    if (nl >= 0 && nl < 4096) cut = cut.subarray(nl + 1);
    return cut;
  }

  toString(): string {
    return this.toBuffer().toString("utf8");
  }
}
