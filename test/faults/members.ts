/**
 * The member processes of one fault-suite run: each a real Concord member in
 * its own network namespace (`ip netns exec`, which execs node in place, so
 * the PID we hold is the member's own and kill -9 / SIGSTOP reach it). A
 * member runs `concord server` (bin/concord.js) unless the run needs
 * injections (a failing disk, a clock step): then the launcher member.ts,
 * which calls the same startServer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, writeFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServerExitCode } from '../../src/server/exit-codes.js';
import type { FaultNetwork, NetMember } from './netns.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const cliEntry = join(repoRoot, 'bin', 'concord.js');
const launcherEntry = fileURLToPath(new URL('./member.js', import.meta.url));

export const clientPort = 7000;

export const peerPort = 7100;

export const MemberState = { Running: 'running', Paused: 'paused', Dead: 'dead' } as const;
export type MemberState = (typeof MemberState)[keyof typeof MemberState];

export interface MemberControl {
  clockOffsetMs: number;
  diskFailing: boolean;
}

export class FaultMember {
  state: MemberState = MemberState.Dead;
  process: ChildProcess | null = null;
  starts = 0;
  readonly control: MemberControl = { clockOffsetMs: 0, diskFailing: false };
  readonly dataDir: string;
  readonly logFile: string;
  readonly controlFile: string;
  /** Exits nobody asked for (code or signal), for the verdict. */
  readonly unexpectedExits: string[] = [];
  /**
   * Exits while its disk was failing, as designed: ServerExitCode.StorageFailed
   * at run time (EIO), or Failure when it could not even start on that disk.
   */
  storageFailedExits = 0;
  private expectingExit = false;

  constructor(
    readonly net: NetMember,
    private readonly cluster: string,
    dir: string,
    private readonly launcher: boolean,
    private readonly timing: { heartbeatIntervalMs: number; electionTimeoutMs: number },
  ) {
    this.dataDir = join(dir, 'data', net.name);
    this.logFile = join(dir, `${net.name}.log`);
    this.controlFile = join(dir, `${net.name}.control.json`);
    mkdirSync(this.dataDir, { recursive: true });
  }

  get name(): string {
    return this.net.name;
  }
  get clientUrl(): string {
    return `tcp://${this.net.address}:${clientPort}`;
  }
  get pid(): number | undefined {
    return this.process?.pid;
  }

  start(): void {
    if (this.state !== MemberState.Dead) return;
    const flags = [
      '--name', this.name,
      '--data-dir', this.dataDir,
      '--client-url', this.clientUrl,
      '--peer-url', `tcp://${this.net.address}:${peerPort}`,
      '--initial-cluster', this.cluster,
      '--heartbeat-interval-ms', String(this.timing.heartbeatIntervalMs),
      '--election-timeout-ms', String(this.timing.electionTimeoutMs),
      '--snapshot-every-entries', '2000',
      '--log-format', 'json',
      '--log-level', 'info',
    ];
    const command = this.launcher
      ? [launcherEntry, ...flags, '--fault-control', this.writeControl()]
      : [cliEntry, 'server', ...flags];
    rmSync(`${this.controlFile}.pid`, { force: true });
    const log = openSync(this.logFile, 'a');
    writeFileSync(log, `{"faultSuite":"start ${++this.starts}","launcher":${this.launcher}}\n`);
    const child = spawn('ip', ['netns', 'exec', this.net.ns, process.execPath, ...command], { stdio: ['ignore', log, log], cwd: repoRoot });
    closeSync(log);
    this.process = child;
    this.state = MemberState.Running;
    this.expectingExit = false;
    child.on('exit', (code, signal) => {
      if (this.process !== child) return;
      const onFailingDisk = this.control.diskFailing && (code === ServerExitCode.StorageFailed || code === ServerExitCode.Failure);
      if (!this.expectingExit && onFailingDisk) this.storageFailedExits++;
      else if (!this.expectingExit) this.unexpectedExits.push(`${this.name} (start ${this.starts}) exited by itself: ${signal ?? `code ${code}`}`);
      this.process = null;
      this.state = MemberState.Dead;
    });
  }

  private writeControl(): string {
    writeFileSync(this.controlFile, JSON.stringify(this.control));
    return this.controlFile;
  }

  /** Changes the injected faults of a running launcher member (SIGUSR2 makes it re-read the file). */
  setControl(change: Partial<MemberControl>): void {
    Object.assign(this.control, change);
    this.writeControl();
    if (this.state !== MemberState.Dead && this.pid !== undefined && this.launcher && this.handlerInstalled()) {
      try {
        process.kill(this.pid, 'SIGUSR2');
      } catch {
        // it just died; the file is read at its next start
      }
    }
  }

  /** The launcher wrote its pid next to the control file once its SIGUSR2 handler was in place. */
  private handlerInstalled(): boolean {
    try {
      return readFileSync(`${this.controlFile}.pid`, 'utf8') === String(this.pid);
    } catch {
      return false;
    }
  }

  kill9(): Promise<void> {
    const child = this.process;
    if (child === null || this.state === MemberState.Dead) return Promise.resolve();
    this.expectingExit = true;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    return exited;
  }

  pause(): void {
    if (this.state !== MemberState.Running || this.process === null) return;
    this.process.kill('SIGSTOP');
    this.state = MemberState.Paused;
  }

  resume(): void {
    if (this.state !== MemberState.Paused || this.process === null) return;
    this.process.kill('SIGCONT');
    this.state = MemberState.Running;
  }

  /** Graceful stop (SIGTERM), then SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    const child = this.process;
    if (child === null) return;
    this.expectingExit = true;
    if (this.state === MemberState.Paused) child.kill('SIGCONT');
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

export function createMembers(
  net: FaultNetwork,
  dir: string,
  launcher: boolean,
  timing: { heartbeatIntervalMs: number; electionTimeoutMs: number },
): FaultMember[] {
  const cluster = net.members.map((m) => `${m.name}=tcp://${m.address}:${peerPort}`).join(',');
  return net.members.map((m) => new FaultMember(m, cluster, dir, launcher, timing));
}
