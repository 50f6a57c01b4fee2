/**
 * `npm run bench:kv`: starts a local 3-member cluster (real server processes,
 * fsync on, in a temp dir), runs `concord bench`'s put, txn (2 compares, 2
 * puts) and get workloads with 64 clients and one sequential client's puts,
 * prints the results and txn's ops/s relative to put's in the same run, stops
 * the cluster and removes its data.
 *
 *   npm run bench:kv                 a table
 *   npm run bench:kv -- --json       one JSON object per workload
 *   npm run bench:kv -- --duration 5 seconds per workload (default 10)
 *   npm run bench:kv -- --warmup 0   unmeasured seconds of the same load before
 *                                    each workload (default 5: the servers' JIT
 *                                    warm-up; see run-bench.ts)
 *   npm run bench:kv -- --peer-tls   mutual TLS between the members (a fresh
 *                                    local CA in the temp dir; clients plain)
 *   npm run bench:kv -- --leases 100000   leases in the keep-alive case (0 skips
 *                                    it; see lease-keepalive.ts)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalCluster, MemberOutput } from '../src/cli/dev/local-cluster.js';
import { freePortRange } from '../src/cli/dev/free-ports.js';
import { formatBenchResults, runBench, Workload, type BenchResult } from '../src/cli/bench/run-bench.js';
import { ProgressBar } from '../src/cli/bench/progress-bar.js';
import { ensureTlsMaterial } from '../src/cli/dev/tls-material.js';
import { formatLeaseBench, runLeaseKeepAliveBench } from './lease-keepalive.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '5' },
    clients: { type: 'string', default: '64' },
    'keep-logs': { type: 'boolean', default: false },
    'peer-tls': { type: 'boolean', default: false },
    leases: { type: 'string', default: '100000' },
  },
});
const durationS = Number(values.duration);
const warmupS = Number(values.warmup);
const clients = Number(values.clients);

const cases: { label: string; workload: Workload; clients: number }[] = [
  { label: `put, ${clients} clients`, workload: Workload.Put, clients },
  { label: `txn (2 compares, 2 puts), ${clients} clients`, workload: Workload.Txn, clients },
  { label: `get (linearizable), ${clients} clients`, workload: Workload.Get, clients },
  { label: 'put, 1 sequential client', workload: Workload.Put, clients: 1 },
];

const dataDir = mkdtempSync(join(tmpdir(), 'concord-bench-kv-'));
const peerOffset = 100;
const clientPortBase = await freePortRange(3, peerOffset);
const material = values['peer-tls'] ? await ensureTlsMaterial({ dir: join(dataDir, 'tls'), members: ['n1', 'n2', 'n3'] }) : null;
const cluster = await LocalCluster.start({
  peerTls: material === null ? null : { caFile: material.caFile, members: material.members },
  nodes: 3,
  dataDir,
  clientPortBase,
  peerPortBase: clientPortBase + peerOffset,
  output: MemberOutput.LogFile,
  serverArgs: ['--log-level', 'warn'],
});
const cleanup = async (): Promise<void> => {
  await cluster.stop();
  if (!values['keep-logs']) rmSync(dataDir, { recursive: true, force: true });
};
process.once('SIGINT', () => {
  void cleanup().then(() => process.exit(130));
});

const results: BenchResult[] = [];
try {
  await cluster.waitForLeader({ timeoutMs: 30_000 });
  if (!values.json) process.stderr.write(`cluster ready at ${cluster.endpoints.join(',')} (data in ${dataDir})\n`);
  for (const c of cases) {
    const bar = new ProgressBar(c.label);
    const result = await runBench({
      endpoints: cluster.endpoints,
      workload: c.workload,
      clients: c.clients,
      durationS,
      warmupS,
      valueBytes: 256,
      keys: 10_000,
      onProgress: (p) => bar.update(p),
    });
    bar.done();
    results.push(result);
    if (values.json) process.stdout.write(JSON.stringify({ case: c.label, ...result }) + '\n');
  }
  if (!values.json) process.stdout.write(formatBenchResults(results) + '\n');
  const put = results.find((r) => r.workload === Workload.Put && r.clients === clients);
  const txn = results.find((r) => r.workload === Workload.Txn);
  if (put !== undefined && txn !== undefined && put.opsPerSec > 0) {
    const ratio = Math.round((txn.opsPerSec / put.opsPerSec) * 100) / 100;
    if (values.json) process.stdout.write(JSON.stringify({ case: 'txn/put', ratio, target: 0.8 }) + '\n');
    else process.stdout.write(`txn/put ops/s: ${ratio}x (target >= 0.8x)\n`);
  }
  const leases = Number(values.leases);
  if (leases > 0) {
    if (!values.json) process.stderr.write(`lease keep-alive: granting ${leases} leases...\n`);
    const lease = await runLeaseKeepAliveBench({
      endpoints: cluster.endpoints,
      leases,
      ttlMs: 10_000,
      holders: 4,
      durationS,
      warmupS,
      putClients: clients,
    });
    if (values.json) process.stdout.write(JSON.stringify({ case: 'lease keep-alive', ...lease }) + '\n');
    else process.stdout.write(formatLeaseBench(lease) + '\n');
  }
} finally {
  await cleanup();
}
