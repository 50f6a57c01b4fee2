/**
 * One client call, from its first attempt to its answer or final error.
 *
 * `invoke` sends the request to the leader when known (a stale read: to the
 * member the rotation is at), follows redirects, and after a lost connection,
 * a member without a leader, an overloaded member or a member that does not
 * answer within its share of the time, waits (exponential backoff with full
 * jitter, src/common/backoff.ts) and tries again, the next member when that
 * one failed, until an answer or the deadline.
 *
 * The first attempt is the fast path: under load the client's CPU per call is
 * on the cluster's critical path (64 loops on one connection wait for their
 * batch of answers and send the next), so an attempt on an open connection
 * that gets its answer allocates nothing beyond the request and the RPC: no
 * Deadline (only the start time is read), no backoff state, no closures. The
 * loop's state appears when the first attempt fails, and from there the call
 * goes on under the deadline counted from its start.
 *
 * Each attempt waits at most `attemptTimeoutMs` (a third of the call's time by
 * default, the last one all that is left): a member that accepts connections
 * but never answers (paused, overloaded) costs one attempt, not the call.
 *
 * Writes (`write` not null) are numbered in a session; the loop tracks whether
 * any attempt may have been applied and reports the end of the call to
 * UnresolvedWrites. Only a write that no attempt can have applied is sent
 * again under a new session when its session expired (exactly-once, see
 * unresolved-writes.ts).
 */
import { Consistency, Method, type MethodTypes, type ResponseHeader } from '../protocol/index.js';
import { NetTimeoutError } from '../net/index.js';
import { SessionExpiredError } from '../kv/errors.js';
import { Backoff, type BackoffOptions } from '../common/backoff.js';
import type { Clock } from '../common/clock.js';
import type { RandomSource } from '../common/rng.js';
import type { RpcChannel } from './channel.js';
import { Deadline } from './deadline.js';
import type { EndpointPool } from './endpoint-pool.js';
import { ClientClosedError, TimeoutError, UnavailableError } from './errors.js';
import { classifyFailure, FailureKind } from './failure.js';
import { LoginRefusedError } from './auth.js';
import type { CallOptions } from './options.js';
import type { SessionKeeper } from './session-keeper.js';
import { ClientSession } from './session.js';
import { UnresolvedWrite } from './unresolved-write.js';
import { retryRequest, writeFields, type UnresolvedWrites, type WriteInCall, type WriteRequest } from './unresolved-writes.js';

export interface RetryLoopSettings {
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly backoff: BackoffOptions;
  /** A call's deadline when its options give none. */
  readonly timeoutMs: number;
  /** Longest wait for one attempt's answer; undefined: a third of the call's timeout. */
  readonly attemptTimeoutMs: number | undefined;
  /** Fires when the client closes: every running call ends with ClientClosedError. */
  readonly closeSignal: AbortSignal;
}

/** The RPC options of one attempt. */
interface RpcOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/**
 * What a call sends and what it resolves to: a method and the shaping of its
 * answer (e.g. a get's KeyValueResult), one constant per kind of call, so
 * that the call itself allocates nothing for it.
 */
export interface CallKind<M extends Method, R> {
  readonly method: M;
  readonly result: (response: MethodTypes[M]['response']) => R;
}

/** A call kind that resolves to the member's answer as is. */
export function plainCall<M extends Method>(method: M): CallKind<M, MethodTypes[M]['response']> {
  return { method, result: asIs };
}

const asIs = <T>(response: T): T => response;

/** What the loop does after a failed attempt. */
const Next = {
  /** Try again at once (the attempt already waited, or a redirect named the leader). */
  Now: 0,
  /** Wait a backoff delay first. */
  AfterPause: 1,
  /** The write's session expired and nothing was applied: number it in a new session. */
  InNewSession: 2,
} as const;
type Next = (typeof Next)[keyof typeof Next];

/**
 * The loop's state from the first failed attempt on (a call answered at its
 * first attempt never makes one): the deadline counted from the call's start,
 * the backoff, and what the attempts so far showed.
 */
class Retrying {
  backoff: Backoff | null = null;
  lastFailure: unknown = undefined;
  /** The last attempt reached a member that was working on it (a timeout then is a TimeoutError). */
  waitingForAnswer = false;
  redirects = 0;
  attempts = 0;

  constructor(
    readonly deadline: Deadline,
    /** Whether any attempt may have been applied (a write's outcome is unknown once true). */
    public mayHaveApplied: boolean,
  ) {}
}

export class RetryLoop {
  private readonly clock: Clock;
  private readonly closeSignal: AbortSignal;
  /** The RPC options of first attempts without a signal, shared (never changed once made). */
  private sharedRpcOptions: RpcOptions = { timeoutMs: -1 };

  constructor(
    private readonly pool: EndpointPool,
    private readonly sessions: SessionKeeper,
    private readonly unresolved: UnresolvedWrites,
    private readonly settings: RetryLoopSettings,
  ) {
    this.clock = settings.clock;
    this.closeSignal = settings.closeSignal;
  }

  /** A call's deadline from now, or from `startMs`; throws ClientClosedError once the client closed. */
  deadline(operation: string, options: CallOptions, startMs?: number): Deadline {
    if (this.closeSignal.aborted) throw new ClientClosedError();
    return new Deadline(this.clock, operation, options.timeoutMs ?? this.settings.timeoutMs, options.signal, this.closeSignal, startMs);
  }

  /**
   * Sends `request` until a member answers it or the call's time is up, and
   * resolves to `kind.result` of the answer. `budget` is the caller's options
   * (the deadline then starts now, lazily) or a Deadline already running
   * (e.g. a session open a write waits for). `write`: the session a new write
   * is numbered in, or the unresolved write being retried; null for
   * everything else.
   */
  async invoke<M extends Method, R>(
    kind: CallKind<M, R>,
    request: MethodTypes[M]['request'],
    budget: CallOptions | Deadline,
    write: WriteInCall | null,
  ): Promise<R> {
    let retrying: Retrying | null = null;
    let startMs = 0;
    if (budget instanceof Deadline) retrying = new Retrying(budget, write instanceof UnresolvedWrite);
    else if (this.closeSignal.aborted) throw new ClientClosedError();
    else if ((budget.timeoutMs ?? this.settings.timeoutMs) > 0 && budget.signal?.aborted !== true) startMs = this.clock.monotonicMs();
    // No time at all, or aborted already: the loop ends at once with the right error.
    else retrying = new Retrying(this.deadline(kind.method, budget), false);
    const stale = (request as { consistency?: Consistency }).consistency === Consistency.Stale;
    try {
      for (;;) {
        if (retrying !== null) {
          if (retrying.deadline.expired) throw finalError(retrying.deadline, retrying.lastFailure, retrying.waitingForAnswer);
          if (retrying.attempts++ > 0 && write !== null) request = retryRequest(write, request as WriteRequest) as typeof request;
        }
        const url = stale ? this.pool.pickAny() : this.pool.pick();
        let channel: RpcChannel | undefined = this.pool.readyChannel(url);
        if (channel === undefined) {
          retrying ??= this.startRetrying(kind.method, budget as CallOptions, startMs);
          channel = await this.open(url, retrying);
          if (channel === undefined) continue;
        }
        const remainingMs = retrying === null ? (budget as CallOptions).timeoutMs ?? this.settings.timeoutMs : retrying.deadline.remainingMs();
        const attemptMs = this.attemptMs(retrying?.deadline.timeoutMs ?? remainingMs, remainingMs);
        try {
          const response = await channel.call(kind.method, request, retrying === null ? this.firstRpcOptions(attemptMs, budget as CallOptions) : rpcOptionsOf(attemptMs, retrying.deadline));
          noteHeader(this.pool, (response as { header?: ResponseHeader }).header);
          if (write !== null) this.unresolved.answered(write, request as WriteRequest);
          return kind.result(response as MethodTypes[M]['response']);
        } catch (error) {
          retrying ??= this.startRetrying(kind.method, budget as CallOptions, startMs);
          const next = this.afterFailure(retrying, url, channel, error, attemptMs >= remainingMs, write);
          if (next === Next.AfterPause) {
            await retrying.deadline.sleep((retrying.backoff ??= new Backoff(this.settings.backoff, this.settings.random)).nextDelayMs());
          } else if (next === Next.InNewSession) {
            // No attempt can have been applied under the dead session: the
            // write is safe to send again, numbered in a new one.
            const dead = write as ClientSession;
            dead.expired = true;
            dead.settle((request as WriteRequest).session.seq);
            const session = await this.sessions.ensure(retrying.deadline);
            write = session;
            request = renumbered(request as WriteRequest, session, this.unresolved.allocateSeq(session)) as typeof request;
            retrying.attempts = 0;
          }
        }
      }
    } catch (error) {
      throw write === null ? error : this.unresolved.failed(write, kind.method, request as WriteRequest, error, retrying?.mayHaveApplied ?? false);
    }
  }

  /** The loop's state when the first attempt failed: the deadline counts from the call's start. */
  private startRetrying(method: Method, options: CallOptions, startMs: number): Retrying {
    return new Retrying(this.deadline(method, options, startMs), false);
  }

  /** The connection to `url`; undefined (after a pause) when it cannot be opened, to try the next member. */
  private async open(url: string, retrying: Retrying): Promise<RpcChannel | undefined> {
    const { deadline } = retrying;
    try {
      return await deadline.race(this.pool.channel(url));
    } catch (connectError) {
      // Credentials that a member refuses would be refused by every member: end the call with that error.
      if (connectError instanceof LoginRefusedError) throw connectError.error;
      if (deadline.expired) throw finalError(deadline, retrying.lastFailure, retrying.waitingForAnswer);
      retrying.lastFailure = connectError;
      retrying.waitingForAnswer = false;
      this.pool.noteFailure(url);
      await deadline.sleep((retrying.backoff ??= new Backoff(this.settings.backoff, this.settings.random)).nextDelayMs());
      return undefined;
    }
  }

  /**
   * What a failed attempt means: throws when the call ends here, else says
   * how to go on, after pointing the pool at the next member to try.
   * `lastAttempt`: the attempt had all the call's remaining time.
   */
  private afterFailure(retrying: Retrying, url: string, channel: RpcChannel, error: unknown, lastAttempt: boolean, write: WriteInCall | null): Next {
    const { deadline } = retrying;
    if (error instanceof NetTimeoutError || deadline.expired) {
      // The request may have reached the leader: a write's outcome is unknown.
      retrying.mayHaveApplied = true;
      // The RPC's own timer carries the deadline: its TimeoutError may
      // come a hair before this clock agrees that the time is up.
      if (deadline.expired || lastAttempt) throw finalError(deadline, error, true);
      // This member did not answer in its share of the time: try the next.
      retrying.lastFailure = error;
      retrying.waitingForAnswer = true;
      this.pool.noteFailure(url);
      return Next.Now;
    }
    retrying.waitingForAnswer = false;
    retrying.lastFailure = error;
    const failure = classifyFailure(error);
    if (failure.mayHaveApplied) retrying.mayHaveApplied = true;
    switch (failure.kind) {
      case FailureKind.Final:
        if (write instanceof ClientSession && !retrying.mayHaveApplied && failure.error instanceof SessionExpiredError) return Next.InNewSession;
        throw failure.error;
      case FailureKind.Redirect:
        if (failure.leaderUrl !== null && failure.leaderUrl !== url) {
          // Straight to the named leader; wait only if members keep
          // bouncing us around (their views of the leader disagree).
          this.pool.noteLeader(failure.leaderUrl);
          return ++retrying.redirects > this.pool.known.length ? Next.AfterPause : Next.Now;
        }
        this.pool.noteFailure(url);
        return Next.AfterPause;
      case FailureKind.ConnectionLost:
        this.pool.discard(url, channel);
        this.pool.noteFailure(url);
        return Next.AfterPause;
      case FailureKind.Busy:
        return Next.AfterPause;
    }
  }

  /** How long one attempt may wait: its share of the call, or all that is left when less than half a share would remain after it. */
  private attemptMs(callTimeoutMs: number, remainingMs: number): number {
    const shareMs = this.settings.attemptTimeoutMs ?? callTimeoutMs / 3;
    return remainingMs - shareMs < shareMs / 2 ? remainingMs : shareMs;
  }

  /** The first attempt's RPC options: without a signal, one shared object for every call with the same time. */
  private firstRpcOptions(attemptMs: number, options: CallOptions): RpcOptions {
    const timeoutMs = Math.max(1, Math.ceil(attemptMs));
    if (options.signal !== undefined) return { timeoutMs, signal: options.signal };
    if (this.sharedRpcOptions.timeoutMs !== timeoutMs) this.sharedRpcOptions = { timeoutMs };
    return this.sharedRpcOptions;
  }
}

/** An RPC gets at most `timeoutMs` and the caller's signal (the client's close closes the connections). */
function rpcOptionsOf(timeoutMs: number, deadline: Deadline): RpcOptions {
  const ms = Math.max(1, Math.ceil(timeoutMs));
  return deadline.callerSignal === undefined ? { timeoutMs: ms } : { timeoutMs: ms, signal: deadline.callerSignal };
}

/** The RPC options of a single call under `deadline` (all its remaining time). */
export function rpcOptions(deadline: Deadline): RpcOptions {
  return rpcOptionsOf(deadline.remainingMs(), deadline);
}

/** A write numbered anew in another session. */
function renumbered(request: WriteRequest, session: { readonly id: number; readonly ackedSeq: number }, seq: number): WriteRequest {
  return { ...writeFields(request), session: { sessionId: session.id, seq, ackedSeq: session.ackedSeq } } as WriteRequest;
}

function noteHeader(pool: EndpointPool, header: ResponseHeader | undefined): void {
  if (header !== undefined && header.leaderClientUrl !== null) pool.noteLeader(header.leaderClientUrl);
}

/**
 * The error a call ends with when its deadline passes: the caller's abort or
 * the client's close as such; a timeout while a member was working on the
 * request is a TimeoutError; a timeout spent failing to find a member that
 * could serve (unreachable, no leader) is an UnavailableError.
 */
export function finalError(deadline: Deadline, lastFailure: unknown, waitingForAnswer: boolean): Error {
  const reason = deadline.reason;
  if (!(reason instanceof TimeoutError)) return reason;
  if (waitingForAnswer || lastFailure === undefined) return new TimeoutError(reason.message, { cause: lastFailure });
  const detail = lastFailure instanceof Error ? `: ${lastFailure.message}` : '';
  return new UnavailableError(`${deadline.operation}: no member could serve it within ${deadline.timeoutMs} ms${detail}`, {
    cause: lastFailure,
  });
}
