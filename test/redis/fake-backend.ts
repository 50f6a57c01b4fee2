/**
 * An in-memory stand-in for a member's client methods, with the real
 * semantics the command layer relies on: versions and modRevisions,
 * compare-and-set conditions, exactly-once per (sessionId, seq), sessions
 * that expire; and a hook that injects failures (no leader, a lost answer).
 */
import type { KvCall, KvMethod, RedisBackend } from '../../src/redis/index.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { Prng } from '../../src/common/rng.js';
import { incrementedValue } from '../../src/kv/index.js';

export interface Entry {
  value: Buffer;
  version: number;
  createRevision: number;
  modRevision: number;
  /** The key's own expiry on the clock (0: none); hidden from reads once passed. */
  expiresAtMs: number;
}

export const codeError = (code: string, message = code): Error => Object.assign(new Error(message), { code });

export class FakeKv {
  readonly store = new Map<string, Entry>();
  revision = 0;
  readonly clock = new ManualClock();
  readonly sessions = new Set<number>();
  private nextSession = 1;
  /** (sessionId:seq) -> saved result: a retried write answers the first result without applying again. */
  readonly results = new Map<string, unknown>();
  applied = 0;
  /** Transactions applied (each counts once in `applied`). */
  txns = 0;
  /** Writes of keys longer than this are refused before they apply, as a member's keyBytesMax refuses them (a transaction as a whole). */
  keyBytesMax = Infinity;
  /** Called before every method; may throw to inject a failure, or return 'applyThenLose' to apply and then throw ConnectionClosed. */
  inject: ((method: KvMethod, request: any) => void | 'applyThenLose') | null = null;

  backend(overrides: Partial<RedisBackend> = {}): RedisBackend {
    return {
      clock: this.clock,
      random: new Prng(1),
      requestTimeoutMs: 1_000,
      retryDelayMs: 50,
      memberName: 'n1',
      isLeader: () => true,
      valueBytesMax: 1024,
      keyspace: () => ({ keys: this.store.size, expires: 0 }),
      entryTimeMs: () => this.clock.nowMs(),
      connect: (): KvCall => ((method: KvMethod, request: any) => this.call(method, request)) as KvCall,
      ...overrides,
    };
  }

  put(key: string, value: string): void {
    this.revision++;
    const old = this.store.get(key);
    this.store.set(key, { value: Buffer.from(value), version: (old?.version ?? 0) + 1, createRevision: old?.createRevision ?? this.revision, modRevision: this.revision, expiresAtMs: 0 });
  }

  /** The live entry of a key (one whose TTL passed is absent, as the state machine sees it). */
  private live(key: string): Entry | undefined {
    const e = this.store.get(key);
    return e !== undefined && e.expiresAtMs !== 0 && e.expiresAtMs <= this.clock.nowMs() ? undefined : e;
  }

  private header() {
    return { memberName: 'n1', leaderId: 'n1', leaderClientUrl: null, revision: this.revision };
  }

  async call(method: KvMethod, request: any): Promise<any> {
    await Promise.resolve();
    const injected = this.inject?.(method, request);
    const result = this.apply(method, request);
    if (injected === 'applyThenLose') throw codeError('CONCORD_ERR_CONNECTION_CLOSED', 'connection closed');
    return result;
  }

  private apply(method: KvMethod, request: any): any {
    switch (method) {
      case 'session.open': {
        const id = this.nextSession++;
        this.sessions.add(id);
        return { header: this.header(), sessionId: id, ttlMs: request.ttlMs };
      }
      case 'session.keepAlive':
      case 'session.close':
        return { header: this.header() };
      case 'cluster.status':
        return { header: this.header(), member: { name: 'n1', role: 'leader' }, members: [] };
      case 'kv.get': {
        const e = this.live(Buffer.from(request.key).toString('latin1'));
        return { header: this.header(), kv: e === undefined ? null : { key: request.key, ...e } };
      }
      case 'kv.scan': {
        const keys = [...this.store.keys()].filter((k) => this.live(k) !== undefined).sort().filter((k) => request.after === undefined || k > Buffer.from(request.after).toString('latin1'));
        const page = keys.slice(0, request.limit);
        const items = page.map((k) => ({ key: Buffer.from(k, 'latin1'), ...this.store.get(k)! }));
        return { header: this.header(), items, next: keys.length > page.length ? Buffer.from(page[page.length - 1]!, 'latin1') : null };
      }
      case 'kv.txn':
        // A read-only transaction (EXEC without writes) comes without a session, as the server allows.
        return request.session === undefined ? this.txn(request) : this.write(method, request);
      default:
        return this.write(method, request);
    }
  }

  private write(method: KvMethod, request: any): any {
    const { sessionId, seq, ackedSeq } = request.session;
    if (!this.sessions.has(sessionId)) throw codeError('CONCORD_ERR_SESSION_EXPIRED', 'session expired');
    if (!(ackedSeq < seq)) throw new Error(`ackedSeq ${ackedSeq} must be below seq ${seq}`);
    const id = `${sessionId}:${seq}`;
    if (this.results.has(id)) {
      const saved = this.results.get(id);
      if (saved instanceof Error) throw saved;
      return saved;
    }
    let out: unknown;
    try {
      out = this.applyWrite(method, request);
    } catch (error) {
      this.results.set(id, error);
      throw error;
    }
    this.results.set(id, out);
    return out;
  }

  private applyWrite(method: KvMethod, request: any): unknown {
    if (method === 'kv.txn') return this.txn(request);
    if (request.key.length > this.keyBytesMax) throw codeError('CONCORD_ERR_KEY_TOO_LARGE', 'key too large');
    const key = Buffer.from(request.key).toString('latin1');
    const old = this.live(key);
    if (request.expectedVersion !== undefined && (old?.version ?? 0) !== request.expectedVersion) throw codeError('CONCORD_ERR_VERSION_MISMATCH');
    if (request.expectedModRevision !== undefined && (old?.modRevision ?? 0) !== request.expectedModRevision) throw codeError('CONCORD_ERR_VERSION_MISMATCH');
    if (method === 'kv.update' && old === undefined) throw codeError('CONCORD_ERR_KEY_NOT_FOUND');
    this.revision++;
    this.applied++;
    if (method === 'kv.delete') {
      this.store.delete(key);
      return { header: this.header(), revision: this.revision, deleted: old !== undefined };
    }
    const entry = this.written(old, request);
    this.store.set(key, entry);
    return { header: this.header(), revision: this.revision, version: entry.version };
  }

  /** A put's or update's new entry, with its expiry fields (ttlMs, expiresAtMs, keepTtl, keepValue) applied. */
  private written(old: Entry | undefined, op: any): Entry {
    const expiresAtMs = op.keepTtl === true ? (old?.expiresAtMs ?? 0) : op.ttlMs ? this.clock.nowMs() + op.ttlMs : (op.expiresAtMs ?? 0);
    const value = op.keepValue === true ? old!.value : Buffer.from(op.value);
    return { value, version: (old?.version ?? 0) + 1, createRevision: old?.createRevision ?? this.revision, modRevision: this.revision, expiresAtMs };
  }

  /**
   * kv.txn with the compares and ops the command layer sends (single keys; version/modRevision/createRevision/value =;
   * incr with the state machine's rules). Atomic like the member's: an op that fails leaves the store as it was.
   */
  private txn(request: any): unknown {
    const tooLarge = (ops: any[]): boolean => ops.some((op) => (op.key?.length ?? 0) > this.keyBytesMax || (op.type === 'txn' && (tooLarge(op.success) || tooLarge(op.failure))));
    if (tooLarge(request.success) || tooLarge(request.failure)) throw codeError('CONCORD_ERR_KEY_TOO_LARGE', 'key too large');
    const before = new Map(this.store);
    const revisionBefore = this.revision;
    const holds = (c: any): boolean => {
      const e = this.live(Buffer.from(c.key).toString('latin1'));
      if (c.target === 'value') return e !== undefined && e.value.equals(Buffer.from(c.value));
      return ((e as any)?.[c.target] ?? 0) === c[c.target];
    };
    this.revision++;
    const run = (body: any): { succeeded: boolean; results: unknown[] } => {
      const succeeded = body.compare.every(holds);
      return { succeeded, results: (succeeded ? body.success : body.failure).map(runOp) };
    };
    const runOp = (op: any): unknown => {
      if (op.type === 'txn') return { type: 'txn', ...run(op) };
      const key = Buffer.from(op.key).toString('latin1');
      const old = this.live(key);
      if (op.type === 'get') return { type: 'get', kv: old === undefined ? null : { key: op.key, ...old } };
      if (op.type === 'delete') {
        this.store.delete(key);
        return { type: 'delete', deleted: old === undefined ? 0 : 1 };
      }
      if (op.type === 'update' && old === undefined) throw codeError('CONCORD_ERR_KEY_NOT_FOUND');
      if (op.type === 'incr') {
        // As INCR in Redis: the key keeps its TTL; a missing key starts from 0.
        const value = Buffer.from(incrementedValue(old?.value, op.by, op.float === true, op.key));
        const entry = { value, version: (old?.version ?? 0) + 1, createRevision: old?.createRevision ?? this.revision, modRevision: this.revision, expiresAtMs: old?.expiresAtMs ?? 0 };
        this.store.set(key, entry);
        return { type: 'incr', value, version: entry.version, createRevision: entry.createRevision, modRevision: entry.modRevision };
      }
      const entry = this.written(old, op);
      this.store.set(key, entry);
      return { type: op.type, version: entry.version, createRevision: entry.createRevision, modRevision: entry.modRevision };
    };
    let outcome: { succeeded: boolean; results: unknown[] };
    try {
      outcome = run(request);
    } catch (error) {
      this.store.clear();
      for (const [k, e] of before) this.store.set(k, e);
      this.revision = revisionBefore;
      throw error;
    }
    const { succeeded, results } = outcome;
    this.txns++;
    this.applied++;
    return { header: this.header(), succeeded, revision: this.revision, results };
  }
}
