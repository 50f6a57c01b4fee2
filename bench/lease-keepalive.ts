/**
 * The lease keep-alive case of `npm run bench:kv`: grants `leases` leases
 * (default 100,000, TTL 10 s) from a few clients, keeps every one alive with
 * the client library's background helper (coalesced: one `lease.keepAlive`
 * request, one log entry, per up to 10,000 leases per interval), and runs the
 * put workload meanwhile. Reports the keep-alive entries and renewals per
 * second, and the put throughput beside the same workload without leases:
 * the keep-alives' cost as a fraction of put throughput.
 */
import { connect, type KeepAliveHandle, type KvClient } from '../src/client/index.js';
import { runBench, Workload, type BenchResult } from '../src/cli/bench/run-bench.js';

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
}

const grantConcurrency = 256;

export async function runLeaseKeepAliveBench(options: {
  endpoints: readonly string[];
  leases: number;
  ttlMs: number;
  holders: number;
  durationS: number;
  warmupS: number;
  putClients: number;
  baseline: BenchResult;
}): Promise<LeaseBenchResult> {
  const holders: KvClient[] = [];
  const handles: KeepAliveHandle[] = [];
  try {
    for (let i = 0; i < options.holders; i++) holders.push(await connect({ endpoints: options.endpoints, timeoutMs: 30_000 }));
    const grantStart = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: grantConcurrency }, async (_, w) => {
        const client = holders[w % holders.length]!;
        while (next < options.leases) {
          next++;
          const lease = await client.lease.grant(options.ttlMs);
          handles.push(client.lease.keepAlive(lease.id, { ttlMs: lease.ttlMs }));
        }
      }),
    );
    const grantSeconds = (performance.now() - grantStart) / 1000;
    let lost = 0;
    for (const h of handles) void h.done.then((e) => (lost += e === null ? 0 : 1));
    const before = holders.map((c) => ({ requests: c.lease.keepAliveRequests, renewals: c.lease.keepAliveRenewals }));
    const measureStart = performance.now();
    const puts = await runBench({
      endpoints: options.endpoints,
      workload: Workload.Put,
      clients: options.putClients,
      durationS: options.durationS,
      warmupS: options.warmupS,
      valueBytes: 256,
      keys: 10_000,
    });
    const seconds = (performance.now() - measureStart) / 1000;
    const requests = holders.reduce((n, c, i) => n + c.lease.keepAliveRequests - before[i]!.requests, 0);
    const renewals = holders.reduce((n, c, i) => n + c.lease.keepAliveRenewals - before[i]!.renewals, 0);
    return {
      leases: options.leases,
      ttlMs: options.ttlMs,
      grantSeconds: round(grantSeconds),
      keepAliveEntriesPerSec: round(requests / seconds),
      renewalsPerSec: round(renewals / seconds),
      putOpsPerSecWithKeepAlives: puts.opsPerSec,
      putOpsPerSecBaseline: options.baseline.opsPerSec,
      costFraction: round(1 - puts.opsPerSec / options.baseline.opsPerSec, 3),
      leasesLost: lost,
      loadAverage1m: puts.loadAverage1m,
    };
  } finally {
    for (const h of handles) h.stop();
    await Promise.all(holders.map((c) => c.close().catch(() => {})));
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
    `  put ops/s with keep-alives ${r.putOpsPerSecWithKeepAlives} vs ${r.putOpsPerSecBaseline} without: cost ${(r.costFraction * 100).toFixed(1)}% of put throughput (target < 5%), load average ${r.loadAverage1m}`,
  ].join('\n');
}
