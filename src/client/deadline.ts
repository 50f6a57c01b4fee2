/**
 * The time budget of one client call: its `timeoutMs`, the caller's
 * `signal`, and the client's own closing, as one object every attempt,
 * backoff sleep and RPC of the call consults.
 *
 * It is lazy on purpose: the common call (one attempt, answered in time)
 * costs a clock read and no timer, AbortController or listener of its own;
 * the RPC gets the remaining time as its `timeoutMs` and the caller's signal
 * as is. Timers and listeners appear only while sleeping between retries or
 * waiting for something shared (a connection being opened, the session).
 * Time and timers come from the client's injected Clock.
 */
import type { Clock, Timer } from '../common/clock.js';
import { TimeoutError, AbortedError, ClientClosedError } from './errors.js';

export class Deadline {
  private readonly expiresAtMs: number;

  constructor(
    private readonly clock: Clock,
    readonly operation: string,
    readonly timeoutMs: number,
    /** The caller's signal, if any. */
    readonly callerSignal: AbortSignal | undefined,
    /** Fires when the client closes: every call still running ends with ClientClosedError. */
    private readonly closeSignal: AbortSignal | undefined,
    /** When the call began (a call that started on the client's fast path began before its Deadline). */
    startMs: number = clock.monotonicMs(),
  ) {
    this.expiresAtMs = startMs + timeoutMs;
  }

  /** True once the time is up, the caller aborted, or the client closed. */
  get expired(): boolean {
    return (
      this.callerSignal?.aborted === true || this.closeSignal?.aborted === true || this.clock.monotonicMs() >= this.expiresAtMs
    );
  }

  /** Milliseconds left (0 once expired). */
  remainingMs(): number {
    return Math.max(0, this.expiresAtMs - this.clock.monotonicMs());
  }

  /** What ended the call: ClientClosedError, AbortedError or TimeoutError. Only meaningful once expired. */
  get reason(): Error {
    if (this.closeSignal?.aborted) return new ClientClosedError();
    if (this.callerSignal?.aborted) return new AbortedError(`${this.operation} aborted`, { cause: this.callerSignal.reason });
    return new TimeoutError(`${this.operation} timed out after ${this.timeoutMs} ms`);
  }

  /** Sleep `ms`, cut short (resolving, not rejecting) when the deadline ends first. */
  sleep(ms: number): Promise<void> {
    let timer: Timer | undefined;
    return this.race(new Promise<void>((resolve) => (timer = this.clock.setTimer(Math.min(ms, this.remainingMs()), resolve)))).then(
      () => undefined,
      () => timer?.cancel(),
    );
  }

  /**
   * Waits for `promise`, but no longer than the deadline: rejects with
   * `reason` when it ends first. The promise itself keeps running (it may be
   * shared with other calls, e.g. a connection being opened).
   */
  race<T>(promise: Promise<T>): Promise<T> {
    if (this.expired) {
      // Nobody else may ever look at it (a connection opened just for this call): a later
      // rejection must not surface as an unhandled rejection, which ends the user's process
      // (fault suite: a status call on an expired deadline, the member refusing TCP).
      promise.catch(() => undefined);
      return Promise.reject(this.reason);
    }
    return new Promise<T>((resolve, reject) => {
      const onEnd = (): void => {
        cleanup();
        reject(this.reason);
      };
      const timer = this.clock.setTimer(Math.ceil(this.remainingMs()), onEnd);
      this.callerSignal?.addEventListener('abort', onEnd, { once: true });
      this.closeSignal?.addEventListener('abort', onEnd, { once: true });
      const cleanup = (): void => {
        timer.cancel();
        this.callerSignal?.removeEventListener('abort', onEnd);
        this.closeSignal?.removeEventListener('abort', onEnd);
      };
      promise.then(
        (value) => {
          cleanup();
          resolve(value);
        },
        (error: unknown) => {
          cleanup();
          reject(error as Error);
        },
      );
    });
  }
}
