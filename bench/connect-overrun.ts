/**
 * How far connect({ timeoutMs }) and close({ timeoutMs }) overrun their
 * deadline when one of three real members is paused (SIGSTOP: its kernel
 * still accepts TCP connections, the process answers nothing). Starts a local
 * 3-member cluster (real server processes, in a temp dir), pauses a follower,
 * and times each try:
 *
 *   a  connect to all three endpoints (the client's usual random first pick),
 *      timeoutMs 2000: how long connecting takes, how many fail
 *   b  connect whose only endpoint is the paused member, timeoutMs 500:
 *      always fails; the figure is how long after its deadline it returns
 *   c  connect whose first pick is the paused member, then close({ timeoutMs:
 *      300 }): the graceful close of that connection can never finish
 *
 *   node dist/bench/connect-overrun.js [--tries 100] [--cases a,b,c] [--json]
 *
 * Overrun = elapsed - timeoutMs (negative: it finished early). The target is
 * under 100 ms beyond timeoutMs.
 */
import { parseArgs } from 'node:util';
import { startBenchMembers } from './local-members.js';
import { connect } from '../src/client/index.js';

const { values } = parseArgs({
  options: {
    tries: { type: 'string', default: '100' },
    cases: { type: 'string', default: 'a,b,c' },
    json: { type: 'boolean', default: false },
  },
});
const tries = Number(values.tries);
const cases = new Set(values.cases.split(','));

const members = await startBenchMembers('overrun');
const cluster = members.cluster;

/** Always the first endpoint first (the pool's starting pick), otherwise uniform. */
const firstPickFirst = { nextInt: () => 0, nextFloat: () => Math.random() };

function summary(label: string, timeoutMs: number, elapsedMs: number[], failures: number): Record<string, unknown> {
  const sorted = [...elapsedMs].sort((a, b) => a - b);
  const at = (q: number): number => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN) * 10) / 10;
  const max = Math.round((sorted.at(-1) ?? NaN) * 10) / 10;
  return {
    case: label,
    tries: elapsedMs.length,
    failures,
    timeoutMs,
    elapsedMs: { p50: at(0.5), p99: at(0.99), max },
    overrunMs: { p50: Math.round((at(0.5) - timeoutMs) * 10) / 10, max: Math.round((max - timeoutMs) * 10) / 10 },
  };
}

function report(line: Record<string, unknown>): void {
  if (values.json) process.stdout.write(JSON.stringify(line) + '\n');
  else {
    const e = line.elapsedMs as { p50: number; p99: number; max: number };
    const o = line.overrunMs as { p50: number; max: number };
    process.stdout.write(
      `${line.case}: ${line.tries} tries, ${line.failures} failed, timeoutMs ${line.timeoutMs}: elapsed p50 ${e.p50} p99 ${e.p99} max ${e.max} ms; overrun p50 ${o.p50} max ${o.max} ms\n`,
    );
  }
}

const paused: { pid: number | undefined } = { pid: undefined };
try {
  const { leader } = await cluster.waitForLeader({ timeoutMs: 30_000 });
  const follower = cluster.members.find((m) => m.name !== leader.name)!;
  const others = cluster.members.filter((m) => m !== follower).map((m) => m.clientUrl);
  paused.pid = follower.process!.pid;
  process.kill(paused.pid!, 'SIGSTOP');
  if (!values.json) process.stderr.write(`leader ${leader.name}; paused follower ${follower.name} (pid ${paused.pid})\n`);

  const time = async (fn: () => Promise<unknown>): Promise<{ ms: number; ok: boolean }> => {
    const startMs = performance.now();
    const ok = await fn().then(
      () => true,
      () => false,
    );
    return { ms: performance.now() - startMs, ok };
  };

  if (cases.has('a')) {
    const timeoutMs = 2_000;
    const elapsed: number[] = [];
    let failures = 0;
    for (let i = 0; i < tries; i++) {
      let client: Awaited<ReturnType<typeof connect>> | undefined;
      const { ms, ok } = await time(async () => (client = await connect({ endpoints: cluster.endpoints, timeoutMs })));
      elapsed.push(ms);
      if (!ok) failures++;
      await client?.close({ timeoutMs: 50 });
    }
    report(summary('a: connect, one of three paused', timeoutMs, elapsed, failures));
  }
  if (cases.has('b')) {
    const timeoutMs = 500;
    const elapsed: number[] = [];
    let failures = 0;
    for (let i = 0; i < tries; i++) {
      const { ms, ok } = await time(() => connect({ endpoints: [follower.clientUrl], timeoutMs }).then((c) => c.close()));
      elapsed.push(ms);
      if (!ok) failures++;
    }
    report(summary('b: connect, only endpoint paused', timeoutMs, elapsed, failures));
  }
  if (cases.has('c')) {
    const timeoutMs = 300;
    const elapsed: number[] = [];
    let failures = 0;
    for (let i = 0; i < tries; i++) {
      const client = await connect({ endpoints: [follower.clientUrl, ...others], timeoutMs: 2_000, random: firstPickFirst });
      const { ms, ok } = await time(() => client.close({ timeoutMs }));
      elapsed.push(ms);
      if (!ok) failures++;
    }
    report(summary('c: close, a connection to the paused member', timeoutMs, elapsed, failures));
  }
} finally {
  if (paused.pid !== undefined) process.kill(paused.pid, 'SIGCONT');
  await members.stop();
}
