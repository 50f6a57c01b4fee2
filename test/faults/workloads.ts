/**
 * The fault suite's client workloads, all through the real client library
 * (`connect({ endpoints })`), each recording what every operation was asked
 * and what it saw, as one history record per operation:
 * - register: read / write / compare-and-set on a few keys (checked for
 *   linearizability; a CAS is a read's version fed to `expectedVersion`, and
 *   since every written value is unique, "the version I read" is "the value I
 *   read": CAS by version is CAS by value);
 * - set: each client adds unique keys under a prefix (no acknowledged add may
 *   be lost, nothing not attempted may appear);
 * - counter: read-then-CAS increments with `retryWrite` on unknown outcomes
 *   (the exactly-once workload: final version == acknowledged + some of the
 *   unresolved, never more).
 *
 * Outcomes follow the client's documented contract (docs/client.md): an error
 * carrying `unresolvedWrite` (or a SessionExpiredError) is "unknown"; a
 * TimeoutError/UnavailableError/AbortedError *without* one claims the write was
 * not applied, and the checks hold the library to that claim.
 */
import { performance } from 'node:perf_hooks';
import { Prng } from '../../src/common/rng.js';
import {
  connect,
  SessionExpiredError,
  VersionMismatchError,
  type KvClient,
  type OutcomeUnknown,
} from '../../src/client/index.js';
import type { RegisterInput, RegisterOutput } from '../sim/register-model.js';

export const WorkloadKind = { Register: 'register', Set: 'set', Counter: 'counter' } as const;
export type WorkloadKind = (typeof WorkloadKind)[keyof typeof WorkloadKind];

/** What a write's caller may conclude. */
export const WriteResultKind = { Ok: 'ok', Unknown: 'unknown', Failed: 'failed' } as const;
export type WriteResultKind = (typeof WriteResultKind)[keyof typeof WriteResultKind];

export type HistoryRecord =
  | { readonly w: 'register'; readonly c: number; readonly input: RegisterInput; readonly call: number; readonly ret: number | null; readonly output: RegisterOutput | null; readonly err?: string }
  | { readonly w: 'set'; readonly c: number; readonly elem: string; readonly result: WriteResultKind; readonly call: number; readonly ret: number; readonly err?: string }
  | { readonly w: 'counter'; readonly c: number; readonly key: string; readonly result: WriteResultKind; readonly call: number; readonly ret: number; readonly attempts: number; readonly err?: string }
  /** A client's session changed (it was opened again, e.g. after a leader's clock step expired it). */
  | { readonly w: 'session'; readonly c: number; readonly sessionId: number; readonly at: number };

export const registerKeys = ['reg/a', 'reg/b', 'reg/c'] as const;
export const counterKeys = ['ctr/a', 'ctr/b'] as const;
export const setPrefix = 'set/';

export interface WorkloadOptions {
  readonly endpoints: readonly string[];
  readonly seed: number;
  /** Clients per workload. */
  readonly clients: { readonly register: number; readonly set: number; readonly counter: number };
  readonly opTimeoutMs: number;
  readonly record: (record: HistoryRecord) => void;
  /** Operations in flight stop being started once this is set. */
  readonly stopped: () => boolean;
}

const now = (): number => performance.now();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function errCode(error: unknown): string {
  const e = error as { code?: unknown; name?: unknown; message?: unknown };
  return typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? `${e.name}: ${String(e.message)}` : String(error);
}

function hasUnresolved(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as Partial<OutcomeUnknown>).unresolvedWrite !== undefined;
}

/** A write's error, classified by the client's contract. */
function writeErrorKind(error: unknown): WriteResultKind {
  if (error instanceof SessionExpiredError || hasUnresolved(error)) return WriteResultKind.Unknown;
  return WriteResultKind.Failed;
}

/** Records the client's session id when it changed since `last`; returns the current one. */
function noteSession(kv: KvClient, id: number, last: number | null, options: WorkloadOptions): number | null {
  const current = kv.sessionId;
  if (current !== null && current !== last) options.record({ w: 'session', c: id, sessionId: current, at: now() });
  return current ?? last;
}

/** Connects, retrying until it works or the workload stops (a member may be paused or cut off). */
async function connectRetrying(options: WorkloadOptions): Promise<KvClient | null> {
  while (!options.stopped()) {
    try {
      return await connect({ endpoints: options.endpoints, timeoutMs: options.opTimeoutMs, connectTimeoutMs: 500 });
    } catch {
      await sleep(100);
    }
  }
  return null;
}

async function registerClient(id: number, options: WorkloadOptions): Promise<void> {
  const rng = new Prng(options.seed * 1000 + id);
  const kv = await connectRetrying(options);
  if (kv === null) return;
  let n = 0;
  const timeoutMs = options.opTimeoutMs;
  const read = async (key: string): Promise<{ value: string | null; version: number } | null> => {
    const input: RegisterInput = { kind: 'read', key };
    const call = now();
    try {
      const got = await kv.get(key, { timeoutMs });
      const value = got === null ? null : got.valueString();
      options.record({ w: 'register', c: id, input, call, ret: now(), output: { kind: 'read', value } });
      return { value, version: got === null ? 0 : got.version };
    } catch {
      return null; // a failed read has no effect: nothing to check
    }
  };
  let session: number | null = null;
  try {
    while (!options.stopped()) {
      session = noteSession(kv, id, session, options);
      const key = registerKeys[rng.nextInt(registerKeys.length)]!;
      const dice = rng.nextInt(10);
      if (dice < 4) {
        await read(key);
      } else if (dice < 7) {
        const value = `c${id}-${++n}`;
        const input: RegisterInput = { kind: 'write', key, value };
        const call = now();
        try {
          await kv.put(key, value, { timeoutMs });
          options.record({ w: 'register', c: id, input, call, ret: now(), output: { kind: 'write' } });
        } catch (error) {
          // A write that claims "not applied" is still recorded as unknown: a
          // register cannot tell, and the set and counter workloads hold the claim.
          options.record({ w: 'register', c: id, input, call, ret: null, output: null, err: errCode(error) });
        }
      } else {
        const seen = await read(key);
        if (seen === null) continue;
        const value = `c${id}-${++n}`;
        const input: RegisterInput = { kind: 'cas', key, expected: seen.value, value };
        const call = now();
        try {
          await kv.put(key, value, { timeoutMs, expectedVersion: seen.version });
          options.record({ w: 'register', c: id, input, call, ret: now(), output: { kind: 'cas', swapped: true } });
        } catch (error) {
          if (error instanceof VersionMismatchError) {
            options.record({ w: 'register', c: id, input, call, ret: now(), output: { kind: 'cas', swapped: false } });
          } else {
            options.record({ w: 'register', c: id, input, call, ret: null, output: null, err: errCode(error) });
          }
        }
      }
    }
  } finally {
    await kv.close({ timeoutMs: 2000 }).catch(() => undefined);
  }
}

async function setClient(id: number, options: WorkloadOptions): Promise<void> {
  const kv = await connectRetrying(options);
  if (kv === null) return;
  let n = 0;
  let session: number | null = null;
  try {
    while (!options.stopped()) {
      session = noteSession(kv, id, session, options);
      const elem = `${setPrefix}${id}-${++n}`;
      const call = now();
      try {
        await kv.put(elem, '1', { timeoutMs: options.opTimeoutMs });
        options.record({ w: 'set', c: id, elem, result: WriteResultKind.Ok, call, ret: now() });
      } catch (error) {
        options.record({ w: 'set', c: id, elem, result: writeErrorKind(error), call, ret: now(), err: errCode(error) });
      }
    }
  } finally {
    await kv.close({ timeoutMs: 2000 }).catch(() => undefined);
  }
}

/**
 * One increment of `key`: read, CAS to value+1 at the read version; on a
 * mismatch (definitely not applied) read again; on an unknown outcome ask
 * `retryWrite` (same session and seq) what happened.
 */
async function increment(kv: KvClient, key: string, options: WorkloadOptions): Promise<{ result: WriteResultKind; attempts: number; err?: string }> {
  const timeoutMs = options.opTimeoutMs;
  let lastErr: string | undefined;
  let attempt = 0;
  while (attempt < 20) {
    attempt++;
    if (options.stopped() && attempt > 1) break;
    let version: number;
    let value: number;
    try {
      const got = await kv.get(key, { timeoutMs });
      version = got === null ? 0 : got.version;
      value = got === null ? 0 : Number(got.valueString());
    } catch (error) {
      lastErr = errCode(error);
      await sleep(50);
      continue;
    }
    try {
      await kv.put(key, String(value + 1), { timeoutMs, expectedVersion: version });
      return { result: WriteResultKind.Ok, attempts: attempt };
    } catch (error) {
      if (error instanceof VersionMismatchError) continue;
      lastErr = errCode(error);
      const unresolved = (error as Partial<OutcomeUnknown>).unresolvedWrite;
      if (unresolved === undefined) {
        if (error instanceof SessionExpiredError) return { result: WriteResultKind.Unknown, attempts: attempt, err: lastErr };
        continue; // the client says: not applied
      }
      for (let retry = 0; retry < 3; retry++) {
        try {
          await kv.retryWrite(unresolved, { timeoutMs });
          return { result: WriteResultKind.Ok, attempts: attempt };
        } catch (retryError) {
          if (retryError instanceof VersionMismatchError) break; // the original lost a race: not applied
          lastErr = errCode(retryError);
          if (!hasUnresolved(retryError) && !(retryError instanceof Error && /Timeout|Unavailable/.test(retryError.name))) {
            return { result: WriteResultKind.Unknown, attempts: attempt, err: lastErr };
          }
        }
        if (retry === 2) return { result: WriteResultKind.Unknown, attempts: attempt, err: lastErr };
      }
    }
  }
  return { result: WriteResultKind.Failed, attempts: attempt, ...(lastErr !== undefined ? { err: lastErr } : {}) };
}

async function counterClient(id: number, options: WorkloadOptions): Promise<void> {
  const rng = new Prng(options.seed * 1000 + 500 + id);
  const kv = await connectRetrying(options);
  if (kv === null) return;
  let session: number | null = null;
  try {
    while (!options.stopped()) {
      session = noteSession(kv, id, session, options);
      const key = counterKeys[rng.nextInt(counterKeys.length)]!;
      const call = now();
      const outcome = await increment(kv, key, options);
      options.record({ w: 'counter', c: id, key, call, ret: now(), ...outcome });
    }
  } finally {
    await kv.close({ timeoutMs: 2000 }).catch(() => undefined);
  }
}

/** Runs every workload's clients until `stopped()`; resolves when all have finished their last operation. */
export async function runWorkloads(options: WorkloadOptions): Promise<void> {
  const clients: Promise<void>[] = [];
  let id = 0;
  for (let i = 0; i < options.clients.register; i++) clients.push(registerClient(++id, options));
  for (let i = 0; i < options.clients.set; i++) clients.push(setClient(++id, options));
  for (let i = 0; i < options.clients.counter; i++) clients.push(counterClient(++id, options));
  const results = await Promise.allSettled(clients);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}
