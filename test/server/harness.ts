/**
 * Real-process test harness: starts `concord server` members on loopback
 * (free ports, temp data directories), talks to them with the net layer's
 * RPC over the client protocol, and cleans everything up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, createWriteStream, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/cli/dev/free-ports.js';
import { connect, RemoteError, RpcClient, type Connection } from '../../src/net/index.js';
import {
  clientMethods,
  isRetryableCode,
  type ClientMethods,
  type Method,
  type MethodTypes,
  type StatusResponse,
} from '../../src/protocol/index.js';

/**
 * What runs a member: the compiled CLI (`concord server`, as users run it),
 * or with CONCORD_TEST_SERVER_ENTRY=standalone the server's own entry
 * (dist/src/server/main.js, same flags) to test the server alone.
 */
const serverCommand: readonly string[] =
  process.env['CONCORD_TEST_SERVER_ENTRY'] === 'standalone'
    ? [fileURLToPath(new URL('../../src/server/main.js', import.meta.url))]
    : [fileURLToPath(new URL('../../src/cli/main.js', import.meta.url)), 'server'];

/**
 * Member ports come from below the kernel's ephemeral range: a port from that
 * range can be taken as the source port of an outgoing connection while a
 * killed member is down, and the member could not listen on it again.
 */
export { freePort };

function tail(path: string, lines = 15): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
export const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

export interface MemberSpec {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
  /** http://127.0.0.1:port of /metrics, /livez, /readyz, /health (ClusterOptions.metrics). */
  readonly metricsUrl?: string;
}

export interface Member extends MemberSpec {
  process: ChildProcess | null;
  exited: Promise<number | string>;
}

export interface ClusterOptions {
  readonly size?: number;
  /** Extra server flags for every member. */
  readonly serverArgs?: readonly string[];
  /** Peer URL scheme (default tcp; tls for mutual TLS between members, with `memberArgs` giving the files). */
  readonly peerScheme?: 'tcp' | 'tls';
  /** Extra server flags per member (every start, restarts included), e.g. its certificate files. */
  readonly memberArgs?: (name: string) => readonly string[];
  /** Give every member a metrics listener (Member.metricsUrl). */
  readonly metrics?: boolean;
  /** Runs before any member starts, with the members' specs and --initial-cluster (e.g. to restore their data dirs). */
  readonly prepare?: (specs: readonly MemberSpec[], initialCluster: string) => Promise<void>;
}

/** Polls `condition` until it returns a truthy value or `timeoutMs` passes (then throws with `what`). */
/** Thrown inside a waitFor condition to stop waiting at once. */
export class StopWaiting extends Error {}

export async function waitFor<T>(what: string, condition: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value;
    } catch (error) {
      if (error instanceof StopWaiting) throw error;
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    }
    await sleep(50);
  }
}

export class TestCluster {
  readonly members: Member[] = [];
  private readonly root: string;
  private readonly clients = new Map<string, Promise<{ connection: Connection; rpc: RpcClient<ClientMethods> }>>();
  private readonly logs: WriteStream[] = [];

  private memberArgs: (name: string) => readonly string[] = () => [];

  private constructor(root: string, private readonly serverArgs: readonly string[]) {
    this.root = root;
  }

  static async start(options: ClusterOptions = {}): Promise<TestCluster> {
    const size = options.size ?? 3;
    const root = mkdtempSync(join(tmpdir(), 'concord-server-test-'));
    const cluster = new TestCluster(root, [
      '--heartbeat-interval-ms',
      '50',
      '--election-timeout-ms',
      '500',
      ...(options.serverArgs ?? []),
    ]);
    if (options.memberArgs !== undefined) cluster.memberArgs = options.memberArgs;
    const specs: MemberSpec[] = [];
    for (let i = 1; i <= size; i++) {
      const name = `n${i}`;
      specs.push({
        name,
        clientUrl: `tcp://127.0.0.1:${await freePort()}`,
        peerUrl: `${options.peerScheme ?? 'tcp'}://127.0.0.1:${await freePort()}`,
        dataDir: join(root, name),
        logFile: join(root, `${name}.log`),
        ...(options.metrics === true ? { metricsUrl: `http://127.0.0.1:${await freePort()}` } : {}),
      });
    }
    const initialCluster = specs.map((s) => `${s.name}=${s.peerUrl}`).join(',');
    cluster.initialCluster = initialCluster;
    if (options.prepare !== undefined) {
      try {
        await options.prepare(specs, initialCluster);
      } catch (error) {
        rmSync(root, { recursive: true, force: true });
        throw error;
      }
    }
    for (const spec of specs) {
      const member: Member = { ...spec, process: null, exited: Promise.resolve(0) };
      cluster.members.push(member);
      cluster.spawnMember(member, ['--name', spec.name, '--initial-cluster', initialCluster]);
    }
    try {
      await cluster.waitForLeader();
    } catch (error) {
      const tails = cluster.members.map((m) => `--- ${m.name} (${m.logFile}):\n${tail(m.logFile)}`).join('\n');
      await cluster.stop();
      throw new Error(`${(error as Error).message}\n${tails}`);
    }
    return cluster;
  }

  get rootDir(): string {
    return this.root;
  }

  member(name: string): Member {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new Error(`no member ${name}`);
    return m;
  }

  private spawnMember(member: Member, extra: readonly string[]): void {
    const args = [
      ...serverCommand,
      '--data-dir',
      member.dataDir,
      '--client-url',
      member.clientUrl,
      '--peer-url',
      member.peerUrl,
      ...(member.metricsUrl !== undefined ? ['--metrics-url', member.metricsUrl] : []),
      '--log-format',
      'json',
      ...this.serverArgs,
      ...this.memberArgs(member.name),
      ...extra,
    ];
    const log = createWriteStream(member.logFile, { flags: 'a' });
    this.logs.push(log);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    member.process = child;
    member.exited = new Promise((resolve) => {
      // 'close', not 'exit': its output may still be in the pipe after it exited, and stop() ends the log streams.
      child.once('close', (code, signal) => {
        if (member.process === child) member.process = null;
        resolve(code ?? signal ?? 'unknown');
      });
    });
  }

  /**
   * Restarts a stopped member with only its data dir and URLs (the name and
   * cluster come from the data dir); resolves once it answers, and fails
   * with the tail of its log if it exits instead.
   */
  async restart(name: string): Promise<void> {
    const member = this.member(name);
    if (member.process !== null) throw new Error(`member ${name} is still running`);
    this.dropClient(member.clientUrl);
    this.spawnMember(member, []);
    let exitedWith: number | string | null = null;
    void member.exited.then((how) => (exitedWith = how));
    await waitFor(`member ${name} to answer after its restart`, async () => {
      if (exitedWith !== null) throw new StopWaiting(`member ${name} exited (${exitedWith}) after its restart:\n${tail(member.logFile)}`);
      return (await this.status(name)).member.name === name;
    });
    if (exitedWith !== null) throw new Error(`member ${name} exited (${exitedWith}) after its restart:\n${tail(member.logFile)}`);
  }

  /**
   * A new member (free ports, an empty data directory) started with `extra`
   * flags, e.g. --initial-cluster-state existing after `member add`; it does
   * not wait for it to answer.
   */
  async spawnNew(name: string, extra: readonly string[], urls?: { clientUrl: string; peerUrl: string }): Promise<Member> {
    const member: Member = {
      name,
      clientUrl: urls?.clientUrl ?? `tcp://127.0.0.1:${await freePort()}`,
      peerUrl: urls?.peerUrl ?? `tcp://127.0.0.1:${await freePort()}`,
      dataDir: join(this.root, `${name}-${this.members.length}`),
      logFile: join(this.root, `${name}-${this.members.length}.log`),
      process: null,
      exited: Promise.resolve(0),
    };
    this.members.push(member);
    return member;
  }

  /** Starts a member made by spawnNew (or stopped) with `extra` flags. */
  launch(member: Member, extra: readonly string[]): void {
    this.dropClient(member.clientUrl);
    this.spawnMember(member, extra);
  }

  /** Forgets a member (removed from the cluster, stopped): waitForLeader and stop no longer look at it. */
  forget(name: string): void {
    const i = this.members.findIndex((m) => m.name === name && m.process === null);
    if (i >= 0) this.members.splice(i, 1);
  }

  /** The last lines of a member's log. */
  logTail(name: string, lines = 30): string {
    return tail(this.member(name).logFile, lines);
  }

  /** The --initial-cluster the members first started with. */
  initialCluster = '';

  /**
   * Starts a stopped member with `extra` flags, expecting it to exit (a
   * refused start); resolves with its exit code and the tail of its log.
   */
  async startExpectingExit(name: string, extra: readonly string[], timeoutMs = 30_000): Promise<{ exit: number | string; log: string }> {
    const member = this.member(name);
    if (member.process !== null) throw new Error(`member ${name} is still running`);
    this.spawnMember(member, extra);
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([
      member.exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`member ${name} still runs after ${timeoutMs} ms:\n${tail(member.logFile)}`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    return { exit, log: tail(member.logFile, 40) };
  }

  /** kill -9 */
  async kill(name: string): Promise<void> {
    const member = this.member(name);
    member.process?.kill('SIGKILL');
    await member.exited;
    this.dropClient(member.clientUrl);
  }

  /** SIGTERM; resolves with the exit code. */
  async terminate(name: string): Promise<number | string> {
    const member = this.member(name);
    member.process?.kill('SIGTERM');
    const code = await member.exited;
    this.dropClient(member.clientUrl);
    return code;
  }

  private dropClient(url: string): void {
    const client = this.clients.get(url);
    this.clients.delete(url);
    client?.then((c) => c.connection.destroy(), () => {});
  }

  private async client(url: string): Promise<RpcClient<ClientMethods>> {
    let entry = this.clients.get(url);
    if (entry === undefined) {
      entry = connect(url, { timeoutMs: 2000, frameBytesMax: 64 * 1024 * 1024 }).then((connection) => {
        connection.onClose(() => {
          if (this.clients.get(url) === entry) this.clients.delete(url);
        });
        return { connection, rpc: new RpcClient(connection, clientMethods, { pendingCallsMax: 100_000 }) };
      });
      this.clients.set(url, entry);
      entry.catch(() => {
        if (this.clients.get(url) === entry) this.clients.delete(url);
      });
    }
    return (await entry).rpc;
  }

  /** One call to one member (no retry). */
  async call<M extends Method>(
    memberName: string,
    method: M,
    request: MethodTypes[M]['request'],
    timeoutMs = 10_000,
  ): Promise<MethodTypes[M]['response']> {
    const rpc = await this.client(this.member(memberName).clientUrl);
    return rpc.call(method as never, request as never, { timeoutMs }) as Promise<MethodTypes[M]['response']>;
  }

  /**
   * Calls any live member, retrying on retryable errors and lost
   * connections (the same request: for writes, the same session and seq).
   */
  async callAny<M extends Method>(method: M, request: MethodTypes[M]['request'], timeoutMs = 30_000): Promise<MethodTypes[M]['response']> {
    const deadline = Date.now() + timeoutMs;
    let attempt = 0;
    let lastError: unknown;
    while (Date.now() < deadline) {
      const live = this.members.filter((m) => m.process !== null);
      const member = live[attempt++ % Math.max(1, live.length)];
      if (member === undefined) throw new Error('no live member');
      try {
        return await this.call(member.name, method, request, 3_000);
      } catch (error) {
        lastError = error;
        if (error instanceof RemoteError && !isRetryableCode(error.code)) throw error;
        await sleep(Math.min(200, 20 * attempt));
      }
    }
    throw new Error(`callAny(${method}) gave up: ${(lastError as Error)?.message}`);
  }

  async status(memberName: string): Promise<StatusResponse> {
    return this.call(memberName, 'cluster.status', {}, 2_000);
  }

  /** Waits until the live members agree on one leader; returns its name. */
  async waitForLeader(timeoutMs = 20_000): Promise<string> {
    return waitFor(
      'a leader that every live member knows',
      async () => {
        const live = this.members.filter((m) => m.process !== null);
        const statuses = await Promise.all(live.map((m) => this.status(m.name)));
        const leaders = new Set(statuses.map((s) => s.member.leaderId));
        const leader = statuses.find((s) => s.member.role === 'leader');
        if (leader && leaders.size === 1 && leaders.has(leader.member.name)) return leader.member.name;
        return null;
      },
      timeoutMs,
    );
  }

  /** Waits until every live member has applied everything the leader has committed (at the time of the call). */
  async waitForConvergence(timeoutMs = 20_000): Promise<number> {
    const leader = await this.waitForLeader(timeoutMs);
    const commit = (await this.status(leader)).member.commitIndex;
    return waitFor(
      `every live member to apply index ${commit}`,
      async () => {
        const live = this.members.filter((m) => m.process !== null);
        const statuses = await Promise.all(live.map((m) => this.status(m.name)));
        return statuses.every((s) => s.member.appliedIndex >= commit) ? commit : null;
      },
      timeoutMs,
    );
  }

  async openSession(): Promise<number> {
    const response = await this.callAny('session.open', { ttlMs: 60_000 });
    return response.sessionId;
  }

  /** Stops every member (SIGKILL if SIGTERM does not end it) and removes the data. */
  async stop(): Promise<void> {
    for (const entry of this.clients.values()) entry.then((c) => c.connection.destroy(), () => {});
    this.clients.clear();
    await Promise.all(
      this.members.map(async (m) => {
        if (m.process === null) return;
        m.process.kill('SIGTERM');
        const timer = setTimeout(() => m.process?.kill('SIGKILL'), 5_000);
        await m.exited;
        clearTimeout(timer);
      }),
    );
    for (const log of this.logs) log.end();
    if (process.env['CONCORD_KEEP_TEST_DATA'] === undefined) rmSync(this.root, { recursive: true, force: true });
    else console.log(`test data kept in ${this.root}`);
  }
}

/** Runs `worker` over `items` with at most `concurrency` at once. */
export async function forEachConcurrent<T>(items: readonly T[], concurrency: number, worker: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await worker(items[i]!, i);
    }
  });
  await Promise.all(runners);
}
