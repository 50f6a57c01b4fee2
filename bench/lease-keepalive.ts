/**
 * The lease keep-alive case of `npm run bench:kv`: grants `leases` leases
 * (default 100,000, TTL 10 s) from a few clients, keeps every one alive with
 * the client library's background helper (coalesced: one `lease.keepAlive`
 * request, one log entry, per up to 10,000 leases per interval), and runs the
 * put workload meanwhile. Reports the keep-alive entries and renewals per
 * second, and the put throughput beside the same workload without leases:
 * the keep-alives' cost as a fraction of put throughput.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { runBench, Workload, type BenchResult } from '../src/cli/bench/run-bench.js';
import { nextMessage } from './child-message.js';

export interface LeaseBenchResult {
  readonly leases: number;
  readonly ttlMs: number;
  readonly grantSeconds: number;
  readonly keepAliveEntriesPerSec: number;
  readonly renewalsPerSec: number;
  readonly putOpsPerSecWithKeepAlives: number;
  readonly putOpsPerSecBaseline: number;
  /** 1 - with / baseline (negative: noise). */
  readonly costFraction: number;
  readonly leasesLost: number;
  readonly loadAverage1m: number;
  readonly baselineLoadAverage1m: number;
}

interface Report {
  readonly requests: number;
  readonly renewals: number;
  readonly lost: number;
}

/**
 * The holders run in a child process (lease-holder.ts); the put workload
 * here. A baseline run of the same put workload comes right before the
 * leases are granted, so both figures come from the same minutes of a shared
 * machine.
 */
export async function runLeaseKeepAliveBench(options: {
  endpoints: readonly string[];
  leases: number;
  ttlMs: number;
  holders: number;
  durationS: number;
  warmupS: number;
  putClients: number;
}): Promise<LeaseBenchResult> {
  const putOptions = {
    endpoints: options.endpoints,
    workload: Workload.Put,
    clients: options.putClients,
    durationS: options.durationS,
    warmupS: options.warmupS,
    valueBytes: 256,
    keys: 10_000,
  };
  const baseline: BenchResult = await runBench(putOptions);
  const child = fork(new URL('./lease-holder.js', import.meta.url), [options.endpoints.join(','), String(options.leases), String(options.ttlMs), String(options.holders)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const ready = await nextMessage<{ grantSeconds: number }>(child, 'ready');
    const report = async (): Promise<Report> => {
      const answer = nextMessage<Report>(child, 'report');
      child.send({ type: 'report' });
      return answer;
    };
    const before = await report();
    const measureStart = performance.now();
    const puts = await runBench(putOptions);
    const seconds = (performance.now() - measureStart) / 1000;
    const after = await report();
    return {
      leases: options.leases,
      ttlMs: options.ttlMs,
      grantSeconds: round(ready.grantSeconds),
      keepAliveEntriesPerSec: round((after.requests - before.requests) / seconds),
      renewalsPerSec: round((after.renewals - before.renewals) / seconds),
      putOpsPerSecWithKeepAlives: puts.opsPerSec,
      putOpsPerSecBaseline: baseline.opsPerSec,
      costFraction: round(1 - puts.opsPerSec / baseline.opsPerSec, 3),
      leasesLost: after.lost,
      loadAverage1m: puts.loadAverage1m,
      baselineLoadAverage1m: baseline.loadAverage1m,
    };
  } finally {
    child.send({ type: 'stop' });
    await new Promise((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(undefined);
      }, 10_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
  }
}

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function formatLeaseBench(r: LeaseBenchResult): string {
  return [
    `lease keep-alive: ${r.leases} leases (TTL ${r.ttlMs / 1000} s), granted in ${r.grantSeconds} s`,
    `  keep-alive entries/s ${r.keepAliveEntriesPerSec}, lease renewals/s ${r.renewalsPerSec}, leases lost ${r.leasesLost}`,
    `  put ops/s with keep-alives ${r.putOpsPerSecWithKeepAlives} (load average ${r.loadAverage1m}) vs ${r.putOpsPerSecBaseline} without, just before (load average ${r.baselineLoadAverage1m}): cost ${(r.costFraction * 100).toFixed(1)}% of put throughput (target < 5%)`,
  ].join('\n');
}
