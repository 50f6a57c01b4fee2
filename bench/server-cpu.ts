/**
 * The members' CPU per operation: starts a local 3-member cluster (as
 * bench/kv.ts does), runs a fixed number of puts (64 loops), transactions
 * (2 compares, 2 puts, as bench/kv.ts's; 64 loops), linearizable gets (64
 * loops) and sequential puts, and reads each member's CPU time
 * (utime + stime from /proc/<pid>/stat, all its threads) and write syscalls
 * (/proc/<pid>/io) around each measured run. The members' idle CPU (ticks,
 * heartbeats) is measured first and its share of each run's wall time
 * subtracted, so that a slow run on a busy machine is not charged for the
 * timers it waited through.
 *
 * For paired comparisons of server changes on a busy machine, where ops/s
 * mean little: alternate two builds, several runs each. Linux only (/proc).
 * The client talks to the leader first (it would find it anyway), so that
 * which member won the election does not change what is measured.
 *
 *   node dist/bench/server-cpu.js [--scale 1] [--json] [--workload put|txn|get|seq ...]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBenchMembers } from './local-members.js';
import { sampleProcess } from './proc-stat.js';
import { benchKey } from '../src/cli/bench/run-bench.js';
import { Compare, Op, connect, type KvClient } from '../src/client/index.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    /** Multiplies every workload's operation count. */
    scale: { type: 'string', default: '1' },
    /** Only these workloads (put, txn, get, seq); all by default. */
    workload: { type: 'string', multiple: true },
  },
});
const scale = Number(values.scale);

const sample = sampleProcess;

type Kind = 'put' | 'txn' | 'get';
const allWorkloads: { id: string; name: string; kind: Kind; loops: number; ops: number }[] = [
  { id: 'put', name: 'put, 64 loops', kind: 'put', loops: 64, ops: 40_000 },
  { id: 'txn', name: 'txn (2 compares, 2 puts), 64 loops', kind: 'txn', loops: 64, ops: 20_000 },
  { id: 'get', name: 'get (linearizable), 64 loops', kind: 'get', loops: 64, ops: 120_000 },
  { id: 'seq', name: 'put, 1 sequential loop', kind: 'put', loops: 1, ops: 2_000 },
];
for (const id of values.workload ?? []) {
  if (!allWorkloads.some((w) => w.id === id)) throw new Error(`unknown workload ${id}; workloads: ${allWorkloads.map((w) => w.id).join(', ')}`);
}
const workloads = allWorkloads.filter((w) => values.workload === undefined || values.workload.includes(w.id));

const value = new Uint8Array(256).fill(0x61);
const keys = Array.from({ length: 10_000 }, (_, i) => benchKey(i));

async function run(client: KvClient, kind: Kind, loops: number, ops: number): Promise<void> {
  let started = 0;
  const loop = async (first: number): Promise<void> => {
    for (let n = first; started < ops; n = (n + 1) | 0) {
      started++;
      const hash = (n * 2654435761) >>> 0;
      const key = keys[hash % keys.length]!;
      if (kind === 'get') await client.get(key);
      else if (kind === 'put') await client.put(key, value);
      else {
        const other = keys[(hash + 1) % keys.length]!;
        await client.txn({
          compare: [Compare.modRevision(key, '<', Number.MAX_SAFE_INTEGER), Compare.version(other, '<', Number.MAX_SAFE_INTEGER)],
          success: [Op.put(key, value), Op.put(other, value)],
        });
      }
    }
  };
  await Promise.all(Array.from({ length: loops }, (_, i) => loop(i)));
}

const members = await startBenchMembers('server-cpu');
const cluster = members.cluster;
let client: KvClient | null = null;
try {
  const { leader } = await cluster.waitForLeader({ timeoutMs: 30_000 });
  const pids = cluster.members.map((m) => m.process!.pid!);
  const leaderAt = cluster.members.indexOf(leader);
  client = await connect({ endpoints: [leader.clientUrl, ...cluster.endpoints.filter((url) => url !== leader.clientUrl)], timeoutMs: 10_000 });
  // Every key exists (gets find values), and the members' JIT has seen puts.
  await run(client, 'put', 256, Math.max(keys.length, Math.round(10_000 * scale)));
  const idleStart = pids.map(sample);
  const idleStartMs = performance.now();
  await sleep(3000);
  const idleEnd = pids.map(sample);
  const idleCpuPerMs = pids.map((_, i) => (idleEnd[i]!.cpuMs - idleStart[i]!.cpuMs) / (performance.now() - idleStartMs));
  for (const w of workloads) {
    const ops = Math.max(1, Math.round(w.ops * scale));
    await run(client, w.kind, w.loops, Math.ceil(ops / 4)); // warm-up of this workload
    const before = pids.map(sample);
    const startMs = performance.now();
    await run(client, w.kind, w.loops, ops);
    const elapsedMs = performance.now() - startMs;
    const after = pids.map(sample);
    const busyMs = pids.map((_, i) => after[i]!.cpuMs - before[i]!.cpuMs - idleCpuPerMs[i]! * elapsedMs);
    const writes = pids.map((_, i) => after[i]!.writes - before[i]!.writes);
    const line = {
      workload: w.name,
      ops,
      opsPerSec: Math.round((ops / elapsedMs) * 1000),
      cpuUsPerOp: Math.round((busyMs.reduce((s, x) => s + x, 0) * 10_000) / ops) / 10,
      leaderCpuUsPerOp: Math.round((busyMs[leaderAt]! * 10_000) / ops) / 10,
      writeSyscallsPerOp: Math.round((writes.reduce((s, x) => s + x, 0) * 1000) / ops) / 1000,
      loadAverage1m: Math.round(loadavg()[0]! * 100) / 100,
    };
    process.stdout.write(
      (values.json
        ? JSON.stringify(line)
        : `${line.workload}: ${line.cpuUsPerOp} us member CPU per op (leader ${line.leaderCpuUsPerOp}), ${line.writeSyscallsPerOp} write syscalls per op, ${line.opsPerSec} ops/s, load ${line.loadAverage1m}`) + '\n',
    );
  }
} finally {
  await client?.close();
  await members.stop();
}
