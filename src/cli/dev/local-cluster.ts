/**
 * A cluster of real `concord server` processes on loopback, one per member,
 * for `concord dev`, `npm run bench:kv` and end-to-end tests.
 *
 * Member i (from 1) is named n<i>, listens for clients on clientPortBase+i-1
 * and for peers on peerPortBase+i-1, and keeps its data in <dataDir>/n<i>.
 * Starting again over an existing data directory passes the very same flags;
 * the server sees its data and restarts as that member with its data.
 *
 * The children run in their own process group (`detached`), so a Ctrl-C in
 * the terminal reaches only this process, which then stops each member with
 * exactly one SIGTERM (a second signal makes a member exit at once, skipping
 * its graceful shutdown).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { createWriteStream, mkdirSync, readFileSync, type WriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRpcChannel } from '../../client/net-channel.js';
import type { RpcChannel } from '../../client/channel.js';
import { Method, type MemberStatus, type StatusResponse } from '../../protocol/index.js';
import { ConcordError, ConcordErrorCode } from '../../common/errors.js';

/** How a member's output is handled: appended to <dataDir>/<name>.log, or passed through prefixed with the name. */
export const MemberOutput = { LogFile: 'log-file', Prefixed: 'prefixed', Ignore: 'ignore' } as const;
export type MemberOutput = (typeof MemberOutput)[keyof typeof MemberOutput];

export interface LocalClusterOptions {
  readonly nodes: number;
  readonly dataDir: string;
  readonly host?: string;
  readonly clientPortBase?: number;
  readonly peerPortBase?: number;
  /** Extra `concord server` flags for every member (e.g. ['--heartbeat-interval-ms', '50']). */
  readonly serverArgs?: readonly string[];
  readonly output?: MemberOutput;
  /**
   * Mutual TLS between members (`concord dev --tls`, `bench:kv --peer-tls`):
   * the CA file and each member's certificate and key (tls-material.ts makes
   * them). Peer URLs are then tls://. Default null: plain TCP on loopback.
   */
  readonly peerTls?: PeerTlsFiles | null;
  /** Metrics and health port of the first member (the others follow); 0: no metrics listener. Default 0. */
  readonly metricsPortBase?: number;
  /** https serves the metrics listener (and dashboard) with the client certificate (needs clientTls). Default http. */
  readonly metricsScheme?: 'http' | 'https';
  /**
   * TLS for clients (`concord dev --tls`, `bench:kv --tls`): client URLs are
   * then tls://, each member serves its member certificate, and with
   * `clientCertAuth` demands a client certificate from the CA (its CN is the
   * user). `probe` is the certificate this tool's own status probe presents.
   * Default null: plain TCP on loopback.
   */
  readonly clientTls?: ClientTlsFiles | null;
  /** A user the status probe logs in as (auth enabled and no certificate login). Default: none. */
  readonly probeAuth?: { readonly user: string; readonly password: string } | null;
  /** RESP (Redis protocol) port of the first member (the others follow); 0: no RESP listener. Default 0. */
  readonly respPortBase?: number;
}

export interface ClientTlsFiles extends PeerTlsFiles {
  readonly clientCertAuth: boolean;
  readonly probe: { readonly certFile: string; readonly keyFile: string } | null;
}

export interface PeerTlsFiles {
  readonly caFile: string;
  readonly members: Readonly<Record<string, { readonly certFile: string; readonly keyFile: string }>>;
}

export interface LocalMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly logFile: string | null;
  /** Where /metrics, /livez, /readyz and /health are served (null: not served). */
  readonly metricsUrl: string | null;
  /** Where the member speaks the Redis protocol (null: not served). */
  readonly respUrl: string | null;
  process: ChildProcess | null;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
}

/** A member exited while the cluster was starting (bad flags, port in use...). */
export class MemberExitedError extends ConcordError {
  constructor(name: string, how: number | string, logFile: string | null) {
    super(
      ConcordErrorCode.MemberExited,
      `member ${name} exited (${typeof how === 'number' ? `code ${how}` : how})` + (logFile ? `; see ${logFile}` : ''),
    );
  }
}

/** A port a member needs is already in use. */
export class PortInUseError extends ConcordError {
  constructor(host: string, port: number, hint = 'is another cluster running? pick other ports with --client-port / --peer-port') {
    super(ConcordErrorCode.PortInUse, `port ${port} on ${host} is already in use (${hint})`);
  }
}

async function assertPortFree(host: string, port: number, hint?: string): Promise<void> {
  const free = await new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
  if (!free) throw new PortInUseError(host, port, hint);
}

/** No leader emerged in time. */
export class NoLeaderError extends ConcordError {
  constructor(timeoutMs: number) {
    super(ConcordErrorCode.NoLeader, `no leader elected within ${timeoutMs} ms`);
  }
}

/** The compiled CLI entry point that children run (`node dist/src/cli/main.js server ...`). */
const cliEntry = fileURLToPath(new URL('../main.js', import.meta.url));

export class LocalCluster {
  readonly members: readonly LocalMember[];
  private readonly logStreams: WriteStream[] = [];
  private stopping: Promise<void> | null = null;

  private constructor(
    readonly options: Required<LocalClusterOptions>,
    members: LocalMember[],
  ) {
    this.members = members;
  }

  /** Client URLs of every member, in member order. */
  get endpoints(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  /**
   * Spawns every member (does not wait for a leader: see `waitForLeader`).
   * Fails first if a port is taken: otherwise the members would exit, and
   * whatever listens there (another cluster) could pass for this one.
   */
  static async start(options: LocalClusterOptions): Promise<LocalCluster> {
    const resolved: Required<LocalClusterOptions> = {
      nodes: options.nodes,
      dataDir: resolve(options.dataDir),
      host: options.host ?? '127.0.0.1',
      clientPortBase: options.clientPortBase ?? 7001,
      peerPortBase: options.peerPortBase ?? 7101,
      serverArgs: options.serverArgs ?? [],
      output: options.output ?? MemberOutput.LogFile,
      peerTls: options.peerTls ?? null,
      metricsPortBase: options.metricsPortBase ?? 0,
      metricsScheme: options.metricsScheme ?? 'http',
      clientTls: options.clientTls ?? null,
      probeAuth: options.probeAuth ?? null,
      respPortBase: options.respPortBase ?? 0,
    };
    const members: LocalMember[] = [];
    for (let i = 0; i < resolved.nodes; i++) {
      const name = `n${i + 1}`;
      members.push({
        name,
        clientUrl: `${resolved.clientTls === null ? 'tcp' : 'tls'}://${resolved.host}:${resolved.clientPortBase + i}`,
        peerUrl: `${resolved.peerTls === null ? 'tcp' : 'tls'}://${resolved.host}:${resolved.peerPortBase + i}`,
        dataDir: join(resolved.dataDir, name),
        logFile: resolved.output === MemberOutput.LogFile ? join(resolved.dataDir, `${name}.log`) : null,
        metricsUrl: resolved.metricsPortBase === 0 ? null : `${resolved.metricsScheme}://${resolved.host}:${resolved.metricsPortBase + i}`,
        respUrl: resolved.respPortBase === 0 ? null : `tcp://${resolved.host}:${resolved.respPortBase + i}`,
        process: null,
        exited: Promise.resolve(0),
      });
    }
    for (const member of members) {
      for (const url of [member.clientUrl, member.peerUrl, ...(member.metricsUrl === null ? [] : [member.metricsUrl])]) await assertPortFree(resolved.host, Number(url.slice(url.lastIndexOf(':') + 1)));
      if (member.respUrl !== null) {
        const port = Number(member.respUrl.slice(member.respUrl.lastIndexOf(':') + 1));
        await assertPortFree(resolved.host, port, `is a redis-server or another cluster running? serve Redis elsewhere with --resp-port-base N, or not at all with --no-resp`);
      }
    }
    const cluster = new LocalCluster(resolved, members);
    mkdirSync(resolved.dataDir, { recursive: true });
    for (const member of members) cluster.spawnMember(member);
    return cluster;
  }

  /** The `concord server` arguments of a member (the same on every start). */
  serverArgs(member: LocalMember): string[] {
    const initialCluster = this.members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    return [
      'server',
      '--name', member.name,
      '--data-dir', member.dataDir,
      '--client-url', member.clientUrl,
      '--peer-url', member.peerUrl,
      '--initial-cluster', initialCluster,
      // JSON in log files (for tools); readable lines when shown in the terminal.
      '--log-format', this.options.output === MemberOutput.Prefixed ? 'pretty' : 'json',
      ...this.peerTlsArgs(member.name),
      ...this.clientTlsArgs(member.name),
      ...(member.metricsUrl === null ? [] : ['--metrics-url', member.metricsUrl]),
      ...(member.respUrl === null ? [] : ['--resp-url', member.respUrl]),
      ...this.options.serverArgs,
    ];
  }

  /** The peer TLS flags of a member (none without peerTls). */
  peerTlsArgs(name: string): string[] {
    const tls = this.options.peerTls;
    const files = tls?.members[name];
    if (tls === null || tls === undefined || files === undefined) return [];
    return ['--peer-cert-file', files.certFile, '--peer-key-file', files.keyFile, '--peer-trusted-ca-file', tls.caFile];
  }

  /** The client TLS flags of a member (none without clientTls). */
  clientTlsArgs(name: string): string[] {
    const tls = this.options.clientTls;
    const files = tls?.members[name];
    if (tls === null || tls === undefined || files === undefined) return [];
    return ['--cert-file', files.certFile, '--key-file', files.keyFile, '--trusted-ca-file', tls.caFile, ...(tls.clientCertAuth ? ['--client-cert-auth'] : [])];
  }

  /** How this tool's status probe connects (TLS files, login). */
  private probeOptions(): ProbeOptions {
    const tls = this.options.clientTls;
    return {
      tls:
        tls === null
          ? null
          : { ca: readFileSync(tls.caFile), ...(tls.probe !== null ? { cert: readFileSync(tls.probe.certFile), key: readFileSync(tls.probe.keyFile) } : {}) },
      auth: this.options.probeAuth,
    };
  }

  private spawnMember(member: LocalMember): void {
    mkdirSync(member.dataDir, { recursive: true });
    const child = spawn(process.execPath, [cliEntry, ...this.serverArgs(member)], {
      detached: true,
      stdio: ['ignore', this.options.output === MemberOutput.Ignore ? 'ignore' : 'pipe', this.options.output === MemberOutput.Ignore ? 'ignore' : 'pipe'],
    });
    member.process = child;
    member.exited = new Promise((resolveExit) => {
      child.once('exit', (code, signal) => resolveExit(code ?? signal ?? 'unknown'));
      child.once('error', () => resolveExit('spawn failed'));
    });
    if (this.options.output === MemberOutput.LogFile) {
      const log = createWriteStream(member.logFile!, { flags: 'a' });
      this.logStreams.push(log);
      child.stdout?.pipe(log, { end: false });
      child.stderr?.pipe(log, { end: false });
    } else if (this.options.output === MemberOutput.Prefixed) {
      for (const [stream, out] of [
        [child.stdout, process.stdout],
        [child.stderr, process.stderr],
      ] as const) {
        let partial = '';
        stream?.setEncoding('utf8');
        stream?.on('data', (chunk: string) => {
          const lines = (partial + chunk).split('\n');
          partial = lines.pop() ?? '';
          for (const line of lines) out.write(`[${member.name}] ${line}\n`);
        });
      }
    }
  }

  /** Starts a member that was stopped or killed, with the same flags and data. */
  restartMember(name: string): void {
    const member = this.member(name);
    if (member.process !== null && member.process.exitCode === null && member.process.signalCode === null) {
      throw new Error(`member ${name} is still running`);
    }
    this.spawnMember(member);
  }

  /** Sends `signal` to one member and waits for it to exit. */
  async stopMember(name: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | string> {
    const member = this.member(name);
    if (isRunning(member)) member.process!.kill(signal);
    return member.exited;
  }

  member(name: string): LocalMember {
    const member = this.members.find((m) => m.name === name);
    if (member === undefined) throw new Error(`no member ${name}`);
    return member;
  }

  /**
   * Polls every member's status until a majority agrees on one leader and
   * that leader says so itself. Fails early when a member exits.
   */
  async waitForLeader(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<{ leader: LocalMember; statuses: MemberStatus[] }> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const startedMs = performance.now();
    const channels = new Map<string, RpcChannel>();
    const probe = this.probeOptions();
    try {
      for (;;) {
        for (const member of this.members) {
          if (member.process !== null && !isRunning(member)) {
            throw new MemberExitedError(member.name, member.process.exitCode ?? member.process.signalCode ?? 'unknown', member.logFile);
          }
        }
        const statuses = (await Promise.all(this.members.map((m) => memberStatus(m, channels, probe)))).filter(
          (s): s is MemberStatus => s !== null,
        );
        const leaderStatus = statuses.find((s) => s.role === 'leader');
        if (leaderStatus !== undefined) {
          const agreeing = statuses.filter((s) => s.leaderId === leaderStatus.name).length;
          if (agreeing > this.members.length / 2) {
            return { leader: this.member(leaderStatus.name), statuses };
          }
        }
        if (options.signal?.aborted) throw options.signal.reason;
        if (performance.now() - startedMs > timeoutMs) throw new NoLeaderError(timeoutMs);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      for (const channel of channels.values()) channel.destroy();
    }
  }

  /**
   * Stops every member: one SIGTERM each (graceful: a leader hands over
   * leadership, everyone flushes), then SIGKILL for any member still running
   * after `timeoutMs`. Idempotent.
   */
  stop(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.stopping === null) this.stopping = this.stopAll(options.timeoutMs ?? 10_000);
    return this.stopping;
  }

  private async stopAll(timeoutMs: number): Promise<void> {
    const running = this.members.filter(isRunning);
    for (const member of running) member.process!.kill('SIGTERM');
    const killer = setTimeout(() => {
      for (const member of running) if (isRunning(member)) member.process!.kill('SIGKILL');
    }, timeoutMs);
    try {
      await Promise.all(running.map((m) => m.exited));
    } finally {
      clearTimeout(killer);
    }
    await Promise.all(this.logStreams.map((s) => new Promise<void>((r) => s.end(() => r()))));
  }

  /** Last resort on an unexpected exit of this process: SIGKILL every member synchronously. */
  killAllNow(): void {
    for (const member of this.members) if (isRunning(member)) member.process!.kill('SIGKILL');
  }
}

function isRunning(member: LocalMember): boolean {
  const p = member.process;
  return p !== null && p.exitCode === null && p.signalCode === null;
}

interface ProbeOptions {
  readonly tls: { readonly ca: Buffer; readonly cert?: Buffer; readonly key?: Buffer } | null;
  readonly auth: { readonly user: string; readonly password: string } | null;
}

async function memberStatus(member: LocalMember, channels: Map<string, RpcChannel>, probe: ProbeOptions): Promise<MemberStatus | null> {
  try {
    let channel = channels.get(member.name);
    if (channel === undefined) {
      channel = await createRpcChannel(member.clientUrl, { timeoutMs: 500, ...(probe.tls !== null ? { tls: probe.tls } : {}) });
      // A refused login (the user is not made yet, auth still off) leaves the probe anonymous: the status call tells.
      if (probe.auth !== null) await channel.call(Method.Authenticate, { user: probe.auth.user, password: probe.auth.password }, { timeoutMs: 5_000 }).catch(() => undefined);
      channels.set(member.name, channel);
      channel.onClose(() => channels.delete(member.name));
    }
    const response = (await channel.call(Method.Status, {}, { timeoutMs: 1000 })) as StatusResponse;
    return response.member;
  } catch {
    return null;
  }
}
