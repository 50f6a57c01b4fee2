/**
 * An in-memory stand-in for a member's client methods, with the real
 * semantics the command layer relies on: versions and modRevisions,
 * compare-and-set conditions, exactly-once per (sessionId, seq), sessions
 * that expire; and a hook that injects failures (no leader, a lost answer).
 */
import type { KvCall, KvMethod, RedisBackend } from '../../src/redis/index.js';
import { ManualClock } from '../../src/testing/manual-clock.js';

export interface Entry {
  value: Buffer;
  version: number;
  createRevision: number;
  modRevision: number;
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
      requestTimeoutMs: 1_000,
      retryDelayMs: 50,
      memberName: 'n1',
      isLeader: () => true,
      valueBytesMax: 1024,
      connect: (): KvCall => ((method: KvMethod, request: any) => this.call(method, request)) as KvCall,
      ...overrides,
    };
  }

  put(key: string, value: string): void {
    this.revision++;
    const old = this.store.get(key);
    this.store.set(key, { value: Buffer.from(value), version: (old?.version ?? 0) + 1, createRevision: old?.createRevision ?? this.revision, modRevision: this.revision });
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
        const e = this.store.get(Buffer.from(request.key).toString('latin1'));
        return { header: this.header(), kv: e === undefined ? null : { key: request.key, ...e } };
      }
      case 'kv.scan': {
        const keys = [...this.store.keys()].sort().filter((k) => request.after === undefined || k > Buffer.from(request.after).toString('latin1'));
        const page = keys.slice(0, request.limit);
        const items = page.map((k) => ({ key: Buffer.from(k, 'latin1'), ...this.store.get(k)! }));
        return { header: this.header(), items, next: keys.length > page.length ? Buffer.from(page[page.length - 1]!, 'latin1') : null };
      }
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
    if (method === 'kv.txn') return this.applyTxn(request);
    if (request.key.length > this.keyBytesMax) throw codeError('CONCORD_ERR_KEY_TOO_LARGE', 'key too large');
    const key = Buffer.from(request.key).toString('latin1');
    const old = this.store.get(key);
    if (request.expectedVersion !== undefined && (old?.version ?? 0) !== request.expectedVersion) throw codeError('CONCORD_ERR_VERSION_MISMATCH');
    if (request.expectedModRevision !== undefined && (old?.modRevision ?? 0) !== request.expectedModRevision) throw codeError('CONCORD_ERR_VERSION_MISMATCH');
    if (method === 'kv.update' && old === undefined) throw codeError('CONCORD_ERR_KEY_NOT_FOUND');
    this.revision++;
    this.applied++;
    if (method === 'kv.delete') {
      this.store.delete(key);
      return { header: this.header(), revision: this.revision, deleted: old !== undefined };
    }
    const entry = { value: Buffer.from(request.value), version: (old?.version ?? 0) + 1, createRevision: old?.createRevision ?? this.revision, modRevision: this.revision };
    this.store.set(key, entry);
    return { header: this.header(), revision: this.revision, version: entry.version };
  }

  /** Put and delete ops without compares (what the command layer batches): one revision, all or nothing. */
  private applyTxn(request: any): unknown {
    if (request.compare.length !== 0) throw new Error('the fake takes transactions without compares only');
    for (const op of request.success) {
      if (op.type !== 'put' && op.type !== 'delete') throw new Error(`the fake takes put and delete ops only, not ${op.type}`);
      if (op.key.length > this.keyBytesMax) throw codeError('CONCORD_ERR_KEY_TOO_LARGE', 'key too large');
    }
    this.revision++;
    this.applied++;
    this.txns++;
    const results = request.success.map((op: any) => {
      const key = Buffer.from(op.key).toString('latin1');
      const old = this.store.get(key);
      if (op.type === 'delete') {
        this.store.delete(key);
        return { type: 'delete', deleted: old === undefined ? 0 : 1 };
      }
      const entry = { value: Buffer.from(op.value), version: (old?.version ?? 0) + 1, createRevision: old?.createRevision ?? this.revision, modRevision: this.revision };
      this.store.set(key, entry);
      return { type: 'put', version: entry.version, createRevision: entry.createRevision, modRevision: entry.modRevision };
    });
    return { header: this.header(), succeeded: true, revision: this.revision, results };
  }
}
