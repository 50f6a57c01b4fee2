/**
 * `npm run bench:resp`: redis-benchmark against a local 3-member Concord
 * (RESP on every member, fsync on), through the leader and through a
 * follower (which forwards to the leader), and, in the same run, against one
 * redis-server with appendonly yes + appendfsync always and with
 * persistence off, each with -P 1 and -P 16. Each test runs on its own, so
 * every row also gets the CPU time the serving processes spent per request
 * (the leader's, and the follower's when it was the one talked to; the
 * redis-server's): wall-clock rates move with the machine's load, CPU per
 * request much less. Prints a table (or --json) with the load average.
 *
 *   npm run bench:resp                     -n 200000 -c 50, tests set,get,incr
 *   npm run bench:resp -- --json           one JSON object
 *   npm run bench:resp -- -n 20000         fewer requests
 *   npm run bench:resp -- --via leader     only through the leader
 *
 * INCR (one hot key, one incr write decided at apply time) runs `--incr-n`
 * requests (default 20000).
 *
 * redis-benchmark comes from Debian's redis-tools, redis-server from
 * redis-server: installed here with apt-get when missing and possible
 * (the redis-server rows are skipped, with one line, otherwise).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalCluster, MemberOutput } from '../src/cli/dev/local-cluster.js';
import { freePort, freePortRange } from '../src/cli/dev/free-ports.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    n: { type: 'string', short: 'n', default: '200000' },
    'incr-n': { type: 'string', default: '20000' },
    c: { type: 'string', short: 'c', default: '50' },
    tests: { type: 'string', default: 'set,get,incr' },
    via: { type: 'string', default: 'leader,follower' },
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
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** CPU time (user + system) the serving processes spent per request, in microseconds: [leader or redis-server, the follower talked to]. */
  readonly cpuPerRequestUs: readonly number[];
}

const clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** A process's CPU time so far (user + system), in seconds, from /proc (0 where there is no /proc). */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
  } catch {
    return 0;
  }
}

/**
 * Runs redis-benchmark --csv for each test on its own ("SET","12345.67","avg","min","p50","p95","p99","max"),
 * with the CPU time of `pids` (the processes serving it) per request.
 */
function benchmark(target: string, port: number, pipeline: number, pids: readonly number[]): Row[] {
  const rows: Row[] = [];
  for (const test of values.tests!.split(',')) {
    const requests = Number(test === 'incr' ? values['incr-n'] : values.n);
    const cpuBefore = pids.map(cpuSeconds);
    const out = execFileSync('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), '-t', test, '-n', String(requests), '-c', values.c!, '-P', String(pipeline), '--csv'], {
      encoding: 'utf8',
      maxBuffer: 16 * 1024 * 1024,
      timeout: 30 * 60_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const cpuPerRequestUs = pids.map((pid, i) => Math.round(((cpuSeconds(pid) - cpuBefore[i]!) * 1e6) / requests));
    for (const line of out.split('\n')) {
      const cells = line.split(',').map((c) => c.replace(/"/g, ''));
      if (cells.length < 2 || cells[0] === 'test' || !Number.isFinite(Number(cells[1]))) continue;
      rows.push({
        target,
        pipeline,
        test: cells[0]!.split(' ')[0]!,
        requests,
        rps: Number(cells[1]),
        p50Ms: cells[4] !== undefined ? Number(cells[4]) : null,
        p99Ms: cells[6] !== undefined ? Number(cells[6]) : null,
        cpuPerRequestUs,
      });
    }
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
  const follower = cluster.members.find((m) => m !== leader)!;
  const portOf = (url: string): number => Number(url.slice(url.lastIndexOf(':') + 1));
  for (const via of values.via!.split(',')) {
    const member = via === 'follower' ? follower : leader;
    const pids = [leader.process!.pid!, ...(member === leader ? [] : [member.process!.pid!])];
    for (const p of [1, 16]) rows.push(...benchmark(`concord ${via} (${member.name})`, portOf(member.respUrl!), p, pids));
  }
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
      for (const p of [1, 16]) rows.push(...benchmark(label, port, p, [server.pid!]));
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
const result = {
  requests: Number(values.n),
  incrRequests: Number(values['incr-n']),
  clients: Number(values.c),
  loadavgBefore: loadBefore.map((l) => +l.toFixed(2)),
  loadavgAfter: loadAfter.map((l) => +l.toFixed(2)),
  rows,
  notes,
};
if (values.json) {
  console.log(JSON.stringify(result));
} else {
  console.log(`redis-benchmark -n ${values.n} (INCR -n ${values['incr-n']}) -c ${values.c}; load average ${result.loadavgBefore.join(' ')} before, ${result.loadavgAfter.join(' ')} after`);
  console.log('CPU us/req: CPU time of the leader (or redis-server) per request, then of the follower talked to');
  console.log(`${'target'.padEnd(32)} ${'-P'.padStart(3)} ${'test'.padEnd(5)} ${'req/s'.padStart(10)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}  CPU us/req`);
  for (const r of rows) {
    console.log(
      `${r.target.padEnd(32)} ${String(r.pipeline).padStart(3)} ${r.test.padEnd(5)} ${r.rps.toFixed(0).padStart(10)} ${String(r.p50Ms ?? '-').padStart(8)} ${String(r.p99Ms ?? '-').padStart(8)}  ${r.cpuPerRequestUs.join(' + ')}`,
    );
  }
  for (const n of notes) console.log(n);
}
