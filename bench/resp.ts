/**
 * `npm run bench:resp`: redis-benchmark against a local 3-member Concord
 * (RESP on every member, fsync on; the benchmark talks to the leader) and,
 * in the same run, against one redis-server with appendonly yes +
 * appendfsync always and with persistence off, each with -P 1 and -P 16.
 * Prints a table (or --json) with the load average: figures measured while
 * other work runs on the machine are not comparable.
 *
 *   npm run bench:resp                  -n 200000 -c 50, tests set,get,incr
 *   npm run bench:resp -- --json        one JSON object
 *   npm run bench:resp -- -n 20000      fewer requests
 *
 * redis-benchmark comes from Debian's redis-tools, redis-server from
 * redis-server: installed here with apt-get when missing and possible
 * (the redis-server rows are skipped, with one line, otherwise).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalCluster, MemberOutput } from '../src/cli/dev/local-cluster.js';
import { freePort, freePortRange } from '../src/cli/dev/free-ports.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    n: { type: 'string', short: 'n', default: '200000' },
    c: { type: 'string', short: 'c', default: '50' },
    tests: { type: 'string', default: 'set,get,incr' },
  },
});

function ensurePackage(binary: string, pkg: string): boolean {
  if (existsSync(binary)) return true;
  if (process.getuid?.() !== 0) return false;
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
  spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return existsSync(binary);
}

interface Row {
  readonly target: string;
  readonly pipeline: number;
  readonly test: string;
  readonly rps: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

/** Runs redis-benchmark --csv and reads its rows ("SET","12345.67","avg","min","p50","p95","p99","max"). */
function benchmark(target: string, port: number, pipeline: number): Row[] {
  const out = execFileSync('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), '-t', values.tests!, '-n', values.n!, '-c', values.c!, '-P', String(pipeline), '--csv'], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
    timeout: 30 * 60_000,
  });
  const rows: Row[] = [];
  for (const line of out.split('\n')) {
    const cells = line.split(',').map((c) => c.replace(/"/g, ''));
    if (cells.length < 2 || cells[0] === 'test' || !Number.isFinite(Number(cells[1]))) continue;
    rows.push({ target, pipeline, test: cells[0]!.split(' ')[0]!, rps: Number(cells[1]), p50Ms: cells[4] !== undefined ? Number(cells[4]) : null, p99Ms: cells[6] !== undefined ? Number(cells[6]) : null });
  }
  return rows;
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing answers PING on ${port}`);
}

if (!ensurePackage('/usr/bin/redis-benchmark', 'redis-tools')) {
  console.error('bench:resp: redis-benchmark is missing (Debian redis-tools); nothing measured');
  process.exit(1);
}
const rows: Row[] = [];
const notes: string[] = [];
const loadBefore = loadavg();

const dataDir = mkdtempSync(join(tmpdir(), 'concord-bench-resp-'));
const base = await freePortRange(3, 100);
const respBase = await freePortRange(3, 0);
const cluster = await LocalCluster.start({
  nodes: 3,
  dataDir,
  clientPortBase: base,
  peerPortBase: base + 100,
  respPortBase: respBase,
  output: MemberOutput.LogFile,
  serverArgs: ['--log-level', 'warn'],
});
try {
  const { leader } = await cluster.waitForLeader({ timeoutMs: 60_000 });
  const port = Number(leader.respUrl!.slice(leader.respUrl!.lastIndexOf(':') + 1));
  for (const p of [1, 16]) rows.push(...benchmark('concord (3 members, leader)', port, p));
} finally {
  await cluster.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

if (ensurePackage('/usr/bin/redis-server', 'redis-server')) {
  for (const [label, args] of [
    ['redis-server appendfsync always', ['--appendonly', 'yes', '--appendfsync', 'always', '--save', '']],
    ['redis-server no persistence', ['--appendonly', 'no', '--save', '']],
  ] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'concord-bench-redis-'));
    const port = await freePort();
    const server: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, ...args], { stdio: 'ignore' });
    try {
      await waitForPort(port);
      for (const p of [1, 16]) rows.push(...benchmark(label, port, p));
    } finally {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  }
} else {
  notes.push('redis-server rows skipped: redis-server is not installed and could not be (needs root and apt-get)');
}

const loadAfter = loadavg();
const result = { requests: Number(values.n), clients: Number(values.c), loadavgBefore: loadBefore.map((l) => +l.toFixed(2)), loadavgAfter: loadAfter.map((l) => +l.toFixed(2)), rows, notes };
if (values.json) {
  console.log(JSON.stringify(result));
} else {
  console.log(`redis-benchmark -n ${values.n} -c ${values.c}; load average ${result.loadavgBefore.join(' ')} before, ${result.loadavgAfter.join(' ')} after`);
  console.log(`${'target'.padEnd(34)} ${'-P'.padStart(3)} ${'test'.padEnd(5)} ${'req/s'.padStart(12)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}`);
  for (const r of rows) {
    console.log(`${r.target.padEnd(34)} ${String(r.pipeline).padStart(3)} ${r.test.padEnd(5)} ${r.rps.toFixed(0).padStart(12)} ${String(r.p50Ms ?? '-').padStart(8)} ${String(r.p99Ms ?? '-').padStart(8)}`);
  }
  for (const n of notes) console.log(n);
}
