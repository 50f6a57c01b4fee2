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
 * Under load the client's own CPU per call is on the cluster's critical path
 * (64 loops on one connection wait for their batch of answers and send the
 * next batch), so `get`, `put`, `update` and `delete` first try a fast path:
 * when the session is open and the connection to the target is ready, the
 * one attempt is sent from that single async function, with one request
 * object of a fixed shape and no closures, Deadline or retry state. Only when
 * that attempt fails does the general retry loop (`write`/`invoke`) take
 * over, from that failure, under the deadline counted from the call's start:
 * from there on the call behaves exactly as if the loop had made the attempt.
 */
import {
  Consistency,
  Method,
  protocolLimits,
  type DeleteResponse,
  type MemberInfo,
  type MethodTypes,
  type ResponseHeader,
  type ScanRequest,
  type WriteResponse,
} from '../protocol/index.js';
import { setMaxListeners } from 'node:events';
import { TimeoutError as RpcTimeoutError } from '../net/index.js';
import { SessionExpiredError } from '../kv/errors.js';
import { Backoff, type BackoffOptions } from '../common/backoff.js';
import type { Clock, Timer } from '../common/clock.js';
import type { RandomSource } from '../common/rng.js';
import { systemClock, systemRandom } from '../common/system-clock.js';
import {
  clientDefaults,
  type CallOptions,
  type ClusterStatus,
  type DeleteOptions,
  type DeleteResult,
  type GetOptions,
  type KvClientOptions,
  type MemberReport,
  type PutOptions,
  type ScanOptions,
  type WriteConditionOptions,
  type WriteResult,
} from './options.js';
import { toBytes, type BytesLike } from './bytes.js';
import type { ChannelFactory, RpcChannel } from './channel.js';
import { Deadline } from './deadline.js';
import { EndpointPool } from './endpoint-pool.js';
import {
  AbortedError,
  ClientClosedError,
  InvalidRequestError,
  TimeoutError,
  UnavailableError,
  type OutcomeUnknown,
} from './errors.js';
import { classifyFailure, FailureKind } from './failure.js';
import { KeyValueResult } from './key-value.js';
import { ScanIterable, type ScanRange } from './scan.js';
import { ClientSession } from './session.js';
import { UnresolvedWrite, UnresolvedWriteState } from './unresolved-write.js';

/** Which member a request should go to. */
const Target = {
  /** Writes and linearizable reads: the leader, when known (a follower would only forward them). */
  Leader: 'leader',
  /** Stale reads: any member, whichever the rotation is at. */
  Any: 'any',
} as const;
type Target = (typeof Target)[keyof typeof Target];

function targetFor(consistency: Consistency): Target {
  return consistency === Consistency.Stale ? Target.Any : Target.Leader;
}

/** See `forgetLaggingWrites`: well below the members' default sessionResultsMax (4096). */
const unresolvedSeqWindow = 1024;

/** Tracks, across the attempts of one write, whether any attempt may have been applied. */
interface WriteAttempts {
  mayHaveApplied: boolean;
}

/** An attempt the fast path made and how it failed, for the retry loop to go on from. */
interface FailedAttempt {
  readonly url: string;
  readonly channel: RpcChannel;
  readonly error: unknown;
}

export class KvClient {
  private readonly pool: EndpointPool;
  private readonly closeController = new AbortController();
  private readonly closeSignal = this.closeController.signal;
  private readonly timeoutMs: number;
  private readonly sessionTtlMs: number;
  private readonly backoffOptions: BackoffOptions;
  private readonly unresolvedWritesMax: number;
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private readonly unresolved = new Set<UnresolvedWrite>();
  private session: ClientSession | null = null;
  private opening: Promise<ClientSession> | null = null;
  private keepAliveTimer: Timer | null = null;
  private keepAliveInFlight = false;
  private closing: Promise<void> | null = null;
  /** The RPC options of fast-path calls without a signal (see fastRpcOptions). */
  private sharedRpcOptions: { readonly timeoutMs: number } = { timeoutMs: -1 };

  /** Use `connect()`: it opens the session before handing the client out. */
  constructor(options: KvClientOptions, channelFactory: ChannelFactory) {
    if (options.endpoints.length === 0) throw new InvalidRequestError('no endpoints given', 'endpoints is empty');
    this.timeoutMs = options.timeoutMs ?? clientDefaults.timeoutMs;
    this.sessionTtlMs = options.sessionTtlMs ?? clientDefaults.sessionTtlMs;
    this.backoffOptions = options.backoff ?? clientDefaults.backoff;
    this.unresolvedWritesMax = options.unresolvedWritesMax ?? clientDefaults.unresolvedWritesMax;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? systemRandom;
    // Every running call listens for close(): thousands may be in flight.
    setMaxListeners(0, this.closeSignal);
    this.pool = new EndpointPool(options.endpoints, channelFactory, options.connectTimeoutMs ?? clientDefaults.connectTimeoutMs, this.random);
  }

  /** The leader's client URL as last reported by a member (null when unknown). */
  get leaderUrl(): string | null {
    return this.pool.leader;
  }

  /** The current session id (null before the first session is open). */
  get sessionId(): number | null {
    return this.session?.id ?? null;
  }

  /** Writes kept for `retryWrite` (their outcome is unknown). */
  get unresolvedWrites(): readonly UnresolvedWrite[] {
    return [...this.unresolved];
  }

  // ------------------------------------------------------------------ reads

  /** The key's value and bookkeeping, or null when it does not exist. */
  async get(key: BytesLike, options: GetOptions = {}): Promise<KeyValueResult | null> {
    const request = { key: toBytes(key), consistency: options.consistency ?? Consistency.Linearizable };
    const target = targetFor(request.consistency);
    const startMs = this.fastPathStart(options);
    const url = target === Target.Leader ? this.pool.pick() : this.pool.pickAny();
    const channel = startMs < 0 ? undefined : this.pool.readyChannel(url);
    let response: MethodTypes['kv.get']['response'];
    if (channel === undefined) {
      response = await this.invoke(Method.Get, () => request, this.deadline('get', options), null, target);
    } else {
      // The fast path: one attempt on the open connection (see fastPathStart).
      try {
        response = (await channel.call(Method.Get, request, this.fastRpcOptions(options))) as MethodTypes['kv.get']['response'];
        noteHeader(this.pool, response.header);
      } catch (error) {
        const deadline = this.deadlineFrom('get', options, startMs);
        response = await this.invoke(Method.Get, () => request, deadline, null, target, { url, channel, error });
      }
    }
    return response.kv === null ? null : new KeyValueResult(response.kv);
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

  private async scanPage(request: ScanRequest, options: ScanOptions, signal: AbortSignal): Promise<MethodTypes['kv.scan']['response']> {
    return this.invoke(Method.Scan, () => request, this.deadline('scan', { timeoutMs: options.timeoutMs, signal }), null, targetFor(request.consistency));
  }

  // ------------------------------------------------------------------ writes

  /** Create or overwrite `key`; with `expectedVersion`/`expectedModRevision`, a compare-and-set. */
  put(key: BytesLike, value: BytesLike, options: PutOptions = {}): Promise<WriteResult> {
    return this.sendWrite(Method.Put, toBytes(key), toBytes(value), options) as Promise<WriteResult>;
  }

  /** Overwrite `key` only if it exists (else KeyNotFoundError). */
  update(key: BytesLike, value: BytesLike, options: PutOptions = {}): Promise<WriteResult> {
    return this.sendWrite(Method.Update, toBytes(key), toBytes(value), options) as Promise<WriteResult>;
  }

  /** Delete `key`; `deleted` is false when it did not exist. */
  delete(key: BytesLike, options: DeleteOptions = {}): Promise<DeleteResult> {
    return this.sendWrite(Method.Delete, toBytes(key), undefined, options) as Promise<DeleteResult>;
  }

  /**
   * `put`, `update` (with a value) and `delete` (without): the fast path (see
   * `fastPathStart`) sends the one request and settles its seq in this one
   * async function; any failure hands the write, seq and failed attempt to the
   * general loop (`write`), which goes on exactly as if it had made that
   * attempt itself. Resolves to a WriteResult, or a DeleteResult for a delete.
   */
  private async sendWrite(
    method: typeof Method.Put | typeof Method.Update | typeof Method.Delete,
    keyBytes: Uint8Array,
    valueBytes: Uint8Array | undefined,
    options: WriteConditionOptions & CallOptions,
  ): Promise<WriteResult | DeleteResult> {
    const startMs = this.fastPathStart(options);
    const session = this.session;
    const url = this.pool.pick();
    const channel = startMs < 0 || session === null || session.expired ? undefined : this.pool.readyChannel(url);
    let response: WriteResponse | DeleteResponse;
    if (channel === undefined || session === null) {
      response = await this.write(method, writeFields(keyBytes, valueBytes, options), this.deadline(method, options));
    } else {
      const seq = this.allocateSeq(session);
      const sessionRef = { sessionId: session.id, seq, ackedSeq: session.ackedSeq };
      // One object literal per method, always the same properties in the same
      // order (one hidden class for the encoder); an undefined condition is not encoded.
      const request =
        valueBytes === undefined
          ? { key: keyBytes, session: sessionRef, expectedVersion: options.expectedVersion, expectedModRevision: options.expectedModRevision }
          : { key: keyBytes, value: valueBytes, session: sessionRef, expectedVersion: options.expectedVersion, expectedModRevision: options.expectedModRevision };
      try {
        response = (await channel.call(method, request as MethodTypes['kv.put']['request'], this.fastRpcOptions(options))) as WriteResponse | DeleteResponse;
        noteHeader(this.pool, response.header);
        session.settle(seq);
      } catch (error) {
        const write = new UnresolvedWrite(method, writeFields(keyBytes, valueBytes, options), session, seq);
        const deadline = this.deadlineFrom(method, options, startMs);
        response = await this.write(method, write.fields, deadline, { write, url, channel, error });
      }
    }
    return writeOutcome(method, response);
  }

  /**
   * Send a write whose outcome was unknown (from a TimeoutError's,
   * AbortedError's or UnavailableError's `unresolvedWrite`) again, with the
   * same session and seq: it is applied at most once in total, and this
   * returns its one outcome (or throws its error, e.g. VersionMismatchError).
   */
  async retryWrite(write: UnresolvedWrite, options: CallOptions = {}): Promise<WriteResult | DeleteResult> {
    if (write.pending && (write.session.expired || write.session !== this.session)) {
      this.forgetWrite(write, UnresolvedWriteState.SessionExpired);
    }
    if (write.state === UnresolvedWriteState.SessionExpired) throw new SessionExpiredError({ sessionId: write.session.id });
    if (!write.pending) throw new InvalidRequestError(`this write was already ${write.state}`, `write ${write.state}`);
    const deadline = this.deadline('retryWrite', options);
    const response = await this.settleWrite(write, deadline, { mayHaveApplied: true });
    this.unresolved.delete(write);
    write.state = UnresolvedWriteState.Resolved;
    return writeOutcome(write.method, response);
  }

  /** Give up on an unresolved write: the server may then forget its saved result. */
  forgetWrite(write: UnresolvedWrite, because: UnresolvedWriteState = UnresolvedWriteState.Forgotten): void {
    if (!write.pending) return;
    write.state = because;
    this.unresolved.delete(write);
    write.session.settle(write.seq);
  }

  /**
   * The general write path: a seq in the open session (opening one if
   * needed), sent until answered within the deadline. `resume` is a write the
   * fast path already numbered and sent once, with how that attempt failed.
   */
  private async write(
    method: Method,
    fields: Readonly<Record<string, unknown>>,
    deadline: Deadline,
    resume: (FailedAttempt & { readonly write: UnresolvedWrite }) | null = null,
  ): Promise<WriteResponse | DeleteResponse> {
    for (;;) {
      let write: UnresolvedWrite;
      let failed: FailedAttempt | null = null;
      if (resume !== null) {
        write = resume.write;
        failed = resume;
        resume = null;
      } else {
        // The common case without an await: a suspended async call per write costs real CPU at load.
        const session = this.session !== null && !this.session.expired ? this.session : await this.ensureSession(deadline);
        write = new UnresolvedWrite(method, fields, session, this.allocateSeq(session));
      }
      const attempts: WriteAttempts = { mayHaveApplied: false };
      try {
        return await this.settleWrite(write, deadline, attempts, failed);
      } catch (error) {
        if (error instanceof SessionExpiredError && !attempts.mayHaveApplied) {
          // No attempt can have been applied under the dead session, so
          // the write is safe to send again under a new one.
          continue;
        }
        throw error;
      }
    }
  }

  /** The next seq of `session`, after forgetting unresolved writes it leaves too far behind. */
  private allocateSeq(session: ClientSession): number {
    const seq = session.allocateSeq();
    if (this.unresolved.size > 0) this.forgetLaggingWrites(seq);
    return seq;
  }

  /**
   * Sends `write` (retrying within the deadline) and settles its seq: on an
   * answer, or on a failure that proves it was not applied. A write whose
   * outcome stays unknown is kept for `retryWrite` and attached to the error.
   */
  private async settleWrite(
    write: UnresolvedWrite,
    deadline: Deadline,
    attempts: WriteAttempts,
    failed: FailedAttempt | null = null,
  ): Promise<WriteResponse | DeleteResponse> {
    const { session, seq } = write;
    try {
      const response = await this.invoke(
        write.method as typeof Method.Put,
        () => ({ ...write.fields, session: { sessionId: session.id, seq, ackedSeq: session.ackedSeq } }) as MethodTypes['kv.put']['request'],
        deadline,
        attempts,
        Target.Leader,
        failed,
      );
      session.settle(seq);
      return response;
    } catch (error) {
      if (error instanceof SessionExpiredError) {
        session.expired = true;
        this.forgetWrite(write, UnresolvedWriteState.SessionExpired);
        session.settle(seq);
        throw error;
      }
      if (isOutcomeUnknown(error) && attempts.mayHaveApplied) {
        this.keepUnresolved(write);
        error.unresolvedWrite = write;
        throw error;
      }
      session.settle(seq);
      throw error;
    }
  }

  /**
   * An unresolved write holds the session's ackedSeq back, so the members
   * keep every later result of the session; they keep at most
   * sessionResultsMax (4096 by default) and then refuse writes. So a write
   * stays retryable only while fewer than `unresolvedSeqWindow` writes have
   * been sent after it; then it is forgotten.
   */
  private forgetLaggingWrites(newestSeq: number): void {
    for (const write of this.unresolved) {
      if (write.session === this.session && newestSeq - write.seq <= unresolvedSeqWindow) break;
      this.forgetWrite(write, write.session === this.session ? UnresolvedWriteState.Forgotten : UnresolvedWriteState.SessionExpired);
    }
  }

  private keepUnresolved(write: UnresolvedWrite): void {
    this.unresolved.add(write);
    while (this.unresolved.size > this.unresolvedWritesMax) {
      const oldest = this.unresolved.values().next().value as UnresolvedWrite;
      this.forgetWrite(oldest);
    }
  }

  // ------------------------------------------------------------------ session

  /** Opens the first session (called by `connect`) and starts its keep-alives. */
  async start(signal?: AbortSignal): Promise<void> {
    await this.ensureSession(this.deadline('connect', { signal }));
  }

  /**
   * The open session, opening one if needed. One open at a time: it runs
   * under the deadline of the call that started it, and the calls that arrive
   * meanwhile wait for it (and start their own if it fails while they still
   * have time).
   */
  private async ensureSession(deadline: Deadline): Promise<ClientSession> {
    for (;;) {
      if (this.session !== null && !this.session.expired) return this.session;
      if (this.opening === null) {
        const opening = this.openSession(deadline);
        this.opening = opening;
        try {
          return await opening;
        } finally {
          if (this.opening === opening) this.opening = null;
        }
      }
      try {
        return await deadline.race(this.opening);
      } catch (error) {
        if (deadline.expired) throw error;
        // The open failed under another call's deadline: try again under ours.
      }
    }
  }

  private async openSession(deadline: Deadline): Promise<ClientSession> {
    const response = await this.invoke(Method.OpenSession, () => ({ ttlMs: this.sessionTtlMs }), deadline, null);
    this.session = new ClientSession(response.sessionId, response.ttlMs);
    this.scheduleKeepAlive(response.ttlMs);
    return this.session;
  }

  /**
   * Keep-alives every third of the TTL: two may be lost before the session
   * expires. The timer does not keep the process alive on its own.
   */
  private scheduleKeepAlive(ttlMs: number): void {
    this.keepAliveTimer?.cancel();
    const intervalMs = Math.max(100, Math.floor(ttlMs / 3));
    this.keepAliveTimer = this.clock.setRepeating(intervalMs, () => void this.keepAlive(intervalMs), { keepsProcessAlive: false });
  }

  private async keepAlive(timeoutMs: number): Promise<void> {
    const session = this.session;
    if (session === null || session.expired || this.keepAliveInFlight) return;
    this.keepAliveInFlight = true;
    try {
      await this.invoke(Method.KeepAlive, () => ({ sessionId: session.id }), this.deadline('session.keepAlive', { timeoutMs }), null);
    } catch (error) {
      // Expired: the next write opens a new session. Anything else: the next tick tries again.
      if (error instanceof SessionExpiredError) session.expired = true;
    } finally {
      this.keepAliveInFlight = false;
    }
  }

  // ------------------------------------------------------------------ status

  /**
   * Every member's own report (role, term, commit and applied index, leader),
   * asking each member directly; unreachable members have `status: null` and
   * an `error`.
   */
  async status(options: CallOptions = {}): Promise<ClusterStatus> {
    const deadline = this.deadline('status', options);
    const first = await this.invoke(Method.Status, () => ({}), deadline, null);
    const reports = await Promise.all(
      first.members.map(async (member: MemberInfo): Promise<MemberReport> => {
        const base = { name: member.name, peerUrl: member.peerUrl, clientUrl: member.clientUrl, voter: member.voter };
        if (member.name === first.member.name) return { ...base, clientUrl: first.member.clientUrl, status: first.member, error: null };
        if (member.clientUrl === null) return { ...base, status: null, error: 'client URL not known yet' };
        try {
          const channel = await deadline.race(this.pool.channel(member.clientUrl));
          const answer = (await channel.call(Method.Status, {}, rpcOptions(deadline))) as MethodTypes['cluster.status']['response'];
          return { ...base, status: answer.member, error: null };
        } catch (error) {
          return { ...base, status: null, error: error instanceof Error ? error.message : String(error) };
        }
      }),
    );
    return { leaderId: majorityLeader(reports), members: reports };
  }

  // ------------------------------------------------------------------ close

  /** Closes the session (its saved results are freed on the members) and every connection. Idempotent. */
  close(options: CallOptions = {}): Promise<void> {
    if (this.closing === null) this.closing = this.shutdown(options);
    return this.closing;
  }

  private async shutdown(options: CallOptions): Promise<void> {
    this.keepAliveTimer?.cancel();
    this.keepAliveTimer = null;
    const session = this.session;
    if (session !== null && !session.expired) {
      const deadline = new Deadline(this.clock, 'session.close', options.timeoutMs ?? Math.min(this.timeoutMs, 2_000), options.signal, undefined);
      try {
        await this.invoke(Method.CloseSession, () => ({ sessionId: session.id }), deadline, null);
      } catch {
        // Best effort: an unreachable cluster lets the session expire by its TTL.
      }
    }
    this.closeController.abort();
    await this.pool.close();
  }

  // ------------------------------------------------------------------ the retry loop

  /**
   * Whether a call can take the fast path, and when it started: -1 when it
   * cannot (no positive timeout, or the caller's signal already fired), else
   * the clock reading its deadline counts from. The fast path is the common
   * case: the session is open, the connection to the target is ready, and one
   * attempt gets its answer in time; it sends that attempt without the retry
   * loop's closures and bookkeeping. Throws ClientClosedError once closed, as
   * `deadline()` does.
   */
  private fastPathStart(options: CallOptions): number {
    if (this.closeSignal.aborted) throw new ClientClosedError();
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    if (!(timeoutMs > 0) || options.signal?.aborted === true) return -1;
    return this.clock.monotonicMs();
  }

  /** What `rpcOptions` gives the first attempt of a call: all of its time, and the caller's signal. */
  private fastRpcOptions(options: CallOptions): { timeoutMs: number; signal?: AbortSignal } {
    const timeoutMs = Math.max(1, Math.ceil(options.timeoutMs ?? this.timeoutMs));
    if (options.signal !== undefined) return { timeoutMs, signal: options.signal };
    // Never changed once made, so the calls without a signal can share one.
    if (this.sharedRpcOptions.timeoutMs !== timeoutMs) this.sharedRpcOptions = { timeoutMs };
    return this.sharedRpcOptions;
  }

  private deadline(operation: string, options: CallOptions): Deadline {
    if (this.closeController.signal.aborted) throw new ClientClosedError();
    return new Deadline(this.clock, operation, options.timeoutMs ?? this.timeoutMs, options.signal, this.closeController.signal);
  }

  /** The deadline of a call that started on the fast path at `startMs`, for the general loop taking over. */
  private deadlineFrom(operation: string, options: CallOptions, startMs: number): Deadline {
    return new Deadline(this.clock, operation, options.timeoutMs ?? this.timeoutMs, options.signal, this.closeSignal, startMs);
  }

  /**
   * Sends one request until a member answers it or the deadline ends:
   * to the leader when known, following redirects; after a lost connection,
   * a member without a leader, or an overloaded member, waits (exponential
   * backoff with jitter) and tries again, the next member when that one failed.
   * `buildRequest` runs per attempt (a write's ackedSeq may have advanced).
   * `failed` is a first attempt the fast path made: the loop goes on from
   * its failure.
   */
  private async invoke<M extends Method>(
    method: M,
    buildRequest: () => MethodTypes[M]['request'],
    deadline: Deadline,
    attempts: WriteAttempts | null,
    target: Target = Target.Leader,
    failed: FailedAttempt | null = null,
  ): Promise<MethodTypes[M]['response']> {
    let backoffState: Backoff | null = null;
    const backoff = (): Backoff => (backoffState ??= new Backoff(this.backoffOptions, this.random));
    let lastFailure: unknown = undefined;
    let waitingForAnswer = false;
    let redirects = 0;
    for (;;) {
      let url: string;
      let channel: RpcChannel;
      let error: unknown;
      if (failed !== null) {
        ({ url, channel, error } = failed);
        failed = null;
        waitingForAnswer = true;
      } else {
        if (deadline.expired) throw finalError(deadline, lastFailure, waitingForAnswer);
        url = target === Target.Leader ? this.pool.pick() : this.pool.pickAny();
        try {
          channel = this.pool.readyChannel(url) ?? (await deadline.race(this.pool.channel(url)));
        } catch (connectError) {
          if (deadline.expired) throw finalError(deadline, lastFailure, false);
          lastFailure = connectError;
          this.pool.noteFailure(url);
          await deadline.sleep(backoff().nextDelayMs());
          continue;
        }
        try {
          waitingForAnswer = true;
          const response = (await channel.call(method, buildRequest(), rpcOptions(deadline))) as MethodTypes[M]['response'];
          noteHeader(this.pool, (response as { header?: ResponseHeader }).header);
          return response;
        } catch (callError) {
          error = callError;
        }
      }
      // The RPC's own timer carries the deadline: its TimeoutError may come
      // a hair before this clock agrees that the time is up.
      if (deadline.expired || error instanceof RpcTimeoutError) {
        // The request may have reached the leader: a write's outcome is unknown.
        if (attempts !== null) attempts.mayHaveApplied = true;
        throw finalError(deadline, error, true);
      }
      waitingForAnswer = false;
      lastFailure = error;
      const failure = classifyFailure(error);
      if (attempts !== null && failure.mayHaveApplied) attempts.mayHaveApplied = true;
      switch (failure.kind) {
        case FailureKind.Final:
          throw failure.error;
        case FailureKind.Redirect:
          if (failure.leaderUrl !== null && failure.leaderUrl !== url) {
            // Straight to the named leader; wait only if members keep
            // bouncing us around (their views of the leader disagree).
            this.pool.noteLeader(failure.leaderUrl);
            if (++redirects > this.pool.known.length) await deadline.sleep(backoff().nextDelayMs());
          } else {
            this.pool.noteFailure(url);
            await deadline.sleep(backoff().nextDelayMs());
          }
          continue;
        case FailureKind.ConnectionLost:
          this.pool.discard(url, channel);
          this.pool.noteFailure(url);
          await deadline.sleep(backoff().nextDelayMs());
          continue;
        case FailureKind.Busy:
          await deadline.sleep(backoff().nextDelayMs());
          continue;
      }
    }
  }
}

/** Opens a client: connects to a member and opens the client's session. */
export async function connectWith(options: KvClientOptions, channelFactory: ChannelFactory): Promise<KvClient> {
  const client = new KvClient(options, channelFactory);
  if (options.openSessionOnConnect === false) return client;
  try {
    await client.start(options.signal);
  } catch (error) {
    await client.close({ timeoutMs: 1 }).catch(() => undefined);
    throw error;
  }
  return client;
}

/** The RPC gets the call's remaining time and the caller's signal (the client's close closes the connections). */
function rpcOptions(deadline: Deadline): { timeoutMs: number; signal?: AbortSignal } {
  const timeoutMs = Math.max(1, Math.ceil(deadline.remainingMs()));
  return deadline.callerSignal === undefined ? { timeoutMs } : { timeoutMs, signal: deadline.callerSignal };
}

/** A write's fields as the retry loop keeps them (see UnresolvedWrite): key, value if any, the conditions given. */
function writeFields(key: Uint8Array, value: Uint8Array | undefined, options: WriteConditionOptions): Readonly<Record<string, unknown>> {
  return value === undefined ? { key, ...conditions(options) } : { key, value, ...conditions(options) };
}

function conditions(options: WriteConditionOptions): WriteConditionOptions {
  const out: { expectedVersion?: number; expectedModRevision?: number } = {};
  if (options.expectedVersion !== undefined) out.expectedVersion = options.expectedVersion;
  if (options.expectedModRevision !== undefined) out.expectedModRevision = options.expectedModRevision;
  return out;
}

/** What a write call resolves to: a DeleteResult for a delete, else a WriteResult. */
function writeOutcome(method: Method, response: WriteResponse | DeleteResponse): WriteResult | DeleteResult {
  return method === Method.Delete
    ? { revision: response.revision, deleted: (response as DeleteResponse).deleted }
    : { revision: response.revision, version: (response as WriteResponse).version };
}

function noteHeader(pool: EndpointPool, header: ResponseHeader | undefined): void {
  if (header !== undefined && header.leaderClientUrl !== null) pool.noteLeader(header.leaderClientUrl);
}

function isOutcomeUnknown(error: unknown): error is Error & OutcomeUnknown {
  return error instanceof TimeoutError || error instanceof AbortedError || error instanceof UnavailableError;
}

/**
 * The error a call ends with when its deadline passes: the caller's abort or
 * the client's close as such; a timeout while a member was working on the
 * request is a TimeoutError; a timeout spent failing to find a member that
 * could serve (unreachable, no leader) is an UnavailableError.
 */
function finalError(deadline: Deadline, lastFailure: unknown, waitingForAnswer: boolean): Error {
  const reason = deadline.reason;
  if (!(reason instanceof TimeoutError)) return reason;
  if (waitingForAnswer || lastFailure === undefined) return new TimeoutError(reason.message, { cause: lastFailure });
  const detail = lastFailure instanceof Error ? `: ${lastFailure.message}` : '';
  return new UnavailableError(`${deadline.operation}: no member could serve it within ${deadline.timeoutMs} ms${detail}`, {
    cause: lastFailure,
  });
}

/** The leader most reachable members agree on. */
function majorityLeader(reports: readonly MemberReport[]): string | null {
  const votes = new Map<string, number>();
  for (const report of reports) {
    const leader = report.status?.leaderId;
    if (leader) votes.set(leader, (votes.get(leader) ?? 0) + 1);
  }
  let best: string | null = null;
  let bestVotes = 0;
  for (const [leader, count] of votes) {
    if (count > bestVotes) [best, bestVotes] = [leader, count];
  }
  return best;
}
