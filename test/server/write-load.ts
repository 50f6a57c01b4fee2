/**
 * A bounded continuous write load for the real-process tests of membership
 * changes: a few writers put distinct keys through the client library, and
 * every acknowledged write is remembered with when it was acknowledged. Then
 * `verify` checks that each is still there, `digestOf` fingerprints one
 * member's whole store (stale reads from that member alone), and
 * `pauseDuring` measures the longest stretch without any acknowledgement.
 */
import { createHash } from 'node:crypto';
import { connect, bytesToString, type KvClient } from '../../src/client/index.js';
import { sleep } from './harness.js';

export interface PauseFigure {
  readonly what: string;
  /** The longest time without an acknowledged write, overlapping the window. */
  readonly pauseMs: number;
  readonly windowMs: number;
}

export class WriteLoad {
  private stopping = false;
  private loops: Promise<void>[] = [];
  private readonly acks = new Map<string, string>();
  /** Acknowledgement times (ms, Date.now()), in order. */
  readonly ackTimes: number[] = [];
  private failures = 0;
  private readonly opsMax: number;

  private constructor(
    private readonly client: KvClient,
    options: { opsMax: number },
  ) {
    this.opsMax = options.opsMax;
  }

  static async start(endpoints: readonly string[], options: { writers: number; opsMax: number }): Promise<WriteLoad> {
    const client = await connect({ endpoints: [...endpoints], timeoutMs: 15_000 });
    const load = new WriteLoad(client, options);
    for (let w = 0; w < options.writers; w++) load.loops.push(load.writer(w));
    return load;
  }

  private async writer(w: number): Promise<void> {
    for (let seq = 0; !this.stopping && this.acks.size + this.failures < this.opsMax; seq++) {
      const key = `load/${w}/${String(seq).padStart(7, '0')}`;
      const value = `v${w}-${seq}`;
      try {
        await this.client.put(key, value);
        this.acks.set(key, value);
        this.ackTimes.push(Date.now());
      } catch {
        // Outcome unknown (deadline passed): not acknowledged, so not checked.
        this.failures++;
        await sleep(20);
      }
    }
  }

  get acked(): number {
    return this.acks.size;
  }

  async waitForAcks(n: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.acks.size < n) {
      if (Date.now() > deadline) throw new Error(`the write load reached only ${this.acks.size} of ${n} acknowledgements`);
      if (this.acks.size + this.failures >= this.opsMax) throw new Error('the write load hit its bound');
      await sleep(20);
    }
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await Promise.all(this.loops);
    await this.client.close();
  }

  summary(): { acked: number; failed: number } {
    return { acked: this.acks.size, failed: this.failures };
  }

  /** Acknowledged keys that are missing or hold another value (linearizable scan through `reader`). */
  async verify(reader: KvClient): Promise<string[]> {
    const found = new Map<string, string>();
    for await (const page of reader.scan({ prefix: 'load/' }, { pageSize: 5000 })) {
      for (const kv of page) found.set(bytesToString(kv.key), bytesToString(kv.value));
    }
    return [...this.acks].filter(([k, v]) => found.get(k) !== v).map(([k]) => k);
  }

  /** A fingerprint of everything one member holds (stale reads from it alone). */
  async digestOf(clientUrl: string): Promise<string> {
    const client = await connect({ endpoints: [clientUrl], timeoutMs: 15_000, openSessionOnConnect: false });
    try {
      const hash = createHash('sha256');
      let keys = 0;
      for await (const page of client.scan({ prefix: 'load/' }, { pageSize: 5000, consistency: 'stale' })) {
        for (const kv of page) {
          hash.update(kv.key).update('=').update(kv.value).update(`@${kv.modRevision};`);
          keys++;
        }
      }
      return `${keys}:${hash.digest('hex').slice(0, 16)}`;
    } finally {
      await client.close();
    }
  }
}

/** The longest gap between acknowledgements that overlaps [startMs, endMs]. */
export function pauseDuring(load: WriteLoad, what: string, startMs: number, endMs: number): PauseFigure {
  const times = load.ackTimes;
  let pause = 0;
  let previous: number | null = null;
  for (const t of times) {
    if (previous !== null && t >= startMs && previous <= endMs) pause = Math.max(pause, Math.min(t, endMs) - Math.max(previous, startMs));
    previous = t;
  }
  if (previous !== null && previous < endMs) pause = Math.max(pause, endMs - Math.max(previous, startMs));
  return { what, pauseMs: pause, windowMs: endMs - startMs };
}
