/**
 * The Concord client: `const kv = await connect({ endpoints })`, then
 * `get`/`put`/`update`/`delete`/`scan`/`status`, then `close()`.
 *
 * Every call runs under one deadline (`timeoutMs`, default from the connect
 * options) and an optional AbortSignal. Within that deadline the client
 * follows the leader (response headers and redirects name it), retries on a
 * leader change or a lost connection with exponential backoff and jitter, and
 * numbers its writes in one session so that a retried write is applied exactly
 * once (Raft thesis §6.3). All calls share one connection per member; the net
 * layer pipelines them, so a thousand concurrent calls cost one socket.
 *
 * This file holds the public methods; a call's attempts are the retry loop's
 * (retry-loop.ts), the session is the SessionKeeper's (session-keeper.ts),
 * writes of unknown outcome are UnresolvedWrites' (unresolved-writes.ts), and
 * which member to talk to is the EndpointPool's (endpoint-pool.ts).
 */
import { Consistency, Method, protocolLimits, type DeleteResponse, type MethodTypes, type ScanRequest, type WriteResponse } from '../protocol/index.js';
import { setMaxListeners } from 'node:events';
import { SessionExpiredError } from '../kv/errors.js';
import type { Clock } from '../common/clock.js';
import { systemClock, systemRandom } from '../common/system-clock.js';
import {
  clientDefaults,
  type CallOptions,
  type ClusterStatus,
  type DeleteOptions,
  type DeleteResult,
  type GetOptions,
  type KvClientOptions,
  type PutOptions,
  type ScanOptions,
  type WriteConditionOptions,
  type WriteResult,
} from './options.js';
import { toBytes, type BytesLike } from './bytes.js';
import type { ChannelFactory } from './channel.js';
import { clusterStatus } from './cluster-status.js';
import { Deadline } from './deadline.js';
import { EndpointPool } from './endpoint-pool.js';
import { InvalidRequestError } from './errors.js';
import { KeyValueResult } from './key-value.js';
import { plainCall, RetryLoop, type CallKind } from './retry-loop.js';
import { ScanIterable, type ScanRange } from './scan.js';
import { LeaderAdmin, MemberAdmin, type MemberCall } from './members.js';
import { SessionKeeper } from './session-keeper.js';
import { openSnapshot, snapshotMethod, type SnapshotDownload, type SnapshotOptions } from './snapshot.js';
import { LeaseClient } from './leases.js';
import { WatchMux, type WatchOptions, type WatchStream, type WatchTarget } from './watch.js';
import { CompactedError } from '../kv/errors.js';
import { SessionTableClient } from './session-table.js';
import { UnresolvedWrite, UnresolvedWriteState } from './unresolved-write.js';
import { UnresolvedWrites, type WriteRequest } from './unresolved-writes.js';
import { isReadOnlyWireTxn, TxnBuilder, txnBodyToWire, txnResultOf, type TxnOptions, type TxnResult, type TxnSpec } from './txn.js';

/** put, update and delete: one request shape (delete's without a value), answered with a WriteResult or DeleteResult. */
type WriteCall<R> = CallKind<typeof Method.Put, R>;

// What each kind of call resolves to (see CallKind): constants, so a call allocates nothing for them.
const getCall: CallKind<typeof Method.Get, KeyValueResult | null> = { method: Method.Get, result: keyValueOf };
const scanCall = plainCall(Method.Scan);

/** The methods `admin` sends: users, roles and the auth switch (auth.authenticate is the connection's own). */
export type AdminMethodName = Extract<Method, `user.${string}` | `role.${string}` | 'auth.enable' | 'auth.disable' | 'auth.status'>;
const putCall: WriteCall<WriteResult> = { method: Method.Put, result: writeResultOf };
const updateCall = { method: Method.Update, result: writeResultOf } as unknown as WriteCall<WriteResult>;
const deleteCall = { method: Method.Delete, result: deleteResultOf } as unknown as WriteCall<DeleteResult>;
const txnCall: CallKind<typeof Method.Txn, TxnResult> = { method: Method.Txn, result: txnResultOf };

/** How long close() may take by default (at most the client's timeoutMs). */
const closeTimeoutMaxMs = 2_000;

export class KvClient {
  private readonly pool: EndpointPool;
  private readonly closeController = new AbortController();
  private readonly timeoutMs: number;
  private readonly clock: Clock;
  private readonly sessions: SessionKeeper;
  private readonly unresolved: UnresolvedWrites;
  private readonly loop: RetryLoop;
  private closing: Promise<void> | null = null;
  /** Membership: list, add, promote, remove (members.ts). */
  readonly members: MemberAdmin;
  /** Leadership transfer (members.ts). */
  readonly leader: LeaderAdmin;
  /** Leases: grant, revoke, keepAlive (background, coalesced), timeToLive, list (leases.ts). */
  readonly lease: LeaseClient;
  /** Every watcher of this client, on one member and one long-poll (watch.ts). */
  private readonly watches: WatchMux;
  /** The replicated session table at a glance (session-table.ts). */
  readonly sessionTable: SessionTableClient;

  /** Use `connect()`: it opens the session before handing the client out. */
  constructor(options: KvClientOptions, channelFactory: ChannelFactory) {
    if (options.endpoints.length === 0) throw new InvalidRequestError('no endpoints given', 'endpoints is empty');
    this.timeoutMs = options.timeoutMs ?? clientDefaults.timeoutMs;
    this.clock = options.clock ?? systemClock;
    const random = options.random ?? systemRandom;
    const closeSignal = this.closeController.signal;
    // Every running call listens for close(): thousands may be in flight.
    setMaxListeners(0, closeSignal);
    this.pool = new EndpointPool(options.endpoints, channelFactory, options.connectTimeoutMs ?? clientDefaults.connectTimeoutMs, random);
    // The keeper sends its calls through the loop, made just below.
    this.sessions = new SessionKeeper(
      (method, request, deadline) => this.loop.invoke(plainCall(method), request, deadline, null),
      this.clock,
      options.sessionTtlMs ?? clientDefaults.sessionTtlMs,
      closeSignal,
    );
    this.unresolved = new UnresolvedWrites(options.unresolvedWritesMax ?? clientDefaults.unresolvedWritesMax, () => this.sessions.current);
    const call: MemberCall = (method, request, callOptions) => this.loop.invoke(plainCall(method), request, callOptions, null);
    this.members = new MemberAdmin(call);
    this.leader = new LeaderAdmin(call);
    this.sessionTable = new SessionTableClient(call);
    this.loop = new RetryLoop(this.pool, this.sessions, this.unresolved, {
      clock: this.clock,
      random,
      backoff: options.backoff ?? clientDefaults.backoff,
      timeoutMs: this.timeoutMs,
      attemptTimeoutMs: options.attemptTimeoutMs,
      closeSignal,
    });
    this.watches = new WatchMux({
      pool: this.pool,
      clock: this.clock,
      random,
      backoff: options.backoff ?? clientDefaults.backoff,
      timeoutMs: this.timeoutMs,
      closeSignal,
    });
    this.lease = new LeaseClient(
      {
        write: (method, fields, options) => this.sendInSession(plainCall(method), fields, options),
        read: (method, request, options) => this.loop.invoke(plainCall(method), request as never, options, null),
      },
      this.clock,
    );
  }

  /** The leader's client URL as last reported by a member (null when unknown). */
  get leaderUrl(): string | null {
    return this.pool.leader;
  }

  /** The current session id (null before the first session is open). */
  get sessionId(): number | null {
    return this.sessions.current?.id ?? null;
  }

  /** Writes kept for `retryWrite` (their outcome is unknown). */
  get unresolvedWrites(): readonly UnresolvedWrite[] {
    return this.unresolved.list;
  }

  // ------------------------------------------------------------------ reads

  /** The key's value and bookkeeping, or null when it does not exist. */
  get(key: BytesLike, options: GetOptions = {}): Promise<KeyValueResult | null> {
    try {
      const request = { key: toBytes(key), consistency: options.consistency ?? Consistency.Linearizable };
      return this.loop.invoke(getCall, request, options, null);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Keys in key order, as an async iterable of pages (arrays of entries).
   * Pages are fetched one ahead; breaking out of the loop cancels the fetch in
   * progress. Each page is its own read (consistent by itself, not with the
   * other pages). `.entries()` iterates entries instead of pages.
   */
  scan(range: ScanRange, options: ScanOptions = {}): ScanIterable {
    const pageSize = options.pageSize ?? clientDefaults.scanPageSize;
    if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > protocolLimits.scanLimitMax) {
      throw new InvalidRequestError(`pageSize must be 1..${protocolLimits.scanLimitMax}`, 'bad pageSize');
    }
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    if (!(limit >= 0)) throw new InvalidRequestError('limit must be >= 0', 'bad limit');
    return new ScanIterable(range, { ...options, pageSize, limit }, (request, signal) => this.scanPage(request, options, signal));
  }

  private scanPage(request: ScanRequest, options: ScanOptions, signal: AbortSignal): Promise<MethodTypes['kv.scan']['response']> {
    return this.loop.invoke(scanCall, request, this.loop.deadline('scan', { timeoutMs: options.timeoutMs, signal }), null);
  }

  /**
   * Changes to a key, a prefix (`{ prefix }`) or a range (`{ range: { start, end } }`), as an
   * async iterable of batches (docs/watch.md): revision order, a revision's events in one batch, no
   * gaps or duplicates, resumed on another member when the serving one goes away. `break` cancels it.
   */
  watch(target: WatchTarget, options: WatchOptions = {}): WatchStream {
    return this.watches.watch(target, options);
  }

  /** Ask for a progress notification on every caught-up watcher of this client (etcd's RequestProgress). */
  requestWatchProgress(): void {
    this.watches.requestProgress();
  }

  /**
   * Drops the watch history up to and including `revision` on every member. A compaction that a
   * retry finds already done (at `revision` or beyond) succeeds; below the current point it throws CompactedError.
   */
  async compact(revision: number, options: CallOptions = {}): Promise<void> {
    try {
      await this.loop.invoke(plainCall(Method.Compact), { revision }, options, null);
    } catch (error) {
      if (error instanceof CompactedError && error.details.compactRevision === revision) return;
      throw error;
    }
  }

  // ------------------------------------------------------------------ writes

  /** Create or overwrite `key`; with `expectedVersion`/`expectedModRevision`, a compare-and-set. */
  put(key: BytesLike, value: BytesLike, options: PutOptions = {}): Promise<WriteResult> {
    return this.sendWrite(putCall, key, value, options);
  }

  /** Overwrite `key` only if it exists (else KeyNotFoundError). */
  update(key: BytesLike, value: BytesLike, options: PutOptions = {}): Promise<WriteResult> {
    return this.sendWrite(updateCall, key, value, options);
  }

  /** Delete `key`; `deleted` is false when it did not exist. */
  delete(key: BytesLike, options: DeleteOptions = {}): Promise<DeleteResult> {
    return this.sendWrite(deleteCall, key, undefined, options);
  }

  /**
   * `put`, `update` (with a value) and `delete` (without): numbered in the
   * open session (opening one first if there is none), then the retry loop's.
   */
  private sendWrite<R>(
    kind: WriteCall<R>,
    key: BytesLike,
    value: BytesLike | undefined,
    options: WriteConditionOptions & CallOptions,
  ): Promise<R> {
    try {
      const keyBytes = toBytes(key);
      const valueBytes = value === undefined ? undefined : toBytes(value);
      const session = this.sessions.open;
      if (session === null) return this.sendWriteInNewSession(kind, keyBytes, valueBytes, options);
      return this.loop.invoke(kind, writeRequest(keyBytes, valueBytes, options, session, this.unresolved.allocateSeq(session)), options, session);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** A write of any other shape (the lease methods), numbered in the session like put. */
  private async sendInSession<M extends Method, R>(kind: CallKind<M, R>, fields: Record<string, unknown>, options: CallOptions): Promise<R> {
    const deadline = this.loop.deadline(kind.method, options);
    const session = await this.sessions.ensure(deadline);
    const request = { ...fields, session: { sessionId: session.id, seq: this.unresolved.allocateSeq(session), ackedSeq: session.ackedSeq } };
    return this.loop.invoke(kind, request as unknown as MethodTypes[M]['request'], deadline, session);
  }

  /** A write when no session is open: it waits for one (under its own deadline), then goes as usual. */
  private async sendWriteInNewSession<R>(
    kind: WriteCall<R>,
    keyBytes: Uint8Array,
    valueBytes: Uint8Array | undefined,
    options: WriteConditionOptions & CallOptions,
  ): Promise<R> {
    const deadline = this.loop.deadline(kind.method, options);
    const session = await this.sessions.ensure(deadline);
    const request = writeRequest(keyBytes, valueBytes, options, session, this.unresolved.allocateSeq(session));
    return this.loop.invoke(kind, request, deadline, session);
  }

  /**
   * A multi-key transaction (see txn.ts and docs/client.md): `txn(spec)`
   * sends it; `txn()` returns a builder (`.if(...).then(...).else(...).commit()`).
   * One that writes is numbered in the session (exactly-once, like put); a
   * read-only one is a read (linearizable by default, `consistency: 'stale'`
   * allowed) and needs no session.
   */
  txn(): TxnBuilder;
  txn(spec: TxnSpec, options?: TxnOptions): Promise<TxnResult>;
  txn(spec?: TxnSpec, options: TxnOptions = {}): TxnBuilder | Promise<TxnResult> {
    if (spec === undefined) return new TxnBuilder((s, o) => this.txn(s, o));
    try {
      const body = txnBodyToWire(spec);
      if (isReadOnlyWireTxn(body)) {
        return this.loop.invoke(txnCall, { ...body, consistency: options.consistency ?? Consistency.Linearizable }, options, null);
      }
      return this.sendTxnWrite(body, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private async sendTxnWrite(body: Pick<MethodTypes['kv.txn']['request'], 'compare' | 'success' | 'failure'>, options: TxnOptions): Promise<TxnResult> {
    const open = this.sessions.open;
    let budget: TxnOptions | Deadline = options;
    let session = open;
    if (session === null) {
      const deadline = this.loop.deadline(Method.Txn, options);
      session = await this.sessions.ensure(deadline);
      budget = deadline;
    }
    const request = { ...body, session: { sessionId: session.id, seq: this.unresolved.allocateSeq(session), ackedSeq: session.ackedSeq } };
    return this.loop.invoke(txnCall, request, budget, session);
  }

  /**
   * Send a write whose outcome was unknown (from a TimeoutError's,
   * AbortedError's or UnavailableError's `unresolvedWrite`) again, with the
   * same session and seq: it is applied at most once in total, and this
   * returns its one outcome (or throws its error, e.g. VersionMismatchError).
   */
  async retryWrite(write: UnresolvedWrite, options: CallOptions = {}): Promise<WriteResult | DeleteResult | TxnResult> {
    if (write.pending && (write.session.expired || write.session !== this.sessions.current)) {
      this.unresolved.forget(write, UnresolvedWriteState.SessionExpired);
    }
    if (write.state === UnresolvedWriteState.SessionExpired) throw new SessionExpiredError({ sessionId: write.session.id });
    if (!write.pending) throw new InvalidRequestError(`this write was already ${write.state}`, `write ${write.state}`);
    const deadline = this.loop.deadline('retryWrite', options);
    const { session, seq } = write;
    const request = { ...write.fields, session: { sessionId: session.id, seq, ackedSeq: session.ackedSeq } } as WriteRequest;
    if (write.method === Method.Txn) return this.loop.invoke(txnCall, request as unknown as MethodTypes['kv.txn']['request'], deadline, write);
    const kind: WriteCall<WriteResult | DeleteResult> = write.method === Method.Delete ? deleteCall : write.method === Method.Update ? updateCall : putCall;
    return this.loop.invoke(kind, request as MethodTypes['kv.put']['request'], deadline, write);
  }

  /** Give up on an unresolved write: the server may then forget its saved result. */
  forgetWrite(write: UnresolvedWrite): void {
    this.unresolved.forget(write);
  }

  // ------------------------------------------------------------------ users, roles, auth

  /**
   * One user/role/auth method (`user.add`, `role.grantPermission`,
   * `auth.enable`, `user.list`...: src/protocol/methods.ts), retried on
   * redirects like any call. Changes are not exactly-once (no session): a
   * retried `user.add` after a lost answer may report UserExists.
   */
  admin<M extends AdminMethodName>(method: M, request: MethodTypes[M]['request'], options: CallOptions = {}): Promise<MethodTypes[M]['response']> {
    try {
      return this.loop.invoke(plainCall(method), request, options, null);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  // ------------------------------------------------------------------ backup

  /**
   * A consistent snapshot of the whole store from the leader, for backups
   * (`concord snapshot save`): the stream's info, and its bytes as pages to
   * iterate (src/client/snapshot.ts). Admin permission when auth is on.
   */
  openSnapshot(options: SnapshotOptions = {}): Promise<SnapshotDownload> {
    const call = plainCall(snapshotMethod);
    return openSnapshot((request, callOptions) => this.loop.invoke(call, request, callOptions, null), options);
  }

  // ------------------------------------------------------------------ session, status, close

  /** Opens the first session (called by `connect`) and starts its keep-alives. */
  async start(signal?: AbortSignal): Promise<void> {
    await this.sessions.ensure(this.loop.deadline('connect', { signal }));
  }

  /**
   * Every member's own report (role, term, commit and applied index, leader),
   * asking each member directly; unreachable members have `status: null` and
   * an `error`.
   */
  status(options: CallOptions = {}): Promise<ClusterStatus> {
    try {
      return clusterStatus(this.loop, this.pool, this.loop.deadline('status', options));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Closes the session (its saved results are freed on the members) and every
   * connection, within `timeoutMs` (default the client's, at most 2 s):
   * whatever is not done by then is cut off. Idempotent.
   */
  close(options: CallOptions = {}): Promise<void> {
    if (this.closing === null) this.closing = this.shutdown(options);
    return this.closing;
  }

  /**
   * Ends the client at once: no session close, connections destroyed, not
   * closed gracefully (a connect that failed must not wait on the members).
   */
  abort(): void {
    this.lease.stopAll();
    this.sessions.stop();
    this.closeController.abort();
    this.pool.destroy();
    this.closing ??= Promise.resolve();
  }

  private async shutdown(options: CallOptions): Promise<void> {
    this.lease.stopAll();
    const deadline = new Deadline(this.clock, 'close', options.timeoutMs ?? Math.min(this.timeoutMs, closeTimeoutMaxMs), options.signal, undefined);
    await this.sessions.close(deadline);
    this.closeController.abort();
    await this.pool.close(deadline);
  }
}

/** Opens a client: connects to a member and opens the client's session. */
export async function connectWith(options: KvClientOptions, channelFactory: ChannelFactory): Promise<KvClient> {
  const client = new KvClient(options, channelFactory);
  if (options.openSessionOnConnect === false) return client;
  try {
    await client.start(options.signal);
  } catch (error) {
    client.abort();
    throw error;
  }
  return client;
}

/** A write's first request: one object literal per shape, always the same properties in the same order; an undefined condition is not encoded. */
function writeRequest(
  key: Uint8Array,
  value: Uint8Array | undefined,
  options: WriteConditionOptions,
  session: { readonly id: number; readonly ackedSeq: number },
  seq: number,
): MethodTypes['kv.put']['request'] {
  const ref = { sessionId: session.id, seq, ackedSeq: session.ackedSeq };
  const { lease, ttlMs } = options as PutOptions;
  if (lease !== undefined || ttlMs !== undefined) {
    if (value === undefined) throw new InvalidRequestError('a delete takes no lease or ttlMs', 'lease on delete');
    return { key, value, session: ref, expectedVersion: options.expectedVersion, expectedModRevision: options.expectedModRevision, lease, ttlMs };
  }
  return (
    value === undefined
      ? { key, session: ref, expectedVersion: options.expectedVersion, expectedModRevision: options.expectedModRevision }
      : { key, value, session: ref, expectedVersion: options.expectedVersion, expectedModRevision: options.expectedModRevision }
  ) as MethodTypes['kv.put']['request'];
}

function keyValueOf(response: MethodTypes['kv.get']['response']): KeyValueResult | null {
  return response.kv === null ? null : new KeyValueResult(response.kv);
}

function writeResultOf(response: WriteResponse): WriteResult {
  return { revision: response.revision, version: response.version };
}

function deleteResultOf(response: DeleteResponse): DeleteResult {
  return { revision: response.revision, deleted: response.deleted };
}
