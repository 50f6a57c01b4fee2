/**
 * One fault-suite case: a fresh private network and cluster, the workloads
 * through the client agent, the seeded nemesis schedule, healing, recovery
 * checks, the history checks, and a verdict file next to the history:
 *
 *   <results>/<case>/history.jsonl   one JSON line per client operation
 *   <results>/<case>/nemeses.jsonl   each fault as it started and ended
 *   <results>/<case>/verdict.json    seed, rerun command, checks, recovery
 *   <results>/<case>/n*.log, agent.log
 *
 * Everything the case starts is registered for cleanup: processes by PID,
 * namespaces by this run's name prefix, on success, failure, and SIGINT/SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentReply, AgentRequest, Verified } from './agent.js';
import { checkCounter, checkRegister, checkSet, sessionsReopened, type CheckReport } from './checks.js';
import { createMembers, type FaultMember } from './members.js';
import { healAll, launcherNemeses, scheduleFaults, startFault, type NemesisContext, type NemesisKind } from './nemesis.js';
import { FaultNetwork, removeStaleNamespaces } from './netns.js';
import type { HistoryRecord } from './workloads.js';

const agentEntry = fileURLToPath(new URL('./agent.js', import.meta.url));

export interface CaseOptions {
  readonly seed: number;
  readonly members: 3 | 5;
  readonly durationS: number;
  readonly nemeses: readonly NemesisKind[];
  readonly resultsDir: string;
  /** How long after healing the cluster has to serve and every member to catch up. */
  readonly recoveryBoundMs?: number;
  /** Prints progress lines (the CLI); the test keeps quiet. */
  readonly log?: (line: string) => void;
}

export interface Verdict {
  readonly ok: boolean;
  readonly seed: number;
  readonly members: number;
  readonly durationS: number;
  readonly nemeses: readonly string[];
  readonly rerun: string;
  readonly dir: string;
  readonly faults: readonly string[];
  /** Operations recorded, and sessions the clients had to open again. */
  readonly operations: number;
  readonly sessionsReopened: number;
  readonly checks: readonly CheckReport[];
  readonly recovery: Omit<Verified, 'type' | 'setElems'> | null;
  readonly problems: readonly string[];
}

// ------------------------------------------------------------------ cleanup

const liveNetworks = new Set<FaultNetwork>();
const liveProcesses = new Set<ChildProcess>();
let handlersInstalled = false;

/** Kills every process and deletes every namespace this process made. Synchronous: safe in 'exit'. */
export function cleanupEverything(): void {
  for (const child of liveProcesses) {
    try {
      child.kill('SIGKILL');
    } catch {
      // gone
    }
  }
  liveProcesses.clear();
  for (const net of liveNetworks) net.destroy();
  liveNetworks.clear();
  removeStaleNamespaces(process.pid);
}

/** Stale pass (leftovers of crashed runs) and exit/signal handlers; once per process. */
export function prepareHost(): string[] {
  const removed = removeStaleNamespaces();
  if (!handlersInstalled) {
    handlersInstalled = true;
    process.on('exit', cleanupEverything);
    let cleaning = false;
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      // `on`, not `once`: a second signal during cleanup (Ctrl-C twice) must not kill us half way.
      process.on(signal, () => {
        if (cleaning) return;
        cleaning = true;
        process.stderr.write(`\nfault suite: ${signal}, cleaning up namespaces and processes\n`);
        cleanupEverything();
        process.exit(130);
      });
    }
  }
  return removed;
}

// ------------------------------------------------------------------ the agent

class Agent {
  private readonly waiters: ((reply: AgentReply) => boolean)[] = [];
  readonly errors: string[] = [];
  private nextId = 0;

  constructor(readonly child: ChildProcess) {
    child.on('message', (reply: AgentReply) => {
      if (reply.type === 'error') this.errors.push(reply.message);
      const i = this.waiters.findIndex((w) => w(reply));
      if (i >= 0) this.waiters.splice(i, 1);
    });
  }

  send(request: AgentRequest): void {
    this.child.send(request);
  }

  wait<T extends AgentReply>(match: (reply: AgentReply) => reply is T, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`the client agent did not answer "${what}" within ${timeoutMs} ms${this.errors.length > 0 ? `: ${this.errors.join('; ')}` : ''}`));
      }, timeoutMs);
      const waiter = (reply: AgentReply): boolean => {
        if (!match(reply)) return false;
        clearTimeout(timer);
        resolve(reply);
        return true;
      };
      this.waiters.push(waiter);
    });
  }

  async leader(): Promise<string | null> {
    const id = ++this.nextId;
    this.send({ type: 'leader', id });
    const reply = await this.wait((r): r is Extract<AgentReply, { type: 'leader' }> => r.type === 'leader' && r.id === id, 10_000, 'leader');
    return reply.leader;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function rerunCommand(options: Pick<CaseOptions, 'seed' | 'members' | 'durationS' | 'nemeses'>): string {
  return `npm run test:faults -- --seed ${options.seed} --members ${options.members} --duration-s ${options.durationS} --nemeses ${options.nemeses.join(',')}`;
}

let runCounter = 0;

export async function runCase(options: CaseOptions): Promise<Verdict> {
  const log = options.log ?? ((): void => undefined);
  const names = Array.from({ length: options.members }, (_, i) => `n${i + 1}`);
  const dir = join(options.resultsDir, `seed-${options.seed}-m${options.members}`);
  mkdirSync(dir, { recursive: true });
  const historyPath = join(dir, 'history.jsonl');
  const nemesisPath = join(dir, 'nemeses.jsonl');
  writeFileSync(historyPath, '');
  writeFileSync(nemesisPath, '');
  const rerun = rerunCommand(options);
  const problems: string[] = [];
  const faults: string[] = [];
  const recoveryBoundMs = options.recoveryBoundMs ?? 30_000;

  prepareHost();
  const net = new FaultNetwork(names, ++runCounter);
  liveNetworks.add(net);
  let members: FaultMember[] = [];
  let agent: Agent | null = null;
  let verified: Verified | null = null;
  const started = Date.now();
  const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(1)}s`;
  try {
    net.create();
    const launcher = options.nemeses.some((k) => launcherNemeses.includes(k));
    members = createMembers(net, dir, launcher, { heartbeatIntervalMs: 100, electionTimeoutMs: 1000 });
    for (const m of members) {
      m.start();
      if (m.process !== null) liveProcesses.add(m.process);
    }
    const track = (): void => {
      for (const m of members) if (m.process !== null) liveProcesses.add(m.process);
    };

    const agentLog = openSync(join(dir, 'agent.log'), 'a');
    const child = spawn('ip', ['netns', 'exec', net.clientNs, process.execPath, agentEntry, JSON.stringify(members.map((m) => ({ name: m.name, clientUrl: m.clientUrl })))], { stdio: ['ignore', agentLog, agentLog, 'ipc'] });
    closeSync(agentLog);
    liveProcesses.add(child);
    const theAgent = new Agent(child);
    agent = theAgent;
    await theAgent.wait((r): r is Extract<AgentReply, { type: 'ready' }> => r.type === 'ready', 20_000, 'ready');

    // The cluster must elect before the clock starts.
    let leader: string | null = null;
    for (let i = 0; i < 60 && leader === null; i++) {
      leader = await theAgent.leader();
      if (leader === null) await sleep(250);
    }
    if (leader === null) throw new Error('the cluster elected no leader within ~30 s of starting');
    log(`  ${elapsed()} cluster up, leader ${leader}`);

    theAgent.send({
      type: 'start',
      historyPath,
      seed: options.seed,
      clients: { register: 3, set: 2, counter: 3 },
      opTimeoutMs: 3000,
    });
    await sleep(1000);

    const ctx: NemesisContext = { net, members, leader: () => theAgent.leader() };
    const schedule = scheduleFaults(options.seed, options.nemeses, options.durationS * 1000);
    const phaseStart = Date.now();
    for (const fault of schedule) {
      const wait = phaseStart + fault.atMs - Date.now();
      if (wait > 0) await sleep(wait);
      const actives = [await startFault(ctx, fault)];
      if (fault.with !== undefined) actives.push(await startFault(ctx, fault.with));
      track();
      const description = actives.map((a) => a.description).join(' + ');
      faults.push(description);
      appendFileSync(nemesisPath, JSON.stringify({ atMs: Date.now() - phaseStart, start: description }) + '\n');
      log(`  ${elapsed()} ${description} for ${(fault.holdMs / 1000).toFixed(1)}s`);
      await sleep(fault.holdMs);
      for (const active of actives.reverse()) await active.revert();
      track();
      appendFileSync(nemesisPath, JSON.stringify({ atMs: Date.now() - phaseStart, end: description }) + '\n');
    }
    const rest = phaseStart + options.durationS * 1000 - Date.now();
    if (rest > 0) await sleep(rest);

    await healAll(ctx);
    track();
    log(`  ${elapsed()} healed; workloads run on for 2 s, then stop`);
    await sleep(2000);
    theAgent.send({ type: 'stop' });
    await theAgent.wait((r): r is Extract<AgentReply, { type: 'stopped' }> => r.type === 'stopped', 60_000, 'stop');
    theAgent.send({ type: 'verify', boundMs: recoveryBoundMs });
    verified = await theAgent.wait((r): r is Verified => r.type === 'verified', recoveryBoundMs + 60_000, 'verify');
    log(`  ${elapsed()} recovery: serving after ${verified.serveMs ?? '-'} ms, leader ${verified.leader ?? '-'}`);
    problems.push(...verified.problems);
    problems.push(...theAgent.errors);
  } catch (error) {
    problems.push(`the case failed to run: ${(error as Error).message}`);
  } finally {
    for (const m of members) await m.kill9();
    for (const m of members) problems.push(...m.unexpectedExits);
    agent?.child.kill('SIGKILL');
    for (const child of liveProcesses) child.kill('SIGKILL');
    liveProcesses.clear();
    net.destroy();
    liveNetworks.delete(net);
  }

  const history = readFileSync(historyPath, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as HistoryRecord);
  const checks: CheckReport[] = [];
  if (verified !== null && verified.serveMs !== null) {
    checks.push(checkRegister(history), checkSet(history, verified.setElems), checkCounter(history, verified.counters));
  }
  for (const c of checks) for (const p of c.problems) problems.push(`${c.name}: ${p}`);
  const { type: _type, setElems: _elems, ...recovery } = verified ?? { type: 'verified', setElems: [] };
  const verdict: Verdict = {
    ok: problems.length === 0 && checks.length === 3,
    seed: options.seed,
    members: options.members,
    durationS: options.durationS,
    nemeses: options.nemeses,
    rerun,
    dir,
    faults,
    operations: history.filter((r) => r.w !== 'session').length,
    sessionsReopened: sessionsReopened(history),
    checks,
    recovery: verified === null ? null : (recovery as Verdict['recovery']),
    problems,
  };
  writeFileSync(join(dir, 'verdict.json'), JSON.stringify(verdict, null, 2) + '\n');
  return verdict;
}
