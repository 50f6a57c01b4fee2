/**
 * One watcher process of the watch fan-out bench (watch-fanout.ts), so that
 * the watchers' client-side work runs beside, not inside, the process that
 * puts: opens one client per endpoint given (each on that member only), puts
 * WATCHERS watchers on the bench prefix round-robin over them, and records
 * the delivery time (performance.timeOrigin + performance.now(), comparable
 * across the processes of one machine) of every revision that is a multiple
 * of SAMPLE_EVERY, at every watcher: a uniform sample of all deliveries.
 *
 * Messages from the parent: { type: 'window', from, to? } counts the events
 * of revisions in [from, to] as delivered; { type: 'report', ackRevisions,
 * ackTimesMs } answers with the delays of the sampled deliveries as a
 * histogram; { type: 'stop' } closes the clients and exits.
 *
 *   node dist/bench/watch-fanout-watchers.js ENDPOINT[,ENDPOINT...] WATCHERS SAMPLE_EVERY PREFIX
 */
import { setMaxListeners } from 'node:events';
import { connect, type KvClient } from '../src/client/index.js';
import { DELAY_BUCKET_MS, DELAY_BUCKETS } from './watch-fanout.js';

/** Bound of the delivery samples kept in this process. */
const SAMPLES_MAX = 8_000_000;

export interface WatcherReport {
  readonly type: 'report';
  readonly delivered: number;
  readonly lost: number;
  /** Delay counts per DELAY_BUCKET_MS bucket; deliveries before their put's acknowledgement count as 0. */
  readonly histogram: number[];
  readonly samples: number;
  readonly maxMs: number;
  /** The member each client was served by at the end. */
  readonly members: (string | null)[];
}

const [endpointsArg, watchersArg, sampleEveryArg, prefix] = process.argv.slice(2);
const endpoints = (endpointsArg ?? '').split(',');
const watcherCount = Number(watchersArg);
const sampleEvery = Number(sampleEveryArg);

const clients: KvClient[] = [];
for (const endpoint of endpoints) clients.push(await connect({ endpoints: [endpoint], timeoutMs: 30_000 }));
const controller = new AbortController();
setMaxListeners(0, controller.signal);
const streams = Array.from({ length: watcherCount }, (_, i) => clients[i % clients.length]!.watch({ prefix: prefix! }, { signal: controller.signal }));
await Promise.all(streams.map((s) => s.started));

let from = Infinity;
let to = Infinity;
let delivered = 0;
let lost = 0;
const sampleRevisions = new Float64Array(SAMPLES_MAX);
const sampleTimesMs = new Float64Array(SAMPLES_MAX);
let samples = 0;
const consumers = streams.map(async (stream) => {
  try {
    for await (const batch of stream) {
      const nowMs = performance.timeOrigin + performance.now();
      for (const e of batch.events) {
        const rev = e.kv.modRevision;
        if (rev < from || rev > to) continue;
        delivered++;
        if (rev % sampleEvery === 0 && samples < SAMPLES_MAX) {
          sampleRevisions[samples] = rev;
          sampleTimesMs[samples++] = nowMs;
        }
      }
    }
  } catch {
    if (!controller.signal.aborted) lost++;
  }
});
process.send!({ type: 'ready' });

function report(ackRevisions: number[], ackTimesMs: number[]): WatcherReport {
  const ackAt = new Map<number, number>();
  for (let i = 0; i < ackRevisions.length; i++) ackAt.set(ackRevisions[i]!, ackTimesMs[i]!);
  const histogram = new Array<number>(DELAY_BUCKETS).fill(0);
  let counted = 0;
  let maxMs = 0;
  for (let i = 0; i < samples; i++) {
    const ack = ackAt.get(sampleRevisions[i]!);
    if (ack === undefined) continue;
    const delayMs = Math.max(0, sampleTimesMs[i]! - ack);
    maxMs = Math.max(maxMs, delayMs);
    histogram[Math.min(DELAY_BUCKETS - 1, Math.floor(delayMs / DELAY_BUCKET_MS))]!++;
    counted++;
  }
  return { type: 'report', delivered, lost, histogram, samples: counted, maxMs, members: streams.slice(0, clients.length).map((s) => s.member) };
}

process.on('message', (message: { type: string; from?: number; to?: number; ackRevisions?: number[]; ackTimesMs?: number[] }) => {
  if (message.type === 'window') {
    from = message.from!;
    to = message.to ?? Infinity;
  } else if (message.type === 'report') {
    process.send!(report(message.ackRevisions!, message.ackTimesMs!));
  } else if (message.type === 'stop') {
    controller.abort();
    void Promise.all(consumers)
      .then(() => Promise.all(clients.map((c) => c.close().catch(() => undefined))))
      .then(() => process.exit(0));
  }
});
