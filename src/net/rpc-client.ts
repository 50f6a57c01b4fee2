/**
 * The calling side of RPC over one Connection: request ids, many calls in
 * flight (pipelining), answers matched by id in whatever order they come.
 */
import { FrameKind, noBody, unpackBody } from './codec.js';
import type { Connection, ResponseSink } from './connection.js';
import { schemaError } from './connection.js';
import {
  AbortedError,
  ConnectionClosedError,
  DecodeError,
  RemoteError,
  TimeoutError,
  TooManyPendingCallsError,
} from './errors.js';
import type { MethodEntry, MethodName, MethodTable, RequestOf, ResponseOf } from './messages.js';
import { s } from './schema.js';

export interface CallOptions {
  /** Reject with TimeoutError (and tell the server to cancel) after this long. */
  readonly timeoutMs?: number;
  /** Aborting rejects with AbortedError and tells the server to cancel. */
  readonly signal?: AbortSignal;
}

export interface RpcClientOptions {
  /** Calls that may wait for an answer at once; one more is a TooManyPendingCallsError (default 1024). */
  readonly pendingCallsMax?: number;
  /** Timeout for calls that do not give their own (default: none). */
  readonly timeoutMs?: number;
}

/** The body of an Error frame. */
export const wireErrorSchema = s.object({ code: s.string(), message: s.string(), details: s.optional(s.unknown()) });

class PendingCall {
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  // Membership in a DeadlineList (see there).
  deadlineMs = 0;
  list: DeadlineList | undefined = undefined;
  previous: PendingCall | undefined = undefined;
  next: PendingCall | undefined = undefined;
  constructor(
    readonly callId: number,
    readonly method: MethodEntry,
    readonly resolve: (value: any) => void,
    readonly reject: (error: Error) => void,
  ) {}

  cleanup(): void {
    this.list?.remove(this);
    if (this.onAbort !== undefined) this.signal!.removeEventListener('abort', this.onAbort);
  }
}

/**
 * The calls that share one `timeoutMs`, oldest first. Their deadlines are
 * therefore in order, so one timer armed for the head serves them all: adding
 * and removing a call is O(1) pointer work, with no timer object per call (a
 * setTimeout + clearTimeout pair per call costs more than the rest of a call).
 */
class DeadlineList {
  head: PendingCall | undefined = undefined;
  tail: PendingCall | undefined = undefined;
  private timer: NodeJS.Timeout | undefined = undefined;
  constructor(
    private readonly onExpired: (call: PendingCall) => void,
    private readonly onEmpty: (list: DeadlineList) => void,
  ) {}

  add(call: PendingCall, deadlineMs: number): void {
    call.deadlineMs = deadlineMs;
    call.list = this;
    call.previous = this.tail;
    if (this.tail === undefined) this.head = call;
    else this.tail.next = call;
    this.tail = call;
    if (this.timer === undefined) this.arm(deadlineMs - Date.now());
  }

  remove(call: PendingCall): void {
    if (call.previous === undefined) this.head = call.next;
    else call.previous.next = call.next;
    if (call.next === undefined) this.tail = call.previous;
    else call.next.previous = call.previous;
    call.list = call.previous = call.next = undefined;
    // The timer stays armed even when the list empties: it fires at most once per
    // timeout, which is cheaper than clearing and re-arming it around every call.
  }

  private arm(delayMs: number): void {
    // Unref'd: a pending call's open connection already keeps the process alive.
    this.timer = setTimeout(() => this.fire(), Math.max(0, delayMs)).unref();
  }

  private fire(): void {
    this.timer = undefined;
    const now = Date.now();
    let call = this.head;
    while (call !== undefined && call.deadlineMs <= now) {
      this.onExpired(call); // Removes it from this list.
      call = this.head;
    }
    if (this.head === undefined) this.onEmpty(this);
    else if (this.timer === undefined) this.arm(this.head.deadlineMs - now);
  }
}

export class RpcClient<M extends MethodTable<any>> implements ResponseSink {
  private readonly pending = new Map<number, PendingCall>();
  private readonly deadlineLists = new Map<number, DeadlineList>();
  private nextCallId = 0;
  private readonly pendingCallsMax: number;
  private readonly defaultTimeoutMs: number | undefined;

  constructor(
    readonly connection: Connection<any>,
    private readonly methods: M,
    options: RpcClientOptions = {},
  ) {
    this.pendingCallsMax = options.pendingCallsMax ?? 1024;
    this.defaultTimeoutMs = options.timeoutMs;
    connection.attachResponseSink(this);
  }

  /** Calls waiting for an answer. */
  get pendingCalls(): number {
    return this.pending.size;
  }

  /**
   * Call `method` and wait for its answer. Rejects with RemoteError (the
   * handler's code, message and details), TimeoutError, AbortedError,
   * TooManyPendingCallsError, ConnectionClosedError (also when the connection
   * is lost while waiting), or DecodeError (a malformed answer).
   */
  call<K extends MethodName<M>>(method: K, request: RequestOf<M, K>, options?: CallOptions): Promise<ResponseOf<M, K>> {
    const entry = this.methods.byName.get(method);
    if (entry === undefined) return Promise.reject(new TypeError(`unknown method ${method}`));
    if (this.pending.size >= this.pendingCallsMax) return Promise.reject(new TooManyPendingCallsError(this.pendingCallsMax));
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(new AbortedError(`call ${method} aborted`, { cause: signal.reason }));
    let callId = this.nextCallId;
    while (this.pending.has(callId)) callId = (callId + 1) >>> 0;
    this.nextCallId = (callId + 1) >>> 0;
    return new Promise<ResponseOf<M, K>>((resolve, reject) => {
      try {
        this.connection.enqueueFrame(FrameKind.Request, callId, entry.id, request);
      } catch (error) {
        reject(error as Error);
        return;
      }
      const call = new PendingCall(callId, entry, resolve, reject);
      this.pending.set(callId, call);
      const timeoutMs = options?.timeoutMs ?? this.defaultTimeoutMs;
      if (timeoutMs !== undefined) this.deadlineList(timeoutMs).add(call, Date.now() + timeoutMs);
      if (signal !== undefined) {
        call.signal = signal;
        call.onAbort = () => this.abandon(callId, new AbortedError(`call ${method} aborted`, { cause: signal.reason }));
        signal.addEventListener('abort', call.onAbort, { once: true });
      }
    });
  }

  private deadlineList(timeoutMs: number): DeadlineList {
    let list = this.deadlineLists.get(timeoutMs);
    if (list === undefined) {
      list = new DeadlineList(
        (call) =>
          this.abandon(
            call.callId,
            new TimeoutError(`call ${call.method.name} to ${this.connection.remoteAddress} timed out after ${timeoutMs} ms`),
          ),
        // Forget lists that went quiet, so callers passing ever-different timeouts
        // (a remaining budget, say) do not grow this map.
        (empty) => {
          if (this.deadlineLists.get(timeoutMs) === empty) this.deadlineLists.delete(timeoutMs);
        },
      );
      this.deadlineLists.set(timeoutMs, list);
    }
    return list;
  }

  /** Give up on a call: reject it and tell the server, which aborts the handler's signal. */
  private abandon(callId: number, error: Error): void {
    const call = this.pending.get(callId);
    if (call === undefined) return;
    this.pending.delete(callId);
    call.cleanup();
    call.reject(error);
    try {
      this.connection.enqueueFrame(FrameKind.Cancel, callId, 0, noBody);
    } catch {
      // Closed or full: the server finds out when the connection goes away.
    }
  }

  /** Internal: an answer arrived. */
  onResponse(kind: typeof FrameKind.Response | typeof FrameKind.Error, callId: number, bytes: Buffer, start: number, end: number): void {
    const call = this.pending.get(callId);
    if (call === undefined) return; // Timed out or cancelled before the answer came: ignore it.
    this.pending.delete(callId);
    call.cleanup();
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
    const calls = [...this.pending.values()];
    this.pending.clear();
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
