/**
 * The fault suite's client agent: a child process started inside the run's
 * client namespace (the only place that can reach the members' addresses),
 * steered by the orchestrator over Node's IPC channel. It runs the workloads
 * (workloads.ts), appends their history as JSON lines, answers "who leads?",
 * and after healing checks recovery: a leader that serves within a bound,
 * final linearizable reads, and every member caught up (its applied index and
 * its own stale reads).
 *
 * Messages in: start, leader, stop, verify. Out: ready, leader, stopped, verified, error.
 */
import { createWriteStream } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { connect, type KvClient } from '../../src/client/index.js';
import { counterKeys, registerKeys, runWorkloads, setPrefix, type HistoryRecord, type WorkloadOptions } from './workloads.js';

export interface AgentMember {
  readonly name: string;
  readonly clientUrl: string;
}

export type AgentRequest =
  | { readonly type: 'start'; readonly historyPath: string; readonly seed: number; readonly clients: WorkloadOptions['clients']; readonly opTimeoutMs: number }
  | { readonly type: 'leader'; readonly id: number }
  | { readonly type: 'stop' }
  | { readonly type: 'verify'; readonly boundMs: number };

export interface MemberCatchUp {
  readonly name: string;
  readonly appliedIndex: number | null;
  readonly caughtUp: boolean;
  /** Problems seen on this member's own (stale) reads, empty when it matches the leader's final state. */
  readonly mismatches: readonly string[];
}

export interface Verified {
  readonly type: 'verified';
  /** Time from the start of verification to the first acknowledged write, or null when none within the bound. */
  readonly serveMs: number | null;
  readonly leader: string | null;
  readonly counters: Readonly<Record<string, { readonly version: number; readonly value: number }>>;
  readonly setElems: readonly string[];
  readonly targetIndex: number;
  readonly members: readonly MemberCatchUp[];
  readonly problems: readonly string[];
}

export type AgentReply =
  | { readonly type: 'ready' }
  | { readonly type: 'leader'; readonly id: number; readonly leader: string | null }
  | { readonly type: 'stopped'; readonly records: number }
  | Verified
  | { readonly type: 'error'; readonly message: string };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const send = (reply: AgentReply): void => {
  process.send?.(reply);
};

/** The members, from argv[2] (JSON): known before the workloads start, for "who leads?". */
const members: readonly AgentMember[] = JSON.parse(process.argv[2] ?? '[]') as AgentMember[];
let stopped = false;
let workloads: Promise<void> | null = null;
let history: ReturnType<typeof createWriteStream> | null = null;
let records = 0;
let statusClient: KvClient | null = null;

function record(r: HistoryRecord): void {
  records++;
  history?.write(JSON.stringify(r) + '\n');
}

/** A client for status calls only: it never opens a session. */
async function statusKv(): Promise<KvClient> {
  statusClient ??= await connect({ endpoints: members.map((m) => m.clientUrl), openSessionOnConnect: false, timeoutMs: 1500, connectTimeoutMs: 300 });
  return statusClient;
}

/** The leader most reachable members name, or null. */
async function currentLeader(): Promise<string | null> {
  try {
    const kv = await statusKv();
    return (await kv.status({ timeoutMs: 1500 })).leaderId;
  } catch (error) {
    process.stderr.write(`status failed: ${(error as Error).message}\n`);
    return null;
  }
}

async function verify(boundMs: number): Promise<Verified> {
  const started = performance.now();
  const left = (): number => boundMs - (performance.now() - started);
  const problems: string[] = [];
  let serveMs: number | null = null;
  let kv: KvClient | null = null;
  // 1. A leader that serves: the first acknowledged write after healing.
  while (left() > 0 && serveMs === null) {
    try {
      kv ??= await connect({ endpoints: members.map((m) => m.clientUrl), timeoutMs: Math.max(500, Math.min(3000, left())), connectTimeoutMs: 500 });
      await kv.put('heal/probe', String(Date.now()), { timeoutMs: Math.max(500, Math.min(3000, left())) });
      serveMs = Math.round(performance.now() - started);
    } catch {
      await sleep(100);
    }
  }
  const counters: Record<string, { version: number; value: number }> = {};
  const setElems: string[] = [];
  let leader: string | null = null;
  let targetIndex = 0;
  const catchUps: MemberCatchUp[] = [];
  if (serveMs === null || kv === null) {
    problems.push(`no write was acknowledged within ${boundMs} ms of healing`);
    return { type: 'verified', serveMs, leader, counters, setElems, targetIndex, members: catchUps, problems };
  }
  // 2. The final state, read linearizably (a read failing now is a problem: the cluster is healed).
  try {
    for (const key of counterKeys) {
      const got = await kv.get(key, { timeoutMs: 5000 });
      counters[key] = { version: got?.version ?? 0, value: got === null ? 0 : Number(got.valueString()) };
    }
    for await (const entry of kv.scan({ prefix: setPrefix }, { timeoutMs: 5000 }).entries()) setElems.push(entry.keyString());
    for (const key of registerKeys) {
      const call = performance.now();
      const got = await kv.get(key, { timeoutMs: 5000 });
      record({ w: 'register', c: 0, input: { kind: 'read', key }, call, ret: performance.now(), output: { kind: 'read', value: got === null ? null : got.valueString() } });
    }
    const status = await kv.status({ timeoutMs: 3000 });
    leader = status.leaderId;
    const leaderReport = status.members.find((m) => m.name === leader);
    targetIndex = leaderReport?.status?.commitIndex ?? 0;
  } catch (error) {
    problems.push(`final reads failed after healing: ${(error as Error).message}`);
  }
  // 3. Every member catches up: applied index at least the leader's commit index
  //    after the final reads, and its own stale reads show the final state.
  for (const member of members) {
    let appliedIndex: number | null = null;
    let caughtUp = false;
    const mismatches: string[] = [];
    let own: KvClient | null = null;
    try {
      while (left() > 0) {
        try {
          own ??= await connect({ endpoints: [member.clientUrl], openSessionOnConnect: false, timeoutMs: 1000, connectTimeoutMs: 500 });
          const report = (await own.status({ timeoutMs: 1000 })).members.find((m) => m.name === member.name);
          appliedIndex = report?.status?.appliedIndex ?? appliedIndex;
          if (appliedIndex !== null && appliedIndex >= targetIndex) {
            caughtUp = true;
            break;
          }
        } catch {
          // not reachable yet
        }
        await sleep(100);
      }
      if (caughtUp && own !== null) {
        for (const key of counterKeys) {
          const got = await own.get(key, { consistency: 'stale', timeoutMs: 2000 });
          const version = got?.version ?? 0;
          if (version !== counters[key]?.version) mismatches.push(`${key}: version ${version}, the leader read ${counters[key]?.version}`);
        }
        let count = 0;
        for await (const _ of own.scan({ prefix: setPrefix }, { consistency: 'stale', timeoutMs: 5000 }).entries()) count++;
        if (count !== setElems.length) mismatches.push(`set has ${count} elements, the leader read ${setElems.length}`);
      }
    } catch (error) {
      mismatches.push(`stale reads failed: ${(error as Error).message}`);
    } finally {
      await own?.close({ timeoutMs: 1000 }).catch(() => undefined);
    }
    if (!caughtUp) problems.push(`${member.name} did not catch up to index ${targetIndex} within the bound (applied ${appliedIndex ?? 'unknown'})`);
    for (const m of mismatches) problems.push(`${member.name}: ${m}`);
    catchUps.push({ name: member.name, appliedIndex, caughtUp, mismatches });
  }
  await kv.close({ timeoutMs: 2000 }).catch(() => undefined);
  return { type: 'verified', serveMs, leader, counters, setElems, targetIndex, members: catchUps, problems };
}

async function handle(request: AgentRequest): Promise<void> {
  switch (request.type) {
    case 'start': {
      history = createWriteStream(request.historyPath, { flags: 'a' });
      workloads = runWorkloads({
        endpoints: members.map((m) => m.clientUrl),
        seed: request.seed,
        clients: request.clients,
        opTimeoutMs: request.opTimeoutMs,
        record,
        stopped: () => stopped,
      });
      workloads.catch((error: unknown) => send({ type: 'error', message: `workload crashed: ${(error as Error).stack ?? String(error)}` }));
      return;
    }
    case 'leader':
      send({ type: 'leader', id: request.id, leader: await currentLeader() });
      return;
    case 'stop':
      stopped = true;
      await workloads?.catch(() => undefined);
      send({ type: 'stopped', records });
      return;
    case 'verify': {
      const verified = await verify(request.boundMs);
      await new Promise<void>((resolve) => (history === null ? resolve() : history.end(resolve)));
      await statusClient?.close({ timeoutMs: 1000 }).catch(() => undefined);
      send(verified);
      return;
    }
  }
}

process.on('message', (message: AgentRequest) => {
  handle(message).catch((error: unknown) => send({ type: 'error', message: (error as Error).stack ?? String(error) }));
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
