/** Shared helpers for the networking tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

export { ManualClock } from '../../src/testing/manual-clock.js';
