/**
 * The record of a simulation run. Every event appends one line. The full
 * trace is kept only when asked for (`--trace`); otherwise only a tail for
 * failure reports. Either way a running hash of every line is kept, which is
 * what the determinism test compares.
 */
export class Trace {
  private readonly full: string[] | null;
  private readonly tail: string[];
  private tailStart = 0;
  private hashHi = 0x811c9dc5;
  private hashLo = 0x01000193;
  private count = 0;

  constructor(options: { keepFull: boolean; tailLines: number }) {
    this.full = options.keepFull ? [] : null;
    this.tail = new Array<string>(Math.max(1, options.tailLines));
    this.tailLines = Math.max(1, options.tailLines);
  }

  private readonly tailLines: number;

  add(time: number, line: string): void {
    const text = `${String(time).padStart(7)} ${line}`;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      this.hashHi = Math.imul(this.hashHi ^ c, 0x01000193) >>> 0;
      this.hashLo = Math.imul(this.hashLo ^ c, 0x5bd1e995) >>> 0;
    }
    this.hashHi = Math.imul(this.hashHi ^ 10, 0x01000193) >>> 0;
    this.hashLo = (Math.imul(this.hashLo ^ 10, 0x5bd1e995) + this.count) >>> 0;
    this.count++;
    if (this.full) this.full.push(text);
    this.tail[this.tailStart] = text;
    this.tailStart = (this.tailStart + 1) % this.tailLines;
  }

  get lines(): number {
    return this.count;
  }

  /** A digest of every line so far; equal digests mean (with overwhelming likelihood) equal traces. */
  digest(): string {
    return this.hashHi.toString(16).padStart(8, '0') + this.hashLo.toString(16).padStart(8, '0') + ':' + this.count;
  }

  fullLines(): readonly string[] | null {
    return this.full;
  }

  tailText(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.tailLines; i++) {
      const line = this.tail[(this.tailStart + i) % this.tailLines];
      if (line !== undefined) out.push(line);
    }
    return out;
  }
}
