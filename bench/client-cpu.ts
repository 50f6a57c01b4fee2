/**
 * The client's own CPU per call: starts a local 3-member cluster (as
 * bench/kv.ts does) and runs `concord bench`'s put and get workloads, reading
 * this process's CPU time (process.cpuUsage: the bench process is the client;
 * the members are child processes) around each measured run. For paired
 * comparisons of client changes: the figure is less sensitive to a busy
 * machine than ops/s.
 *
 *   node dist/bench/client-cpu.js [--duration 8] [--warmup 3] [--clients 64] [--json]
 */
import { parseArgs } from 'node:util';
import { startBenchMembers } from './local-members.js';
import { runBench, Workload } from '../src/cli/bench/run-bench.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    duration: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '3' },
    clients: { type: 'string', default: '64' },
  },
});
const durationS = Number(values.duration);
const warmupS = Number(values.warmup);
const clients = Number(values.clients);

const members = await startBenchMembers('client-cpu');
const cluster = members.cluster;
try {
  await cluster.waitForLeader({ timeoutMs: 30_000 });
  for (const workload of [Workload.Put, Workload.Get]) {
    const common = { endpoints: cluster.endpoints, workload, clients, valueBytes: 256, keys: 10_000 };
    // Warm-up (the members' and this process's JIT) in a run of its own, so the CPU read covers the measured run only.
    if (warmupS > 0) await runBench({ ...common, durationS: warmupS });
    const before = process.cpuUsage();
    const result = await runBench({ ...common, durationS });
    const cpu = process.cpuUsage(before);
    const cpuUsPerOp = (cpu.user + cpu.system) / Math.max(1, result.ops);
    const line = { workload, clients, opsPerSec: result.opsPerSec, errors: result.errors, cpuUsPerOp: Math.round(cpuUsPerOp * 100) / 100, loadAverage1m: result.loadAverage1m };
    process.stdout.write((values.json ? JSON.stringify(line) : `${workload}: ${line.opsPerSec} ops/s, ${line.cpuUsPerOp} us client CPU per op, ${line.errors} errors, load ${line.loadAverage1m}`) + '\n');
  }
} finally {
  await members.stop();
}
