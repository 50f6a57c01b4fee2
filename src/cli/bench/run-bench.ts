/**
 * A closed-loop load generator: `clients` loops, each sending its next
 * request as soon as the previous one is answered, for `durationS` seconds.
 *
 * The loops share client connections (`connections`, one by default, each its own
 * KvClient with its own session); the net layer pipelines their requests, so
 * one process can keep many requests in flight without one socket per loop,
 * and the servers see batches they can group-commit. Latency is measured per
 * request from send to answer, into an HDR-style histogram.
 *
 * A warm-up phase (`warmupS`) runs the same load first without counting it:
 * the servers are JavaScript, and for their first seconds under load V8 is
 * still compiling the hot paths (on a 2-core machine the optimizing compiler
 * then takes a large share of the CPU), so a cold measurement reports start-up
 * rather than the steady state a long-running cluster has.
 */
import { loadavg } from 'node:os';
import { Compare, connect, Op, type ConnectOptions, type KvClient } from '../../client/index.js';
import { Consistency } from '../../protocol/index.js';
import { LatencyHistogram } from './histogram.js';

export const Workload = {
  Put: 'put',
  Get: 'get',
  /** Half gets, half puts, on the same key space. */
  Mixed: 'mixed',
  /**
   * One transaction per op: 2 compares (modRevision and version of the two
   * keys below a bound, so they hold) and 2 puts of two different keys, in
   * one log entry and one revision (etcd's `benchmark txn-put` has no
   * compares; these make the members evaluate some).
   */
  Txn: 'txn',
} as const;
export type Workload = (typeof Workload)[keyof typeof Workload];

export interface BenchOptions {
  readonly endpoints: readonly string[];
  readonly workload: Workload;
  readonly clients: number;
  readonly durationS: number;
  /** Seconds of the same load before measuring begins (default 0). */
  readonly warmupS?: number;
  readonly valueBytes: number;
  readonly keys: number;
  /** Client connections the loops share (default 1, as etcd's benchmark tool: one pipelined connection carries every loop). */
  readonly connections?: number;
  readonly consistency?: Consistency;
  /** Per-request deadline. */
  readonly timeoutMs?: number;
  /** For tls:// endpoints and clusters with auth enabled: the client's TLS options and login. */
  readonly tls?: ConnectOptions['tls'];
  readonly auth?: ConnectOptions['auth'];
  /** Called about five times a second while warming up and measuring. */
  readonly onProgress?: (progress: BenchProgress) => void;
  readonly signal?: AbortSignal;
}

export interface BenchProgress {
  /** Warming up (not measured yet) or measuring. */
  readonly phase: 'warmup' | 'measure';
  /** Seconds into the current phase. */
  readonly elapsedS: number;
  readonly durationS: number;
  readonly ops: number;
}

export interface BenchResult {
  readonly workload: Workload;
  readonly clients: number;
  readonly connections: number;
  readonly valueBytes: number;
  readonly keys: number;
  readonly consistency: Consistency;
  readonly durationS: number;
  readonly warmupS: number;
  readonly ops: number;
  readonly errors: number;
  readonly firstError: string | null;
  readonly opsPerSec: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly p999: number; readonly mean: number; readonly max: number };
  /** The machine's 1-minute load average when measuring began: figures from a busy machine are not comparable. */
  readonly loadAverage1m: number;
}

/** How many preload puts are in flight at once (bounded: the preload must not trip the servers' queue bounds). */
const preloadConcurrency = 256;

export function benchKey(index: number): Uint8Array {
  return new TextEncoder().encode(`bench/${String(index).padStart(8, '0')}`);
}

export async function runBench(options: BenchOptions): Promise<BenchResult> {
  const connections = Math.max(1, Math.min(options.connections ?? 1, options.clients));
  const consistency = options.consistency ?? Consistency.Linearizable;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const value = new Uint8Array(options.valueBytes).fill(0x61);
  const keys = Array.from({ length: options.keys }, (_, i) => benchKey(i));
  const clients: KvClient[] = [];
  try {
    const secure = { ...(options.tls !== undefined ? { tls: options.tls } : {}), ...(options.auth !== undefined ? { auth: options.auth } : {}) };
    for (let i = 0; i < connections; i++) clients.push(await connect({ endpoints: options.endpoints, timeoutMs, ...secure }));
    if (options.workload === Workload.Get || options.workload === Workload.Mixed) await preload(clients, keys, value, timeoutMs);

    const histogram = new LatencyHistogram();
    let ops = 0;
    let errors = 0;
    let firstError: string | null = null;
    const warmupS = options.warmupS ?? 0;
    let loadAverage1m = round(loadavg()[0] ?? 0, 2);
    const warmupStartMs = performance.now();
    const startMs = warmupStartMs + warmupS * 1000;
    const endMs = startMs + options.durationS * 1000;
    const progressTimer =
      options.onProgress === undefined
        ? null
        : setInterval(() => {
            const now = performance.now();
            options.onProgress!(
              now < startMs
                ? { phase: 'warmup', elapsedS: (now - warmupStartMs) / 1000, durationS: warmupS, ops: 0 }
                : { phase: 'measure', elapsedS: (now - startMs) / 1000, durationS: options.durationS, ops },
            );
          }, 200);
    // The load average that matters is the one when measuring begins.
    const warmupTimer = warmupS > 0 ? setTimeout(() => (loadAverage1m = round(loadavg()[0] ?? 0, 2)), warmupS * 1000) : null;

    const loop = async (loopIndex: number): Promise<void> => {
      const client = clients[loopIndex % clients.length]!;
      const callOptions = { timeoutMs, consistency };
      let n = loopIndex;
      while (!options.signal?.aborted) {
        const sentMs = performance.now();
        if (sentMs >= endMs) return;
        // A cheap, well-spread key choice (a multiplicative hash of a counter) rather than Math.random per op.
        n = (n + 1) | 0;
        const key = keys[((n * 2654435761) >>> 0) % keys.length]!;
        const doPut = options.workload === Workload.Put || (options.workload === Workload.Mixed && (n & 1) === 0);
        // Requests sent during the warm-up are not counted, even when answered after it.
        const counted = sentMs >= startMs;
        try {
          if (options.workload === Workload.Txn) {
            // A second key from the same counter, different from the first.
            const other = keys[(((n * 2654435761) >>> 0) + 1) % keys.length]!;
            await client.txn(
              {
                compare: [Compare.modRevision(key, '<', Number.MAX_SAFE_INTEGER), Compare.version(other, '<', Number.MAX_SAFE_INTEGER)],
                success: [Op.put(key, value), Op.put(other, value)],
              },
              { timeoutMs },
            );
          } else if (doPut) await client.put(key, value, callOptions);
          else await client.get(key, callOptions);
          if (!counted) continue;
          ops++;
          histogram.record((performance.now() - sentMs) * 1000);
        } catch (error) {
          if (!counted) continue;
          errors++;
          firstError ??= error instanceof Error ? error.message : String(error);
        }
      }
    };
    await Promise.all(Array.from({ length: options.clients }, (_, i) => loop(i)));
    if (progressTimer !== null) clearInterval(progressTimer);
    if (warmupTimer !== null) clearTimeout(warmupTimer);
    const elapsedS = (performance.now() - startMs) / 1000;
    return {
      workload: options.workload,
      clients: options.clients,
      connections,
      valueBytes: options.valueBytes,
      keys: options.keys,
      consistency,
      durationS: round(elapsedS, 3),
      warmupS,
      ops,
      errors,
      firstError,
      opsPerSec: Math.round(ops / elapsedS),
      latencyMs: {
        p50: round(histogram.percentile(50) / 1000, 3),
        p99: round(histogram.percentile(99) / 1000, 3),
        p999: round(histogram.percentile(99.9) / 1000, 3),
        mean: round(histogram.mean / 1000, 3),
        max: round(histogram.max / 1000, 3),
      },
      loadAverage1m,
    };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  }
}

/** Writes every key once so that gets find values. */
async function preload(clients: readonly KvClient[], keys: readonly Uint8Array[], value: Uint8Array, timeoutMs: number): Promise<void> {
  let next = 0;
  const worker = async (w: number): Promise<void> => {
    const client = clients[w % clients.length]!;
    while (next < keys.length) {
      const key = keys[next++]!;
      await client.put(key, value, { timeoutMs });
    }
  };
  await Promise.all(Array.from({ length: Math.min(preloadConcurrency, keys.length) }, (_, w) => worker(w)));
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** A results table for people. */
export function formatBenchResults(results: readonly BenchResult[]): string {
  const header = ['WORKLOAD', 'CLIENTS', 'CONNS', 'SECONDS', 'OPS', 'OPS/S', 'P50 MS', 'P99 MS', 'P99.9 MS', 'ERRORS'];
  const rows = results.map((r) => [
    r.workload + ((r.workload === Workload.Get || r.workload === Workload.Mixed) && r.consistency === Consistency.Stale ? ' (stale)' : ''),
    String(r.clients),
    String(r.connections),
    r.durationS.toFixed(1),
    String(r.ops),
    r.opsPerSec.toLocaleString('en-US'),
    r.latencyMs.p50.toFixed(3),
    r.latencyMs.p99.toFixed(3),
    r.latencyMs.p999.toFixed(3),
    String(r.errors),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const loads = results.map((r) => r.loadAverage1m.toFixed(2)).join(', ');
  return [line(header), ...rows.map(line), `(1-minute load average when each run began: ${loads})`].join('\n');
}
