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
 *   npm run bench:kv -- --tls        the secure set-up (issue 12): mutual TLS
 *                                    between members, TLS for clients, auth
 *                                    enabled, every client logged in as one
 *                                    user with a readwrite role on every key
 *   npm run bench:kv -- --compare-tls  a plaintext and a --tls cluster side by
 *                                    side, each workload on one then the other,
 *                                    and the TLS/plaintext ratio per workload
 *   npm run bench:kv -- --leases 100000   leases in the keep-alive case (0 skips
 *                                    it; see lease-keepalive.ts)
 *   npm run bench:kv -- --watchers 1000   watchers in the watch fan-out case (0
 *                                    skips it; see watch-fanout.ts)
 *   npm run bench:kv -- --watch-procs 4 --watch-conns 1   the watchers' processes,
 *                                    and client connections in each (spread
 *                                    over the members)
 *   npm run bench:kv -- --watch-put-rate 1500   caps the fan-out case's puts/s
 *                                    (0, the default: as fast as answered), for
 *                                    comparing members' CPU per event at one load
 *   npm run bench:kv -- --only watch      only the named cases, comma-separated:
 *                                    put, txn, get, seq (1 client), watch, leases
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect, type ConnectOptions } from '../src/client/index.js';
import { LocalCluster, MemberOutput } from '../src/cli/dev/local-cluster.js';
import { freePortRange } from '../src/cli/dev/free-ports.js';
import { formatBenchResults, runBench, Workload, type BenchResult } from '../src/cli/bench/run-bench.js';
import { ProgressBar } from '../src/cli/bench/progress-bar.js';
import { formatTable } from '../src/cli/table.js';
import { ensureTlsMaterial } from '../src/cli/dev/tls-material.js';
import { formatLeaseBench, runLeaseKeepAliveBench } from './lease-keepalive.js';
import { formatWatchFanout, runWatchFanoutBench } from './watch-fanout.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '5' },
    clients: { type: 'string', default: '64' },
    'keep-logs': { type: 'boolean', default: false },
    'peer-tls': { type: 'boolean', default: false },
    tls: { type: 'boolean', default: false },
    'compare-tls': { type: 'boolean', default: false },
    leases: { type: 'string', default: '100000' },
    watchers: { type: 'string', default: '1000' },
    'watch-procs': { type: 'string', default: '4' },
    'watch-conns': { type: 'string', default: '1' },
    'watch-put-rate': { type: 'string', default: '0' },
    only: { type: 'string' },
  },
});
const durationS = Number(values.duration);
const warmupS = Number(values.warmup);
const clients = Number(values.clients);

const CASE_NAMES = ['put', 'txn', 'get', 'seq', 'watch', 'leases'] as const;
const only = new Set((values.only ?? CASE_NAMES.join(',')).split(',').map((name) => name.trim()));
for (const name of only) if (!(CASE_NAMES as readonly string[]).includes(name)) throw new Error(`--only: unknown case ${name} (known: ${CASE_NAMES.join(', ')})`);
const cases: { label: string; workload: Workload; clients: number }[] = [
  { name: 'put', label: `put, ${clients} clients`, workload: Workload.Put, clients },
  { name: 'txn', label: `txn (2 compares, 2 puts), ${clients} clients`, workload: Workload.Txn, clients },
  { name: 'get', label: `get (linearizable), ${clients} clients`, workload: Workload.Get, clients },
  { name: 'seq', label: 'put, 1 sequential client', workload: Workload.Put, clients: 1 },
].filter((c) => only.has(c.name));

const Mode = { Plain: 'plain', PeerTls: 'peer-tls', Tls: 'tls' } as const;
type Mode = (typeof Mode)[keyof typeof Mode];

/** The one user every bench client logs in as in --tls mode. */
const benchUser = { user: 'bench', password: 'bench-password' };

interface BenchCluster {
  readonly mode: Mode;
  readonly cluster: LocalCluster;
  readonly dataDir: string;
  /** How bench clients connect (TLS files, login). */
  readonly connect: Pick<ConnectOptions, 'tls' | 'auth'>;
}

async function startCluster(mode: Mode): Promise<BenchCluster> {
  const dataDir = mkdtempSync(join(tmpdir(), `concord-bench-kv-${mode}-`));
  const peerOffset = 100;
  const clientPortBase = await freePortRange(3, peerOffset);
  const names = ['n1', 'n2', 'n3'];
  const material = mode === Mode.Plain ? null : await ensureTlsMaterial({ dir: join(dataDir, 'tls'), members: names });
  const files = material === null ? null : { caFile: material.caFile, members: material.members };
  const cluster = await LocalCluster.start({
    peerTls: files,
    clientTls: mode === Mode.Tls && files !== null ? { ...files, clientCertAuth: false, probe: null } : null,
    probeAuth: mode === Mode.Tls ? benchUser : null,
    nodes: 3,
    dataDir,
    clientPortBase,
    peerPortBase: clientPortBase + peerOffset,
    output: MemberOutput.LogFile,
    serverArgs: ['--log-level', 'warn'],
  });
  const bench: BenchCluster = {
    mode,
    cluster,
    dataDir,
    connect: mode === Mode.Tls && material !== null ? { tls: { ca: readFileSync(material.caFile) }, auth: benchUser } : {},
  };
  if (mode === Mode.Tls) await enableAuth(bench);
  await cluster.waitForLeader({ timeoutMs: 30_000 });
  return bench;
}

/** root (required to enable), and the bench user with readwrite on every key; then auth on. */
async function enableAuth(bench: BenchCluster): Promise<void> {
  await bench.cluster.waitForLeader({ timeoutMs: 30_000 });
  const admin = await connect({ endpoints: bench.cluster.endpoints, timeoutMs: 30_000, openSessionOnConnect: false, ...(bench.connect.tls !== undefined ? { tls: bench.connect.tls } : {}) });
  try {
    await admin.admin('user.add', { name: 'root', password: 'root-password' });
    await admin.admin('user.add', { name: benchUser.user, password: benchUser.password });
    await admin.admin('role.add', { name: 'bench-rw' });
    await admin.admin('role.grantPermission', { name: 'bench-rw', permission: { access: 'readwrite', key: new Uint8Array(0), rangeEnd: Uint8Array.of(0) } });
    await admin.admin('user.grantRole', { name: benchUser.user, role: 'bench-rw' });
    await admin.admin('auth.enable', {});
  } finally {
    await admin.close().catch(() => undefined);
  }
}

async function stopCluster(bench: BenchCluster): Promise<void> {
  await bench.cluster.stop();
  if (!values['keep-logs']) rmSync(bench.dataDir, { recursive: true, force: true });
}

async function runCase(bench: BenchCluster, c: (typeof cases)[number]): Promise<BenchResult> {
  const bar = new ProgressBar(`${c.label} [${bench.mode}]`);
  const result = await runBench({
    endpoints: bench.cluster.endpoints,
    workload: c.workload,
    clients: c.clients,
    durationS,
    warmupS,
    valueBytes: 256,
    keys: 10_000,
    ...bench.connect,
    onProgress: (p) => bar.update(p),
  });
  bar.done();
  if (values.json) process.stdout.write(JSON.stringify({ case: c.label, mode: bench.mode, ...result }) + '\n');
  return result;
}

const modes: Mode[] = values['compare-tls'] ? [Mode.Plain, Mode.Tls] : [values.tls ? Mode.Tls : values['peer-tls'] ? Mode.PeerTls : Mode.Plain];
const clusters: BenchCluster[] = [];
const cleanup = async (): Promise<void> => {
  await Promise.all(clusters.map((c) => stopCluster(c)));
};
process.once('SIGINT', () => {
  void cleanup().then(() => process.exit(130));
});

try {
  // Both clusters up before any measurement (the idle one costs only heartbeats), so each pair runs back to back.
  for (const mode of modes) {
    const bench = await startCluster(mode);
    clusters.push(bench);
    if (!values.json) process.stderr.write(`${mode} cluster ready at ${bench.cluster.endpoints.join(',')} (data in ${bench.dataDir})\n`);
  }
  const results = new Map<Mode, BenchResult[]>(modes.map((m) => [m, []]));
  for (const c of cases) {
    for (const bench of clusters) results.get(bench.mode)!.push(await runCase(bench, c));
  }
  if (!values.json) {
    for (const mode of modes) {
      if (modes.length > 1) process.stdout.write(`\n${mode}:\n`);
      process.stdout.write(formatBenchResults(results.get(mode)!) + '\n');
    }
  }
  if (modes.length > 1) {
    const plain = results.get(Mode.Plain)!;
    const secure = results.get(Mode.Tls)!;
    const rows = cases.map((c, i) => [c.label, String(plain[i]!.opsPerSec), String(secure[i]!.opsPerSec), (secure[i]!.opsPerSec / Math.max(1, plain[i]!.opsPerSec)).toFixed(2)]);
    const load = (loadavg()[0] ?? 0).toFixed(2);
    if (values.json) {
      process.stdout.write(JSON.stringify({ compare: rows.map(([label, p, t, ratio]) => ({ case: label, plainOpsPerSec: Number(p), tlsOpsPerSec: Number(t), ratio: Number(ratio) })), loadAverage1m: Number(load) }) + '\n');
    } else {
      process.stdout.write(`\nTLS (mutual TLS between members, TLS and auth for clients) vs plaintext, load average ${load}:\n`);
      process.stdout.write(formatTable(['WORKLOAD', 'PLAIN OPS/S', 'TLS OPS/S', 'TLS/PLAIN'], rows) + '\n');
    }
  }
  // On the first cluster (plaintext unless --tls alone): the txn/put ratio, then the lease keep-alive case.
  const first = clusters[0]!;
  const firstResults = results.get(first.mode)!;
  const put = firstResults.find((r) => r.workload === Workload.Put && r.clients === clients);
  const txn = firstResults.find((r) => r.workload === Workload.Txn);
  if (put !== undefined && txn !== undefined && put.opsPerSec > 0) {
    const ratio = Math.round((txn.opsPerSec / put.opsPerSec) * 100) / 100;
    if (values.json) process.stdout.write(JSON.stringify({ case: 'txn/put', mode: first.mode, ratio, target: 0.8 }) + '\n');
    else process.stdout.write(`txn/put ops/s [${first.mode}]: ${ratio}x (target >= 0.8x)\n`);
  }
  const watchers = only.has('watch') ? Number(values.watchers) : 0;
  if (watchers > 0 && first.mode !== Mode.Tls) {
    if (!values.json) process.stderr.write(`watch fan-out: ${watchers} watchers...\n`);
    const fanout = await runWatchFanoutBench({
      endpoints: first.cluster.endpoints,
      memberPids: first.cluster.members.map((m) => m.process!.pid!),
      watchers,
      watchProcesses: Number(values['watch-procs']),
      connectionsPerProcess: Number(values['watch-conns']),
      putsPerSec: Number(values['watch-put-rate']),
      putClients: clients,
      durationS,
      warmupS,
    });
    if (values.json) process.stdout.write(JSON.stringify({ case: 'watch fan-out', ...fanout }) + '\n');
    else process.stdout.write(formatWatchFanout(fanout) + '\n');
  }
  const leases = only.has('leases') ? Number(values.leases) : 0;
  if (leases > 0 && first.mode !== Mode.Tls) {
    if (!values.json) process.stderr.write(`lease keep-alive: granting ${leases} leases...\n`);
    const lease = await runLeaseKeepAliveBench({
      endpoints: first.cluster.endpoints,
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
