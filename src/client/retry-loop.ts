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
import { TimeoutError as RpcTimeoutError } from '../net/index.js';
import { SessionExpiredError } from '../kv/errors.js';
import { Backoff, type BackoffOptions } from '../common/backoff.js';
import type { Clock } from '../common/clock.js';
import type { RandomSource } from '../common/rng.js';
import type { RpcChannel } from './channel.js';
import { Deadline } from './deadline.js';
import type { EndpointPool } from './endpoint-pool.js';
import { ClientClosedError, TimeoutError, UnavailableError } from './errors.js';
import { classifyFailure, FailureKind } from './failure.js';
import type { CallOptions } from './options.js';
import type { SessionKeeper } from './session-keeper.js';
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
   * Sends `request` until a member answers it or the call's time is up.
   * `budget` is the caller's options (the deadline then starts now, lazily) or
   * a Deadline already running (e.g. a session open a write waits for).
   * `write`: the session a new write is numbered in, or the unresolved write
   * being retried; null for everything else.
   */
  async invoke<M extends Method>(
    method: M,
    request: MethodTypes[M]['request'],
    budget: CallOptions | Deadline,
    write: WriteInCall | null,
  ): Promise<MethodTypes[M]['response']> {
    let deadline = budget instanceof Deadline ? budget : null;
    const options = budget as CallOptions;
    const callTimeoutMs = deadline?.timeoutMs ?? options.timeoutMs ?? this.settings.timeoutMs;
    let startMs = 0;
    if (deadline === null) {
      if (this.closeSignal.aborted) throw new ClientClosedError();
      // No time at all, or aborted already: the loop ends at once with the right error.
      if (callTimeoutMs > 0 && options.signal?.aborted !== true) startMs = this.clock.monotonicMs();
      else deadline = this.deadline(method, options);
    }
    const stale = (request as { consistency?: Consistency }).consistency === Consistency.Stale;
    let mayHaveApplied = write instanceof UnresolvedWrite;
    let backoff: Backoff | null = null;
    let lastFailure: unknown = undefined;
    let waitingForAnswer = false;
    let redirects = 0;
    let attempts = 0;
    try {
      for (;; attempts++) {
        if (deadline?.expired === true) throw finalError(deadline, lastFailure, waitingForAnswer);
        if (attempts > 0 && write !== null) request = retryRequest(write, request as WriteRequest) as typeof request;
        const url = stale ? this.pool.pickAny() : this.pool.pick();
        let channel: RpcChannel | undefined = this.pool.readyChannel(url);
        if (channel === undefined) {
          deadline ??= this.deadline(method, options, startMs);
          try {
            channel = await deadline.race(this.pool.channel(url));
          } catch (connectError) {
            if (deadline.expired) throw finalError(deadline, lastFailure, waitingForAnswer);
            lastFailure = connectError;
            waitingForAnswer = false;
            this.pool.noteFailure(url);
            await deadline.sleep((backoff ??= this.newBackoff()).nextDelayMs());
            continue;
          }
        }
        const remainingMs = deadline === null ? callTimeoutMs : deadline.remainingMs();
        const attemptMs = this.attemptMs(callTimeoutMs, remainingMs);
        waitingForAnswer = true;
        try {
          const rpcOptions = deadline === null ? this.firstRpcOptions(attemptMs, options.signal) : rpcOptionsOf(attemptMs, deadline);
          const response = (await channel.call(method, request, rpcOptions)) as MethodTypes[M]['response'];
          noteHeader(this.pool, (response as { header?: ResponseHeader }).header);
          if (write !== null) this.unresolved.answered(write, request as WriteRequest);
          return response;
        } catch (error) {
          deadline ??= this.deadline(method, options, startMs);
          if (error instanceof RpcTimeoutError || deadline.expired) {
            // The request may have reached the leader: a write's outcome is unknown.
            mayHaveApplied = true;
            // The RPC's own timer carries the deadline: its TimeoutError may
            // come a hair before this clock agrees that the time is up.
            if (deadline.expired || attemptMs >= remainingMs) throw finalError(deadline, error, true);
            // This member did not answer in its share of the time: try the next.
            lastFailure = error;
            this.pool.noteFailure(url);
            continue;
          }
          waitingForAnswer = false;
          lastFailure = error;
          const failure = classifyFailure(error);
          if (failure.mayHaveApplied) mayHaveApplied = true;
          switch (failure.kind) {
            case FailureKind.Final:
              if (write instanceof UnresolvedWrite || write === null || mayHaveApplied || !(failure.error instanceof SessionExpiredError)) {
                throw failure.error;
              }
              // No attempt can have been applied under the dead session: the
              // write is safe to send again, numbered in a new one.
              write.expired = true;
              write.settle((request as WriteRequest).session.seq);
              write = await this.sessions.ensure(deadline);
              request = renumbered(request as WriteRequest, write, this.unresolved.allocateSeq(write)) as typeof request;
              attempts = -1;
              continue;
            case FailureKind.Redirect:
              if (failure.leaderUrl !== null && failure.leaderUrl !== url) {
                // Straight to the named leader; wait only if members keep
                // bouncing us around (their views of the leader disagree).
                this.pool.noteLeader(failure.leaderUrl);
                if (++redirects > this.pool.known.length) await deadline.sleep((backoff ??= this.newBackoff()).nextDelayMs());
              } else {
                this.pool.noteFailure(url);
                await deadline.sleep((backoff ??= this.newBackoff()).nextDelayMs());
              }
              continue;
            case FailureKind.ConnectionLost:
              this.pool.discard(url, channel);
              this.pool.noteFailure(url);
              await deadline.sleep((backoff ??= this.newBackoff()).nextDelayMs());
              continue;
            case FailureKind.Busy:
              await deadline.sleep((backoff ??= this.newBackoff()).nextDelayMs());
              continue;
          }
        }
      }
    } catch (error) {
      throw write === null ? error : this.unresolved.failed(write, method, request as WriteRequest, error, mayHaveApplied);
    }
  }

  /** How long one attempt may wait: its share of the call, or all that is left when less than half a share would remain after it. */
  private attemptMs(callTimeoutMs: number, remainingMs: number): number {
    const shareMs = this.settings.attemptTimeoutMs ?? callTimeoutMs / 3;
    return remainingMs - shareMs < shareMs / 2 ? remainingMs : shareMs;
  }

  /** The first attempt's RPC options: without a signal, one shared object for every call with the same time. */
  private firstRpcOptions(attemptMs: number, signal: AbortSignal | undefined): RpcOptions {
    const timeoutMs = Math.max(1, Math.ceil(attemptMs));
    if (signal !== undefined) return { timeoutMs, signal };
    if (this.sharedRpcOptions.timeoutMs !== timeoutMs) this.sharedRpcOptions = { timeoutMs };
    return this.sharedRpcOptions;
  }

  private newBackoff(): Backoff {
    return new Backoff(this.settings.backoff, this.settings.random);
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
