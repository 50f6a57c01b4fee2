/**
 * The calling side of RPC over one Connection: request ids, many calls in
 * flight (pipelining), answers matched by id in whatever order they come.
 */
import type { Clock, Timer } from '../common/clock.js';
import { FrameKind, noBody, unpackBody } from './codec.js';
import type { Connection, ResponseSink } from './connection.js';
import { schemaError } from './connection.js';
import {
  NetAbortedError,
  ConnectionClosedError,
  DecodeError,
  RemoteError,
  NetTimeoutError,
  TooManyPendingCallsError,
} from './errors.js';
import type { MethodEntry, MethodName, MethodTable, RequestOf, ResponseOf } from './messages.js';
import { s } from './schema.js';

export interface CallOptions {
  /** Reject with NetTimeoutError (and tell the server to cancel) after this long. */
  readonly timeoutMs?: number;
  /** Aborting rejects with NetAbortedError and tells the server to cancel. */
  readonly signal?: AbortSignal;
}

export interface RpcClientOptions {
  /** Calls that may wait for an answer at once; one more is a TooManyPendingCallsError (default 1024). */
  readonly pendingCallsMax?: number;
  /** Timeout for calls that do not give their own (default: none). */
  readonly timeoutMs?: number;
  /** The clock deadlines are read from and timed by (default: the connection's clock). */
  readonly clock?: Clock;
}

/** The body of an Error frame. */
export const wireErrorSchema = s.object({ code: s.string(), message: s.string(), details: s.optional(s.unknown()) });

class PendingCall {
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  /** This call's timeout, or -1 for none. */
  timeoutMs = -1;
  /** When it times out (monotonic clock); unstampedMs until stamped (see RpcClient.stampDeadlines). */
  deadlineMs = unstampedMs;
  constructor(
    readonly callId: number,
    readonly method: MethodEntry,
    readonly resolve: (value: any) => void,
    readonly reject: (error: Error) => void,
  ) {}

  cleanup(): void {
    if (this.onAbort !== undefined) this.signal!.removeEventListener('abort', this.onAbort);
  }
}

/** PendingCall.deadlineMs before the call is stamped. */
const unstampedMs = -Infinity;

/** Pending-call table size to start with; it doubles as calls pile up (up to twice pendingCallsMax). */
const slotsInitial = 64;

export class RpcClient<M extends MethodTable<any>> implements ResponseSink {
  /**
   * Pending calls by `callId & slotMask`: an array lookup instead of a Map.
   * Ids are handed out in order, skipping ids whose slot is taken (a slow call
   * still holds it), and the table is kept at most half full, so a free slot
   * is always near. Growing keeps every pending call's slot distinct: ids with
   * distinct low bits also differ in more low bits.
   */
  private slots: (PendingCall | undefined)[] = newSlots(slotsInitial);
  private slotMask = slotsInitial - 1;
  private pendingCount = 0;
  /** The method called last (a Map lookup saved per call in the common case). */
  private lastMethodName: string | undefined = undefined;
  private lastMethod: MethodEntry | undefined = undefined;
  private nextCallId = 0;
  private readonly pendingCallsMax: number;
  private readonly defaultTimeoutMs: number | undefined;

  /*
   * Timeouts. A call with a timeout costs no timer and no list work: one timer
   * per client is armed for the earliest deadline, and when it fires it scans
   * the pending-call table (small: about the calls in flight) for what expired
   * and re-arms for the next. With the usual single timeout per client it
   * fires about once per timeout period, whatever the call rate: a timer set
   * and cleared per call would cost more than the rest of the call.
   *
   * Nor does each call read the clock, a visible share of a call's cost: calls
   * are stamped `now + timeoutMs` together by a microtask queued by the first
   * of them, after the synchronous stretch that made them, so a deadline is
   * counted from about when the request leaves for the kernel, never from
   * before the call was made: a call may time out a little late (by the
   * stretch of synchronous code it was made in), never early.
   */
  private readonly clock: Clock;
  private timer: Timer | undefined = undefined;
  private timerAtMs = Infinity;
  private stampScheduled = false;
  /** The first call id made since the last stamp. */
  private stampFromCallId = 0;
  private readonly stampDeadlines = (): void => this.stamp();
  private readonly onTimer = (): void => this.expire();

  constructor(
    readonly connection: Connection<any>,
    private readonly methods: M,
    options: RpcClientOptions = {},
  ) {
    this.pendingCallsMax = options.pendingCallsMax ?? 1024;
    this.defaultTimeoutMs = options.timeoutMs;
    this.clock = options.clock ?? connection.clock;
    connection.attachResponseSink(this);
  }

  /** Calls waiting for an answer. */
  get pendingCalls(): number {
    return this.pendingCount;
  }

  /**
   * Call `method` and wait for its answer. Rejects with RemoteError (the
   * handler's code, message and details), NetTimeoutError, NetAbortedError,
   * TooManyPendingCallsError, ConnectionClosedError (also when the connection
   * is lost while waiting), or DecodeError (a malformed answer).
   */
  call<K extends MethodName<M>>(method: K, request: RequestOf<M, K>, options?: CallOptions): Promise<ResponseOf<M, K>> {
    let entry = method === this.lastMethodName ? this.lastMethod : undefined;
    if (entry === undefined) {
      entry = this.methods.byName.get(method);
      if (entry === undefined) return Promise.reject(new TypeError(`unknown method ${method}`));
      this.lastMethodName = method;
      this.lastMethod = entry;
    }
    if (this.pendingCount >= this.pendingCallsMax) return Promise.reject(new TooManyPendingCallsError(this.pendingCallsMax));
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(new NetAbortedError(`call ${method} aborted`, { cause: signal.reason }));
    if ((this.pendingCount + 1) * 2 > this.slots.length) this.growSlots();
    const slots = this.slots;
    const mask = this.slotMask;
    let callId = this.nextCallId;
    while (slots[callId & mask] !== undefined) callId = (callId + 1) >>> 0;
    this.nextCallId = (callId + 1) >>> 0;
    try {
      this.connection.enqueueFrame(FrameKind.Request, callId, entry.id, request);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    // A closure executor: V8 inlines it into the call.
    let resolve!: (value: ResponseOf<M, K>) => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<ResponseOf<M, K>>((resolveCall, rejectCall) => {
      resolve = resolveCall;
      reject = rejectCall;
    });
    const call = new PendingCall(callId, entry, resolve, reject);
    slots[callId & mask] = call;
    this.pendingCount++;
    const timeoutMs = options?.timeoutMs ?? this.defaultTimeoutMs;
    if (timeoutMs !== undefined) {
      call.timeoutMs = timeoutMs > 0 ? timeoutMs : 0;
      if (!this.stampScheduled) {
        this.stampScheduled = true;
        this.stampFromCallId = callId;
        queueMicrotask(this.stampDeadlines);
      }
    }
    if (signal !== undefined) {
      call.signal = signal;
      call.onAbort = () => this.abandon(callId, new NetAbortedError(`call ${method} aborted`, { cause: signal.reason }));
      signal.addEventListener('abort', call.onAbort, { once: true });
    }
    return promise;
  }

  private growSlots(): void {
    const old = this.slots;
    const slots = newSlots(old.length * 2);
    const mask = slots.length - 1;
    for (const call of old) if (call !== undefined) slots[call.callId & mask] = call;
    this.slots = slots;
    this.slotMask = mask;
  }

  /** Remove and return the pending call `callId` (undefined if it is not pending: timed out, cancelled). */
  private take(callId: number): PendingCall | undefined {
    const slot = callId & this.slotMask;
    const call = this.slots[slot];
    if (call === undefined || call.callId !== callId) return undefined;
    this.slots[slot] = undefined;
    this.pendingCount--;
    call.cleanup();
    return call;
  }

  /** Give every call made since the last stamp its deadline (see the timeout comment above). */
  private stamp(): void {
    this.stampScheduled = false;
    const nowMs = this.clock.monotonicMs();
    const slots = this.slots;
    const mask = this.slotMask;
    const end = this.nextCallId;
    let earliestMs = Infinity;
    for (let callId = this.stampFromCallId; callId !== end; callId = (callId + 1) >>> 0) {
      const call = slots[callId & mask];
      if (call === undefined || call.callId !== callId || call.timeoutMs < 0 || call.deadlineMs !== unstampedMs) continue;
      const deadlineMs = nowMs + call.timeoutMs;
      call.deadlineMs = deadlineMs;
      if (deadlineMs < earliestMs) earliestMs = deadlineMs;
    }
    if (earliestMs < this.timerAtMs) this.arm(earliestMs, nowMs);
  }

  private arm(atMs: number, nowMs: number): void {
    this.timer?.cancel();
    this.timerAtMs = atMs;
    // A pending call's open connection already keeps the process alive; the timer need not.
    this.timer = this.clock.setTimer(atMs - nowMs, this.onTimer, { keepsProcessAlive: false });
  }

  /** The timer fired: fail the calls whose deadline passed, re-arm for the next. */
  private expire(): void {
    this.timer = undefined;
    this.timerAtMs = Infinity;
    const nowMs = this.clock.monotonicMs();
    let expired: PendingCall[] | undefined;
    let earliestMs = Infinity;
    for (const call of this.slots) {
      if (call === undefined || call.deadlineMs === unstampedMs) continue; // (Unstamped calls are stamped before timers run.)
      if (call.deadlineMs <= nowMs) (expired ??= []).push(call);
      else if (call.deadlineMs < earliestMs) earliestMs = call.deadlineMs;
    }
    if (expired !== undefined) {
      for (const call of expired.sort(olderFirst)) {
        this.abandon(
          call.callId,
          new NetTimeoutError(`call ${call.method.name} to ${this.connection.remoteAddress} timed out after ${call.timeoutMs} ms`),
        );
      }
    }
    if (earliestMs < this.timerAtMs) this.arm(earliestMs, nowMs);
  }

  /** Give up on a call: reject it and tell the server, which aborts the handler's signal. */
  private abandon(callId: number, error: Error): void {
    const call = this.take(callId);
    if (call === undefined) return;
    call.reject(error);
    try {
      this.connection.enqueueFrame(FrameKind.Cancel, callId, 0, noBody);
    } catch {
      // Closed or full: the server finds out when the connection goes away.
    }
  }

  /** Internal: an answer arrived. */
  onResponse(kind: typeof FrameKind.Response | typeof FrameKind.Error, callId: number, bytes: Buffer, start: number, end: number): void {
    const call = this.take(callId);
    if (call === undefined) return; // Timed out or cancelled before the answer came: ignore it.
    const method = call.method;
    let value: unknown;
    try {
      value = unpackBody(bytes, kind === FrameKind.Response ? method.responseLabel : method.errorLabel, start, end);
    } catch (error) {
      call.reject(error as Error);
      throw error; // Garbage from the server: the connection closes too.
    }
    if (kind === FrameKind.Response) {
      if (method.response.is(value)) call.resolve(value);
      else {
        const error = schemaError(method.responseLabel, method.response, value);
        call.reject(error);
        throw error;
      }
    } else if (wireErrorSchema.is(value)) {
      call.reject(new RemoteError(method.name, value.code, value.message, value.details));
    } else {
      const error: DecodeError = schemaError(method.errorLabel, wireErrorSchema, value);
      call.reject(error);
      throw error;
    }
  }

  /** Internal: the connection closed; every pending call fails. */
  onConnectionClosed(error: Error | undefined): void {
    const calls = this.slots.filter((call): call is PendingCall => call !== undefined).sort(olderFirst);
    this.slots = newSlots(slotsInitial);
    this.slotMask = slotsInitial - 1;
    this.pendingCount = 0;
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAtMs = Infinity;
    for (const call of calls) {
      call.cleanup();
      call.reject(
        new ConnectionClosedError(`connection to ${this.connection.remoteAddress} closed during call ${call.method.name}`, {
          cause: error,
        }),
      );
    }
  }
}

function newSlots(length: number): (PendingCall | undefined)[] {
  return Array.from({ length }, () => undefined);
}

/** Calls in the order they were made (ids wrap at 2^32: compare by distance). */
function olderFirst(a: PendingCall, b: PendingCall): number {
  return ((a.callId - b.callId) | 0);
}
