/**
 * The in-process socket pair of the codec-loop benchmarks: the parts of a
 * socket a Connection uses, with writes collected so that a pump can hand
 * each side's chunks to the other once per event-loop turn (each in its own
 * right-sized buffer, as Node's reads are).
 */
import { EventEmitter } from 'node:events';

export class LoopSocket extends EventEmitter {
  written: Buffer[] = [];
  readonly writableLength = 0;
  write(chunk: Buffer, callback?: (error?: Error | null) => void): boolean {
    this.written.push(chunk);
    if (callback !== undefined) queueMicrotask(() => callback());
    return true;
  }
  cork(): void {}
  uncork(): void {}
  pause(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  end(): this {
    return this;
  }
  destroy(): this {
    return this;
  }
}

/** Hand what `from` wrote to `to`, as reads of right-sized buffers. */
export function deliver(from: LoopSocket, to: LoopSocket): void {
  const chunks = from.written;
  if (chunks.length === 0) return;
  from.written = [];
  for (const chunk of chunks) {
    const read = Buffer.allocUnsafeSlow(chunk.length);
    chunk.copy(read);
    to.emit('data', read);
  }
}
