/**
 * Running the real `concord` CLI in tests: one command (`concord`), and a
 * `concord dev` process with its output and its members' pids.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const cliMain = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/** Peer ports sit this far above client ports in the test clusters. */
export const peerPortOffset = 100;

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `concord ARGS` to its end; `input` is written to its stdin (which is closed either way). */
export function concord(args: readonly string[], env: NodeJS.ProcessEnv = {}, input = ''): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [cliMain, ...args],
      { env: { ...process.env, ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(input);
  });
}

/** `concord ARGS` with `input` (any bytes) on its stdin. */
export function concordWithInput(args: readonly string[], input: Uint8Array, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliMain, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** A `concord dev` process: its output, its members' pids, and how it ended. */
export class DevProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | string>;
  readonly child: ChildProcess;

  constructor(args: readonly string[], cwd: string) {
    this.child = spawn(process.execPath, [cliMain, 'dev', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (this.stdout += chunk));
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  }

  /** Resolves when the cluster has a leader; rejects if the process exits first. */
  async ready(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.stdout.includes('Cluster ready')) {
      if (this.child.exitCode !== null) throw new Error(`concord dev exited ${this.child.exitCode}: ${this.stdout}${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`concord dev not ready in ${timeoutMs} ms: ${this.stdout}${this.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  get memberPids(): number[] {
    return [...this.stdout.matchAll(/ pid (\d+)/g)].map((m) => Number(m[1]));
  }

  /** Last resort for cleanup: kill the dev process and its (detached) members. */
  killAll(): void {
    for (const pid of [this.child.pid, ...this.memberPids]) {
      if (pid === undefined) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
}

