/**
 * The watch fan-out case of `npm run bench:kv` (`--watchers N`, default
 * 1,000; 0 skips it): N watchers on one prefix, spread over a few clients
 * (each client's watchers share one member and one long-poll), while
 * `putClients` loops put keys under that prefix. Reports the events per
 * second delivered to all watchers together, and the delay from a put's
 * acknowledgement (its answer reaching the putting client) to the event's
 * delivery at each watcher, p50 and p99. An event that arrives before the
 * put's own answer counts as 0 ms. Delays are sampled on every
 * SAMPLE_EVERY-th revision, for every watcher, up to SAMPLES_MAX samples.
 */
import { setMaxListeners } from 'node:events';
import { loadavg } from 'node:os';
import { connect, type KvClient } from '../src/client/index.js';

/** Every this-many-th revision is timed at every watcher. */
const SAMPLE_EVERY = 20;
/** Bound of the delivery samples kept. */
const SAMPLES_MAX = 4_000_000;
const PREFIX = 'fanout/';

export interface WatchFanoutResult {
  readonly watchers: number;
  readonly watchClients: number;
  readonly putClients: number;
  readonly durationS: number;
  readonly putsPerSec: number;
  readonly eventsDeliveredPerSec: number;
  readonly deliveryP50Ms: number;
  readonly deliveryP99Ms: number;
  readonly samples: number;
  /** Watchers that ended early (cancelled or failed): should be 0. */
  readonly watchersLost: number;
  readonly loadAverage1m: number;
}

export async function runWatchFanoutBench(options: {
  endpoints: readonly string[];
  watchers: number;
  putClients: number;
  durationS: number;
  warmupS: number;
  valueBytes?: number;
}): Promise<WatchFanoutResult> {
  const watchClients = Math.max(1, Math.min(8, Math.ceil(options.watchers / 250)));
  const clients: KvClient[] = [];
  const open = async (): Promise<KvClient> => {
    const c = await connect({ endpoints: [...options.endpoints], timeoutMs: 30_000 });
    clients.push(c);
    return c;
  };
  try {
    const putter = await open();
    const watching: KvClient[] = [];
    for (let i = 0; i < watchClients; i++) watching.push(await open());
    const ackAtMs = new Map<number, number>();
    const sampleRevisions: number[] = [];
    const sampleTimesMs: number[] = [];
    let delivered = 0;
    let measuring = false;
    let lost = 0;
    const controller = new AbortController();
    setMaxListeners(0, controller.signal);
    const streams = Array.from({ length: options.watchers }, (_, i) => watching[i % watchClients]!.watch({ prefix: PREFIX }, { signal: controller.signal }));
    await Promise.all(streams.map((s) => s.started));
    const consumers = streams.map(async (stream) => {
      try {
        for await (const batch of stream) {
          const now = performance.now();
          if (!measuring) continue;
          delivered += batch.events.length;
          for (const e of batch.events) {
            const rev = e.kv.modRevision;
            if (rev % SAMPLE_EVERY === 0 && sampleRevisions.length < SAMPLES_MAX) {
              sampleRevisions.push(rev);
              sampleTimesMs.push(now);
            }
          }
        }
      } catch {
        if (!controller.signal.aborted) lost++;
      }
    });
    const value = 'v'.repeat(options.valueBytes ?? 256);
    let puts = 0;
    let stopAtMs = performance.now() + (options.warmupS + options.durationS) * 1000;
    const measureFromMs = performance.now() + options.warmupS * 1000;
    let measureStartMs = 0;
    const loops = Array.from({ length: options.putClients }, async (_, loop) => {
      for (let i = 0; performance.now() < stopAtMs; i++) {
        const { revision } = await putter.put(`${PREFIX}${loop}/${i % 100}`, value);
        const now = performance.now();
        if (!measuring && now >= measureFromMs) {
          measuring = true;
          measureStartMs = now;
        }
        if (measuring) {
          puts++;
          ackAtMs.set(revision, now);
        }
      }
    });
    await Promise.all(loops);
    const seconds = (performance.now() - measureStartMs) / 1000;
    // Let the last events arrive before stopping the watchers.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    measuring = false;
    stopAtMs = 0;
    controller.abort();
    await Promise.all(consumers);
    const delays: number[] = [];
    for (let i = 0; i < sampleRevisions.length; i++) {
      const ack = ackAtMs.get(sampleRevisions[i]!);
      if (ack !== undefined) delays.push(Math.max(0, sampleTimesMs[i]! - ack));
    }
    delays.sort((a, b) => a - b);
    const pct = (p: number): number => (delays.length === 0 ? 0 : round(delays[Math.min(delays.length - 1, Math.floor(delays.length * p))]!, 2));
    return {
      watchers: options.watchers,
      watchClients,
      putClients: options.putClients,
      durationS: round(seconds),
      putsPerSec: round(puts / seconds),
      eventsDeliveredPerSec: round(delivered / seconds),
      deliveryP50Ms: pct(0.5),
      deliveryP99Ms: pct(0.99),
      samples: delays.length,
      watchersLost: lost,
      loadAverage1m: round(loadavg()[0]!, 2),
    };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  }
}

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function formatWatchFanout(r: WatchFanoutResult): string {
  return [
    `watch fan-out: ${r.watchers} watchers on one prefix (${r.watchClients} clients), ${r.putClients} clients putting, ${r.durationS} s`,
    `  puts/s ${r.putsPerSec}, events delivered/s ${r.eventsDeliveredPerSec}, watchers lost ${r.watchersLost}`,
    `  put ack -> delivery: p50 ${r.deliveryP50Ms} ms, p99 ${r.deliveryP99Ms} ms (target p99 < 20 ms; ${r.samples} samples), load average ${r.loadAverage1m}`,
  ].join('\n');
}
