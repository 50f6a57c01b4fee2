/** Shared helpers for the networking tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock, Timer } from '../../src/common/clock.js';
import type { Logger } from '../../src/net/index.js';

export interface LogEntry {
  readonly level: string;
  readonly obj: Record<string, unknown>;
  readonly msg: string;
}

/** A logger that records what it is told (same call shape as pino). */
export function captureLogger(): Logger & { readonly entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const record = (level: string) => (obj: object, msg: string) => entries.push({ level, obj: obj as Record<string, unknown>, msg });
  return { entries, warn: record('warn'), error: record('error'), info: record('info'), debug: record('debug') };
}

/** A fresh temp dir for unix sockets; remove it with the returned function. */
export function tempDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'concord-net-test-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

let memCounter = 0;

/** A listen address per transport (unix sockets in `dir`). */
export function addressFor(transport: 'tcp' | 'unix' | 'mem', dir: string): string {
  switch (transport) {
    case 'tcp':
      return 'tcp://127.0.0.1:0';
    case 'unix':
      return `unix://${join(dir, `s${++memCounter}.sock`)}`;
    case 'mem':
      return `mem://test-${process.pid}-${++memCounter}`;
  }
}

/** Wait until `condition()` holds, checking every few ms; fails after `limitMs` (a bound, not a timing assertion). */
export async function eventually(condition: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`still not true after ${limitMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export const fixtures = new URL('../../../test/net/fixtures/', import.meta.url);

/** A Clock that moves only when the test says so (timers fire in `advance`, in deadline order). */
export class ManualClock implements Clock {
  private nowValue = 1_000;
  private timers: { atMs: number; everyMs: number; delayMs: number; fn: () => void; cancelled: boolean }[] = [];

  nowMs(): number {
    return 1_700_000_000_000 + this.nowValue;
  }
  monotonicMs(): number {
    return this.nowValue;
  }
  setTimer(delayMs: number, fn: () => void): Timer {
    return this.add(Math.max(0, delayMs), 0, fn);
  }
  setRepeating(intervalMs: number, fn: () => void): Timer {
    return this.add(intervalMs, intervalMs, fn);
  }
  schedule(fn: () => void): void {
    this.add(0, 0, fn);
  }
  /** The delays of the timers not yet fired or cancelled, in the order they were set. */
  get pendingDelaysMs(): number[] {
    return this.timers.filter((t) => !t.cancelled).map((t) => t.delayMs);
  }

  /** Move time forward by `ms`, firing due timers in order and letting what they start run a turn. */
  async advance(ms: number): Promise<void> {
    const endMs = this.nowValue + ms;
    for (;;) {
      await turn();
      const due = this.timers.filter((t) => !t.cancelled && t.atMs <= endMs).sort((a, b) => a.atMs - b.atMs)[0];
      if (due === undefined) break;
      this.nowValue = Math.max(this.nowValue, due.atMs);
      if (due.everyMs > 0) due.atMs += due.everyMs;
      else due.cancelled = true;
      due.fn();
    }
    this.nowValue = endMs;
    this.timers = this.timers.filter((t) => !t.cancelled);
    await turn();
  }

  private add(delayMs: number, everyMs: number, fn: () => void): Timer {
    const timer = { atMs: this.nowValue + delayMs, everyMs, delayMs, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }
}

/** One turn of the real event loop (I/O callbacks included). */
export const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
