/**
 * One RESP connection's view of the store: its implicit Concord session
 * (exactly-once writes: a write retried with the same seq, by this layer or
 * by the follower that forwards it, applies at most once), its write order,
 * and read-after-write.
 *
 * Writes of one connection run one after another, each under the next seq:
 * Redis applies a connection's commands in order, and a pipelined
 * `SET k 1; SET k 2` must end with 2 even when a forward to the leader is
 * retried. A read waits until the connection's earlier writes have applied.
 * Plain writes (`put`, `delete`, `incr`) that queue up behind one another go to the
 * leader together, as one transaction under one seq (write-batch.ts).
 */
import type { Timer } from '../common/clock.js';
import { ConcordErrorCode as Code } from '../common/error-codes.js';
import type { MethodTypes, SessionRef, WireTxnOp, WireTxnOpResult } from '../protocol/index.js';
import { REDIS_SESSION_TTL_MS, type KvCall, type RedisBackend } from './backend.js';
import { codeOf, isRetryable, mayHaveApplied, outcomeUnknown, RedisReplyError, tryAgain } from './redis-errors.js';
import { WriteBatch } from './write-batch.js';
import type { WriteExpiry } from './expiry.js';

type WriteMethod = 'kv.put' | 'kv.update' | 'kv.delete' | 'kv.txn';
type WriteFields<M extends WriteMethod> = Omit<MethodTypes[M]['request'], 'session'>;

export class ConnectionSession {
  private readonly call: KvCall;
  private sessionId: number | null = null;
  private opening: Promise<number> | null = null;
  private nextSeq = 1;
  /** Every seq below this one has its answer (or was given up on): the server may forget their results. */
  private ackedSeq = 0;
  /** The tail of this connection's write chain: resolves once every write issued so far has finished. */
  private tail: Promise<unknown> = Promise.resolve();
  /** The batch of plain writes waiting for its turn in the chain: later plain writes join it. */
  private openBatch: WriteBatch | null = null;
  private keepAlive: Timer | null = null;
  private closed = false;

  constructor(
    readonly connectionId: number,
    private readonly backend: RedisBackend,
  ) {
    this.call = backend.connect(connectionId);
  }

  /** A read (or any call that is not a numbered write, such as a read-only kv.txn), after this connection's earlier writes. */
  async read<M extends 'kv.get' | 'kv.scan' | 'kv.txn' | 'cluster.status'>(method: M, request: MethodTypes[M]['request']): Promise<MethodTypes[M]['response']> {
    this.openBatch = null;
    await this.tail.catch(() => {});
    return this.retrying(() => this.call(method, request), false);
  }

  /** A plain SET, in this connection's write order (batched with the plain writes queued beside it). */
  async put(key: Uint8Array, value: Uint8Array, expiry: WriteExpiry = {}): Promise<void> {
    await this.batched({ type: 'put', key, value, ...expiry });
  }

  /** A plain delete of one key, in this connection's write order (batched likewise): whether the key existed. */
  async delete(key: Uint8Array): Promise<boolean> {
    return ((await this.batched({ type: 'delete', key })).deleted ?? 0) > 0;
  }

  /**
   * INCRBY (or with `float` INCRBYFLOAT) by `by`, the delta's text: one incr op
   * that the state machine decides when it applies (batched likewise). The new value.
   */
  async incr(key: Uint8Array, by: Uint8Array, float: boolean): Promise<Uint8Array> {
    const result = await this.batched(float ? { type: 'incr', key, by, float } : { type: 'incr', key, by });
    return result.value!;
  }

  /**
   * Runs `body` in this connection's write order: nothing this connection
   * sends later starts before it finishes. `body` may read and write (a
   * read-modify-write such as INCR); the writes it makes through `write` run
   * inside the same slot.
   */
  serialize<T>(body: () => Promise<T>): Promise<T> {
    this.openBatch = null;
    return this.chain(body);
  }

  private chain<T>(body: () => Promise<T>): Promise<T> {
    const run = this.tail.catch(() => {}).then(body);
    this.tail = run.catch(() => {});
    return run;
  }

  /**
   * DEL of several keys, in this connection's write order: its deletes join the
   * open batch together (a new batch when they do not all fit), so the command
   * stays atomic, as Redis's DEL is. The number of keys that existed (a key
   * named twice counts once: its second delete finds nothing).
   */
  async deleteAll(keys: readonly Uint8Array[]): Promise<number> {
    const ops: WireTxnOp[] = keys.map((key) => ({ type: 'delete', key }));
    const together = this.openBatch !== null && this.openBatch.fitsAll(ops);
    const results = await Promise.all(ops.map((op, i) => this.batched(op, i === 0 && !together)));
    return results.reduce((n, r) => n + (r.deleted ?? 0), 0);
  }

  private batched(op: WireTxnOp, fresh = false): Promise<WireTxnOpResult> {
    let batch = this.openBatch;
    if (batch === null || fresh || !batch.fits(op)) {
      const opened = new WriteBatch();
      batch = opened;
      this.openBatch = opened;
      void this.chain(() => {
        if (this.openBatch === opened) this.openBatch = null;
        return this.sendBatch(opened);
      });
    }
    return batch.add(op);
  }

  /**
   * Sends a batch as one transaction (a batch of one as its plain write). A
   * transaction refused as a whole (too large, a key it may not write) applied
   * nothing: its ops are then sent one by one, each for its own answer. A
   * deadline error (TRYAGAIN, outcome unknown) answers every op alike.
   */
  private async sendBatch(batch: WriteBatch): Promise<void> {
    const { ops } = batch;
    if (ops.length > 1) {
      try {
        const response = await this.writeNow('kv.txn', { compare: [], success: ops, failure: [] });
        for (let i = 0; i < ops.length; i++) batch.settle(i, response.results[i]!);
        return;
      } catch (error) {
        if (error instanceof RedisReplyError) {
          for (let i = 0; i < ops.length; i++) batch.fail(i, error);
          return;
        }
      }
    }
    for (let i = 0; i < ops.length; i++) {
      try {
        batch.settle(i, await this.sendOne(ops[i]!));
      } catch (error) {
        batch.fail(i, error);
      }
    }
  }

  private async sendOne(op: WireTxnOp): Promise<WireTxnOpResult> {
    // An incr has no single-key method: a transaction of one op (one entry, one seq, as a put).
    if (op.type === 'incr') return (await this.writeNow('kv.txn', { compare: [], success: [op], failure: [] })).results[0]!;
    if (op.type === 'put') {
      const { type: _put, key, value, ...expiry } = op;
      await this.writeNow('kv.put', { key: key!, value: value!, ...expiry });
      return { type: 'put' };
    }
    return { type: 'delete', deleted: (await this.writeNow('kv.delete', { key: op.key! })).deleted ? 1 : 0 };
  }

  /** Reads inside a serialized body (no waiting on the chain: the body holds it). */
  readNow<M extends 'kv.get' | 'kv.scan' | 'kv.txn'>(method: M, request: MethodTypes[M]['request']): Promise<MethodTypes[M]['response']> {
    return this.retrying(() => this.call(method, request), false);
  }

  /** One numbered write inside a serialized body: retried with the same seq until the deadline. */
  async writeNow<M extends WriteMethod>(method: M, fields: WriteFields<M>): Promise<MethodTypes[M]['response']> {
    const deadline = this.backend.clock.monotonicMs() + this.backend.requestTimeoutMs;
    for (;;) {
      const sessionId = await this.session();
      const seq = this.nextSeq++;
      const session: SessionRef = { sessionId, seq, ackedSeq: this.ackedSeq };
      const request = { ...fields, session } as MethodTypes[M]['request'];
      try {
        return await this.retrying(() => this.call(method, request), true, deadline);
      } catch (error) {
        // An expired session applied nothing under it: open a new one and send the write again.
        if (codeOf(error) === Code.SessionExpired && this.backend.clock.monotonicMs() < deadline) {
          if (this.sessionId === sessionId) this.sessionId = null;
          continue;
        }
        throw error;
      } finally {
        if (seq > this.ackedSeq) this.ackedSeq = seq;
      }
    }
  }

  /** Ends the session (frees its saved results on the members); later calls fail. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.keepAlive?.cancel();
    const id = this.sessionId;
    if (id !== null) void this.call('session.close', { sessionId: id }).catch(() => {});
  }

  private async session(): Promise<number> {
    if (this.sessionId !== null) return this.sessionId;
    this.opening ??= this.retrying(() => this.call('session.open', { ttlMs: REDIS_SESSION_TTL_MS }), false).then(
      (response) => {
        this.opening = null;
        this.sessionId = response.sessionId;
        this.nextSeq = 1;
        this.ackedSeq = 0;
        this.startKeepAlive(response.ttlMs);
        if (this.closed) this.close();
        return response.sessionId;
      },
      (error: unknown) => {
        this.opening = null;
        throw error;
      },
    );
    return this.opening;
  }

  private startKeepAlive(ttlMs: number): void {
    this.keepAlive?.cancel();
    this.keepAlive = this.backend.clock.setRepeating(
      Math.max(1_000, Math.floor(ttlMs / 3)),
      () => {
        const id = this.sessionId;
        if (id === null || this.closed) return;
        void this.call('session.keepAlive', { sessionId: id }).catch((error: unknown) => {
          if (codeOf(error) === Code.SessionExpired && this.sessionId === id) this.sessionId = null;
        });
      },
      { keepsProcessAlive: false },
    );
  }

  /**
   * Calls `attempt` again while it fails for want of a leader, until the
   * deadline; then TRYAGAIN (nothing can have applied) or "outcome unknown"
   * (a write attempt may have committed).
   */
  private async retrying<T>(attempt: () => Promise<T>, isWrite: boolean, deadline = this.backend.clock.monotonicMs() + this.backend.requestTimeoutMs): Promise<T> {
    let uncertain = false;
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        if (!isRetryable(error)) throw error;
        if (isWrite && mayHaveApplied(error)) uncertain = true;
        if (this.backend.clock.monotonicMs() + this.backend.retryDelayMs >= deadline) throw uncertain ? outcomeUnknown() : tryAgain();
        await new Promise<void>((resolve) => this.backend.clock.setTimer(this.backend.retryDelayMs, resolve));
      }
    }
  }
}
