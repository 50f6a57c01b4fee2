/**
 * How long a new member takes to catch up by snapshot (issue 13's figure),
 * not a test: a local 3-member cluster (real processes, fsync on, temp dir,
 * a small --snapshot-every-entries so the log is compacted), `--keys` keys of
 * `--value-bytes` written by many concurrent clients (bounded in flight);
 * once the leader has snapshotted and compacted, a learner is added
 * (`members.add(..., { learner: true })`) and started with
 * `--initial-cluster-state existing`. Timed from the spawn of its process to
 * (a) its log line "installed a snapshot from the leader" and (b) the
 * leader's `members.list()` showing it trails by at most 1000 entries (what
 * `member promote` asks) and by 0. Twice: idle (n4), then, after n4 is
 * removed, with 16 clients writing throughout (n5). The snapshot's size is
 * that of the file the learner received; MB/s is that size (10^6 bytes) over
 * (a). The load average is printed beside the figures: the machine may be
 * shared, and the figures then only say that the path works.
 *
 * Usage: npm run bench:catchup [-- --json] [--keys N] [--value-bytes N] [--snapshot-every N]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBenchMembers } from './local-members.js';
import { freePort } from '../src/cli/dev/free-ports.js';
import { benchKey } from '../src/cli/bench/run-bench.js';
import { connect, type KvClient } from '../src/client/index.js';
import { parseSnapshotFileName } from '../src/storage/snapshot-file.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    keys: { type: 'string', default: '100000' },
    'value-bytes': { type: 'string', default: '256' },
    'snapshot-every': { type: 'string', default: '5000' },
  },
});
const keyCount = Number(values.keys);
const valueBytes = Number(values['value-bytes']);
const snapshotEvery = Number(values['snapshot-every']);
/** Puts in flight while writing the keys (bounded: the members' queues are). */
const preloadInFlight = 128;
const loadClients = 16;
/** A catch-up that takes longer than this is reported as not done. */
const catchUpDeadlineMs = 300_000;
const cliEntry = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const serverArgs = ['--snapshot-every-entries', String(snapshotEvery)];

interface CatchUp {
  readonly case: string;
  readonly snapshotInstalledS: number | null;
  readonly promotableS: number | null;
  readonly caughtUpS: number | null;
  readonly snapshotMB: number | null;
  readonly snapshotMBps: number | null;
  readonly loadOps: number;
  readonly loadavg: readonly number[];
}

const round = (v: number, d = 2): number => Math.round(v * 10 ** d) / 10 ** d;

async function writeKeys(clients: readonly KvClient[], value: Uint8Array): Promise<void> {
  let next = 0;
  const worker = async (w: number): Promise<void> => {
    const client = clients[w % clients.length]!;
    while (next < keyCount) await client.put(benchKey(next++), value, { timeoutMs: 30_000 });
  };
  await Promise.all(Array.from({ length: Math.min(preloadInFlight, keyCount) }, (_, w) => worker(w)));
}

/** 16 loops over the key space until stopped; counts acknowledged puts. */
function startLoad(client: KvClient, value: Uint8Array): { stop: () => Promise<number> } {
  let stopped = false;
  let ops = 0;
  const loop = async (i: number): Promise<void> => {
    let n = i;
    while (!stopped) {
      n = (n + loadClients) % keyCount;
      await client.put(benchKey(n), value, { timeoutMs: 30_000 }).then(() => ops++, () => undefined);
    }
  };
  const loops = Promise.all(Array.from({ length: loadClients }, (_, i) => loop(i)));
  return { stop: async () => ((stopped = true), await loops, ops) };
}

function snapshotBytes(dir: string, index: number): number | null {
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && parseSnapshotFileName(entry.name)?.index === index) return statSync(join(entry.parentPath, entry.name)).size;
  }
  return null;
}

async function catchUp(admin: KvClient, name: string, dataDir: string): Promise<{ result: Omit<CatchUp, 'case' | 'loadOps' | 'loadavg'>; child: ChildProcess }> {
  const peerUrl = `tcp://127.0.0.1:${await freePort()}`;
  const clientUrl = `tcp://127.0.0.1:${await freePort()}`;
  const added = await admin.members.add(name, { peerUrl, clientUrl, learner: true });
  const initialCluster = added.members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const args = ['server', '--name', name, '--data-dir', dataDir, '--client-url', clientUrl, '--peer-url', peerUrl, '--initial-cluster', initialCluster, '--initial-cluster-state', 'existing', '--log-format', 'json', '--log-level', 'info', ...serverArgs];
  const startMs = performance.now();
  const child = spawn(process.execPath, [cliEntry, ...args], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  let installed: { atMs: number; index: number } | null = null;
  let partial = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (installed === null && line.includes('installed a snapshot from the leader')) installed = { atMs: performance.now(), index: (JSON.parse(line) as { index: number }).index };
    }
  });
  let promotableMs: number | null = null;
  let caughtUpMs: number | null = null;
  while (caughtUpMs === null && performance.now() - startMs < catchUpDeadlineMs && child.exitCode === null) {
    const entry = (await admin.members.list().catch(() => null))?.members.find((m) => m.name === name);
    const now = performance.now();
    if (entry !== undefined && entry.active && installed !== null) {
      if (promotableMs === null && entry.trailingEntries <= 1000) promotableMs = now;
      if (entry.trailingEntries === 0) caughtUpMs = now;
    }
    await sleep(50);
  }
  const got = installed as { atMs: number; index: number } | null;
  const bytes = got === null ? null : snapshotBytes(dataDir, got.index);
  const installS = got === null ? null : (got.atMs - startMs) / 1000;
  return {
    child,
    result: {
      snapshotInstalledS: installS === null ? null : round(installS),
      promotableS: promotableMs === null ? null : round((promotableMs - startMs) / 1000),
      caughtUpS: caughtUpMs === null ? null : round((caughtUpMs - startMs) / 1000),
      snapshotMB: bytes === null ? null : round(bytes / 1e6, 1),
      snapshotMBps: bytes === null || installS === null ? null : round(bytes / 1e6 / installS, 1),
    },
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function main(): Promise<void> {
  const members = await startBenchMembers('catchup', serverArgs);
  const children: ChildProcess[] = [];
  const clients: KvClient[] = [];
  const onSignal = (): void => {
    for (const c of children) c.kill('SIGKILL');
    members.cluster.killAllNow();
    rmSync(members.cluster.options.dataDir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await members.cluster.waitForLeader({ timeoutMs: 60_000 });
    const endpoints = members.cluster.endpoints;
    for (let i = 0; i < 4; i++) clients.push(await connect({ endpoints, timeoutMs: 30_000 }));
    const admin = clients[0]!;
    const value = new Uint8Array(valueBytes).fill(0x61);
    const writeStart = performance.now();
    await writeKeys(clients, value);
    const writeS = (performance.now() - writeStart) / 1000;
    if (!values.json) console.log(`wrote ${keyCount} keys of ${valueBytes} B in ${writeS.toFixed(1)} s (${Math.round(keyCount / writeS)} puts/s)`);
    // The learner must need a snapshot: wait until the leader has taken one and compacted its log past index 1.
    const compactDeadline = performance.now() + 60_000;
    for (let compacted = false; !compacted; await sleep(200)) {
      if (performance.now() > compactDeadline) throw new Error(`the leader did not snapshot and compact within 60 s (--snapshot-every ${snapshotEvery})`);
      const { leader, statuses } = await members.cluster.waitForLeader();
      const status = statuses.find((s) => s.name === leader.name)!;
      compacted = status.snapshotIndex > 0 && status.firstLogIndex > 1;
    }
    const results: CatchUp[] = [];
    for (const [name, withLoad] of [['n4', false], ['n5', true]] as const) {
      const load = withLoad ? startLoad(clients[1]!, value) : null;
      const { result, child } = await catchUp(admin, name, join(members.cluster.options.dataDir, name));
      children.push(child);
      const loadOps = load === null ? 0 : await load.stop();
      results.push({ case: withLoad ? `with ${loadClients} clients writing` : 'idle', ...result, loadOps, loadavg: loadavg().map((l) => round(l)) });
      // Back to three members: the next learner catches up from the same state.
      await admin.members.remove(name).catch((e: unknown) => console.error(`removing ${name}: ${String(e)}`));
      await Promise.race([new Promise((r) => child.once('exit', r)), sleep(15_000)]);
      await stopChild(child);
    }
    if (values.json) {
      console.log(JSON.stringify({ keys: keyCount, valueBytes, snapshotEveryEntries: snapshotEvery, writeSeconds: round(writeS), results }));
    } else {
      const header = ['CASE', 'SNAPSHOT MB', 'INSTALLED S', 'MB/S', 'TRAILS<=1000 S', 'TRAILS 0 S', 'LOAD PUTS', 'LOADAVG'];
      const rows = results.map((r) => [r.case, r.snapshotMB, r.snapshotInstalledS, r.snapshotMBps, r.promotableS, r.caughtUpS, r.loadOps, r.loadavg.join(' ')].map((v) => String(v ?? 'n/a')));
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      for (const row of [header, ...rows]) console.log(row.map((c, i) => c.padEnd(widths[i]!)).join('  '));
      console.log(`(times from the spawn of the new member's process; ${keyCount} keys of ${valueBytes} B, --snapshot-every-entries ${snapshotEvery})`);
    }
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    for (const child of children) await stopChild(child);
    await members.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

await main();
