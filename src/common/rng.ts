/**
 * Randomness, injected. Every component that needs random numbers (election
 * timeouts, backoff jitter, proposal instance ids) takes a `RandomSource`, so
 * the simulator can hand it a seeded generator and production the system one.
 */

/** A source of randomness. */
export interface RandomSource {
  /** A uniformly distributed integer in [0, n), n a positive integer at most 2^32. */
  nextInt(n: number): number;
  /** A float in [0, 1). */
  nextFloat(): number;
}

/**
 * A small seeded pseudo-random generator (simulator, tests, benchmarks): xoshiro128**
 * (Blackman and Vigna), seeded through splitmix32 so that nearby seeds give
 * unrelated streams. Everything random in a simulation run draws from one of
 * these, so a seed fixes the whole run.
 *
 * `fork(label)` derives an independent sub-stream (for example one per node
 * for election timeouts), so adding a draw in one component does not shift
 * the numbers every other component sees.
 */
export class Prng implements RandomSource {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      // splitmix32
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  /** The next 32 random bits as an unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform integer in [0, n). `n` must be a positive integer below 2^32. */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 0x1_0000_0000) throw new RangeError(`nextInt bound must be in [1, 2^32], got ${n}`);
    // Rejection sampling avoids modulo bias.
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % n);
    for (;;) {
      const r = this.nextU32();
      if (r < limit) return r % n;
    }
  }

  /** A uniform integer in [lo, hi] (both inclusive). */
  between(lo: number, hi: number): number {
    return lo + this.nextInt(hi - lo + 1);
  }

  /** A float in [0, 1). */
  nextFloat(): number {
    return this.nextU32() / 0x1_0000_0000;
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.nextFloat() < p;
  }

  /** A uniformly chosen element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty array');
    return items[this.nextInt(items.length)] as T;
  }

  /** A shuffled copy (Fisher-Yates). */
  shuffled<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = out[i] as T;
      out[i] = out[j] as T;
      out[j] = tmp;
    }
    return out;
  }

  /**
   * An independent generator derived from this one's current state and a
   * label. Draws one number from this stream, so forks made in the same order
   * are the same on every run.
   */
  fork(label: string): Prng {
    let h = this.nextU32();
    for (let i = 0; i < label.length; i++) {
      h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0; // FNV-1a style mixing
    }
    return new Prng(h);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
