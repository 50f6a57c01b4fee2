/**
 * The production Clock and RandomSource: Node's timers and clocks, and the
 * platform's cryptographic random numbers. The only place outside the edges
 * that reads them; everything else has them injected (see clock.ts, rng.ts).
 */
import type { Clock, Timer, TimerOptions } from './clock.js';
import type { RandomSource } from './rng.js';

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
  setTimer(delayMs: number, fn: () => void, options?: TimerOptions): Timer {
    const handle = setTimeout(fn, Math.max(0, delayMs));
    if (options?.keepsProcessAlive === false) handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
  setRepeating(intervalMs: number, fn: () => void, options?: TimerOptions): Timer {
    const handle = setInterval(fn, intervalMs);
    if (options?.keepsProcessAlive === false) handle.unref();
    return { cancel: () => clearInterval(handle) };
  },
  schedule(fn: () => void): void {
    setImmediate(fn);
  },
};

/** Random numbers from the platform's CSPRNG (Web Crypto, a global in Node 20+), drawn in blocks. */
class SystemRandom implements RandomSource {
  private readonly block = new Uint32Array(256);
  private next = this.block.length;

  private u32(): number {
    if (this.next === this.block.length) {
      globalThis.crypto.getRandomValues(this.block);
      this.next = 0;
    }
    return this.block[this.next++]!;
  }

  nextInt(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 0x1_0000_0000) throw new RangeError(`nextInt bound must be in [1, 2^32], got ${n}`);
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % n); // rejection sampling: no modulo bias
    for (;;) {
      const r = this.u32();
      if (r < limit) return r % n;
    }
  }

  nextFloat(): number {
    return this.u32() / 0x1_0000_0000;
  }
}

export const systemRandom: RandomSource = new SystemRandom();
