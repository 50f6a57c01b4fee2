/**
 * The watch fan-out case of `npm run bench:kv` (`--watchers N`, default
 * 1,000; 0 skips it): N watchers on one prefix while `putClients` loops put
 * keys under it. The watchers run in `watchProcesses` child processes
 * (watch-fanout-watchers.ts; default 4), each with `connectionsPerProcess`
 * clients spread over the members, and the putters in another
 * (watch-fanout-putters.ts), so that what is measured is the cluster, not
 * one busy client process.
 *
 * Reports the events per second delivered to all watchers together (events
 * of the revisions put in the measured window), and the delay from a put's
 * acknowledgement (its answer reaching the putting process) to the event's
 * delivery at each watcher, p50/p99/max, over every delivery of every
 * SAMPLE_EVERY-th revision (an event that arrives before the put's own
 * answer counts as 0 ms). Timestamps are performance.timeOrigin +
 * performance.now() in each process: comparable on one machine.
 *
 * Also the members' CPU per delivered event (less sensitive to a busy
 * machine than the delays): after the fan-out run the same put load runs
 * without watchers for the members' CPU per put; the fan-out run's member
 * CPU minus that share of its puts, over its delivered events, is what
 * delivery costs.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { cpuMsBetween, sampleProcess } from './proc-stat.js';
import type { PutterDone } from './watch-fanout-putters.js';
import type { WatcherReport } from './watch-fanout-watchers.js';
import { nextMessage } from './child-message.js';

/** Every this-many-th revision is timed at every watcher. */
const SAMPLE_EVERY = 10;
const PREFIX = 'fanout/';
/** Histogram resolution and range of the delays the watcher processes report; slower deliveries land in the last bucket (and in the max). */
export const DELAY_BUCKET_MS = 0.1;
export const DELAY_BUCKETS = 50_000;
/** Time the last events of the measured window get to arrive. */
const DRAIN_MS = 1000;

export interface WatchFanoutResult {
  readonly watchers: number;
  readonly watchProcesses: number;
  readonly watchConnections: number;
  readonly putClients: number;
  readonly durationS: number;
  readonly putsPerSec: number;
  readonly eventsDeliveredPerSec: number;
  readonly deliveryP50Ms: number;
  readonly deliveryP99Ms: number;
  readonly deliveryMaxMs: number;
  readonly samples: number;
  /** The delays per member served (a follower applies a put after the leader acknowledged it). */
  readonly byMember: readonly { member: string; connections: number; p50Ms: number; p99Ms: number }[];
  /** Watchers that ended early (cancelled or failed): should be 0. */
  readonly watchersLost: number;
  /** Members' CPU (all three) per put without watchers and with them, and per delivered event beyond the puts' own (noisy when batching changes). */
  readonly memberCpuUsPerPutAlone: number;
  readonly memberCpuUsPerPutWatched: number;
  readonly memberCpuUsPerEvent: number;
  /** The watcher processes' CPU, as cores busy on average (2 on a 2-core machine is saturated). */
  readonly watcherProcessCores: number;
  readonly loadAverage1m: number;
}

export async function runWatchFanoutBench(options: {
  endpoints: readonly string[];
  memberPids: readonly number[];
  watchers: number;
  putClients: number;
  durationS: number;
  warmupS: number;
  watchProcesses?: number;
  connectionsPerProcess?: number;
  valueBytes?: number;
  /** Caps the put rate (0: as fast as the cluster answers). */
  putsPerSec?: number;
}): Promise<WatchFanoutResult> {
  const watchProcesses = Math.max(1, Math.min(options.watchers, options.watchProcesses ?? 4));
  const connectionsPerProcess = options.connectionsPerProcess ?? 1;
  const children: ChildProcess[] = [];
  const start = (script: string, args: string[]): ChildProcess => {
    const child = fork(fileURLToPath(new URL(script, import.meta.url)), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(child);
    return child;
  };
  try {
    const putter = start('./watch-fanout-putters.js', [options.endpoints.join(','), String(options.putClients), String(options.valueBytes ?? 256), String(SAMPLE_EVERY), PREFIX, String(options.putsPerSec ?? 0)]);
    await nextMessage(putter, 'ready');
    let connection = 0;
    const watcherChildren = Array.from({ length: watchProcesses }, (_, p) => {
      const count = Math.floor(options.watchers / watchProcesses) + (p < options.watchers % watchProcesses ? 1 : 0);
      const endpoints = Array.from({ length: connectionsPerProcess }, () => options.endpoints[connection++ % options.endpoints.length]!);
      return start('./watch-fanout-watchers.js', [endpoints.join(','), String(count), String(SAMPLE_EVERY), PREFIX]);
    });
    await Promise.all(watcherChildren.map((c) => nextMessage(c, 'ready')));
    const run = await measuredRun(putter, options.memberPids, watcherChildren, options);
    await new Promise((resolve) => setTimeout(resolve, DRAIN_MS));
    const reports = await Promise.all(
      watcherChildren.map((c) => {
        const reply = nextMessage<WatcherReport>(c, 'report');
        c.send({ type: 'report', ackRevisions: run.done.ackRevisions, ackTimesMs: run.done.ackTimesMs });
        return reply;
      }),
    );
    // Then the put load alone, on members as warm as in the fan-out run: their CPU per put, charged to that run's puts.
    await Promise.all(watcherChildren.map((c) => stopChild(c)));
    const alone = await measuredRun(putter, options.memberPids, [], options);
    const cpuUsPerPutAlone = (alone.memberCpuMs * 1000) / Math.max(1, alone.done.puts);
    const histogram = reports[0]!.histogram.map((_, i) => reports.reduce((n, r) => n + r.histogram[i]!, 0));
    const samples = reports.reduce((n, r) => n + r.samples, 0);
    const delivered = reports.reduce((n, r) => n + r.delivered, 0);
    const seconds = run.done.seconds;
    const watchCpuMs = run.memberCpuMs - (cpuUsPerPutAlone * run.done.puts) / 1000;
    return {
      watchers: options.watchers,
      watchProcesses,
      watchConnections: watchProcesses * connectionsPerProcess,
      putClients: options.putClients,
      durationS: round(seconds),
      putsPerSec: round(run.done.puts / seconds),
      eventsDeliveredPerSec: round(delivered / seconds),
      deliveryP50Ms: percentile(histogram, samples, 0.5),
      deliveryP99Ms: percentile(histogram, samples, 0.99),
      deliveryMaxMs: round(Math.max(...reports.map((r) => r.maxMs)), 1),
      samples,
      byMember: byMember(reports),
      watchersLost: reports.reduce((n, r) => n + r.lost, 0),
      memberCpuUsPerPutAlone: round(cpuUsPerPutAlone, 1),
      memberCpuUsPerPutWatched: round((run.memberCpuMs * 1000) / Math.max(1, run.done.puts), 1),
      memberCpuUsPerEvent: round((watchCpuMs * 1000) / Math.max(1, delivered), 3),
      watcherProcessCores: round(run.watcherCpuMs / 1000 / seconds, 2),
      loadAverage1m: round(loadavg()[0]!, 2),
    };
  } finally {
    await Promise.all(children.map((c) => stopChild(c)));
  }
}

interface MeasuredRun {
  readonly done: PutterDone;
  readonly memberCpuMs: number;
  readonly watcherCpuMs: number;
}

/** One warm-up plus measured put run; the members' and watchers' CPU sampled at the putter's measured window. */
async function measuredRun(putter: ChildProcess, memberPids: readonly number[], watchers: readonly ChildProcess[], options: { warmupS: number; durationS: number }): Promise<MeasuredRun> {
  const watcherPids = watchers.map((c) => c.pid!);
  const measuring = nextMessage<{ fromRevision: number }>(putter, 'measuring');
  const finished = nextMessage<PutterDone>(putter, 'done');
  putter.send({ type: 'run', warmupS: options.warmupS, durationS: options.durationS });
  const { fromRevision } = await measuring;
  for (const c of watchers) c.send({ type: 'window', from: fromRevision });
  const membersBefore = memberPids.map(sampleProcess);
  const watchersBefore = watcherPids.map(sampleProcess);
  const done = await finished;
  const memberCpuMs = cpuMsBetween(membersBefore, memberPids.map(sampleProcess));
  const watcherCpuMs = cpuMsBetween(watchersBefore, watcherPids.map(sampleProcess));
  for (const c of watchers) c.send({ type: 'window', from: fromRevision, to: done.toRevision });
  return { done, memberCpuMs, watcherCpuMs };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.send({ type: 'stop' });
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function byMember(reports: readonly WatcherReport[]): WatchFanoutResult['byMember'] {
  const names = [...new Set(reports.flatMap((r) => r.members.map((m) => m ?? '?')))].sort();
  return names.map((member) => {
    // A process whose connections span members counts toward each of them.
    const mine = reports.filter((r) => r.members.includes(member));
    const histogram = mine[0]!.histogram.map((_, i) => mine.reduce((n, r) => n + r.histogram[i]!, 0));
    const samples = mine.reduce((n, r) => n + r.samples, 0);
    const connections = reports.reduce((n, r) => n + r.members.filter((m) => (m ?? '?') === member).length, 0);
    return { member, connections, p50Ms: percentile(histogram, samples, 0.5), p99Ms: percentile(histogram, samples, 0.99) };
  });
}

function percentile(histogram: readonly number[], samples: number, p: number): number {
  if (samples === 0) return 0;
  const rank = Math.min(samples - 1, Math.floor(samples * p));
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i]!;
    if (seen > rank) return round((i + 1) * DELAY_BUCKET_MS, 1);
  }
  return round(histogram.length * DELAY_BUCKET_MS, 1);
}

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function formatWatchFanout(r: WatchFanoutResult): string {
  return [
    `watch fan-out: ${r.watchers} watchers on one prefix (${r.watchProcesses} processes, ${r.watchConnections} connections), ${r.putClients} clients putting (own process), ${r.durationS} s`,
    `  puts/s ${r.putsPerSec}, events delivered/s ${r.eventsDeliveredPerSec}, watchers lost ${r.watchersLost}`,
    `  put ack -> delivery: p50 ${r.deliveryP50Ms} ms, p99 ${r.deliveryP99Ms} ms, max ${r.deliveryMaxMs} ms (target p99 < 20 ms; ${r.samples} samples)`,
    `  by member served: ${r.byMember.map((m) => `${m.member} (${m.connections} conns) p50 ${m.p50Ms} / p99 ${m.p99Ms} ms`).join(', ')}`,
    `  members' CPU: ${r.memberCpuUsPerPutAlone} us per put without watchers, ${r.memberCpuUsPerPutWatched} with, ${r.memberCpuUsPerEvent} us per delivered event beyond that; watcher processes ${r.watcherProcessCores} cores; load average ${r.loadAverage1m}`,
  ].join('\n');
}
