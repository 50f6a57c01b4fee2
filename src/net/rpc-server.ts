/**
 * The answering side of RPC. One RpcServer (methods + handlers) serves any
 * number of connections: `listen(address, { onConnection: (c) => rpc.serve(c) })`.
 *
 * A handler's thrown ConcordError reaches the caller as a RemoteError with the
 * same `code`, `message` and `details` (a `details` property on the error, e.g.
 * a leader hint). Anything else thrown is a bug: it is logged and the caller
 * gets CONCORD_ERR_INTERNAL with the message only.
 *
 * Bounds per connection: at most `inflightRequestsMax` handlers run at once,
 * and while answers cannot be handed to the kernel (the caller does not read
 * them) no further requests are read. Either way the socket is paused, so a
 * caller that floods or never reads costs a bounded amount of memory.
 */
import { ConcordError } from '../common/errors.js';
import { FrameKind, unpackBody } from './codec.js';
import type { Connection, RequestSink } from './connection.js';
import { ConnectionState, schemaError } from './connection.js';
import { NetAbortedError, internalErrorCode, unknownMethodCode } from './errors.js';
import { errorFields, silentLogger, type Logger } from '../common/logger.js';
import type { MethodEntry, MethodName, MethodTable, RequestOf, ResponseOf } from './messages.js';

export interface CallContext {
  readonly method: string;
  readonly connection: Connection<any>;
  /** Aborted when the caller gives up (timeout, abort) or the connection closes. */
  readonly signal: AbortSignal;
}

export type Handler<Req, Res> = (request: Req, context: CallContext) => Res | Promise<Res>;

export type Handlers<M extends MethodTable<any>> = {
  [K in MethodName<M>]: Handler<RequestOf<M, K>, ResponseOf<M, K>>;
};

export interface RpcServerOptions {
  /**
   * Handlers running at once per connection before reading pauses (default 256).
   * With the answer backlog bound, a connection's answers in memory are at most
   * about this many answers plus 64 KiB.
   */
  readonly inflightRequestsMax?: number;
  readonly logger?: Logger;
}

export class RpcServer<M extends MethodTable<any>> {
  /** Internal: handler per method id. */
  readonly handlerById: (Handler<any, any> | undefined)[] = [];
  readonly inflightRequestsMax: number;
  readonly logger: Logger;

  constructor(
    readonly methods: M,
    handlers: Handlers<M>,
    options: RpcServerOptions = {},
  ) {
    for (const [name, handler] of Object.entries(handlers as Record<string, Handler<any, any>>)) {
      const entry = methods.byName.get(name);
      if (entry === undefined) throw new TypeError(`handler for unknown method ${name}`);
      this.handlerById[entry.id] = handler;
    }
    this.inflightRequestsMax = options.inflightRequestsMax ?? 256;
    this.logger = options.logger ?? silentLogger;
  }

  /** Answer requests arriving on `connection` (it can also make calls and carry messages). */
  serve(connection: Connection<any>): void {
    connection.attachRequestSink(new ServedConnection(this, connection));
  }
}

class ServerCall implements CallContext {
  private controller: AbortController | undefined = undefined;
  /** Set once answered, cancelled or orphaned by a closed connection: nothing more is sent for it. */
  done = false;
  constructor(
    readonly method: string,
    readonly callId: number,
    private readonly served: ServedConnection,
  ) {}
  get connection(): Connection<any> {
    return this.served.connection;
  }
  /**
   * Made on first use: most handlers never look at it, and an AbortController
   * (plus tracking the call for Cancel frames) per call is not free.
   */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      const served = this.served;
      if (this.done) this.controller.abort(new NetAbortedError('the call is over'));
      else if (served.closed) this.abort('the connection closed');
      else if (served.takeCancelled(this.callId)) {
        // Cancelled before its handler looked: as onCancel does for tracked calls.
        served.handlerDone();
        this.abort('the caller cancelled the call');
      } else served.track(this);
    }
    return this.controller.signal;
  }
  abort(reason: string): void {
    this.done = true;
    this.controller?.abort(new NetAbortedError(reason));
  }
}

class ServedConnection implements RequestSink {
  private inflight = 0;
  /** Running calls whose handler asked for its signal, by call id (for Cancel frames and close). */
  private tracked: Map<number, ServerCall> | undefined;
  /**
   * Ids of Cancel frames that matched no tracked call: the call may still be
   * running with a handler that has not looked at its signal yet, and must see
   * it aborted when it does. Ids of calls that had already finished (a Cancel
   * crossing the answer) are stale: forgotten when a new call reuses the id,
   * when no handler is running, or (bound) when there are more than
   * 2 x inflightRequestsMax of them.
   */
  private cancelled: Set<number> | undefined;
  /** Set once the connection closed: a handler that looks at its signal later sees it aborted. */
  closed = false;
  /** Reading is paused because inflightRequestsMax handlers run. */
  private busy = false;
  private readonly entryById: readonly (MethodEntry | undefined)[];
  private readonly handlerById: readonly (Handler<any, any> | undefined)[];

  constructor(
    private readonly server: RpcServer<any>,
    readonly connection: Connection<any>,
  ) {
    this.entryById = server.methods.byId;
    this.handlerById = server.handlerById;
  }

  track(call: ServerCall): void {
    (this.tracked ??= new Map()).set(call.callId, call);
  }

  /** True (once) if a Cancel came for `callId` before its handler looked at the signal. */
  takeCancelled(callId: number): boolean {
    return this.cancelled !== undefined && this.cancelled.delete(callId);
  }

  onRequest(callId: number, methodId: number, bytes: Buffer, start: number, end: number): void {
    const entry = this.entryById[methodId];
    const handler = this.handlerById[methodId];
    if (this.cancelled !== undefined) this.cancelled.delete(callId); // A Cancel for an earlier use of this id is stale.
    if (entry === undefined || handler === undefined) {
      // Well-framed but unknown: a newer client, say. Answer, and keep the connection.
      this.replyError(callId, unknownMethodCode, `unknown method id ${methodId}`, undefined);
      return;
    }
    const request = unpackBody(bytes, entry.requestLabel, start, end);
    if (!entry.request.is(request)) {
      // The wrong shape: tell the caller why, then close (logged once by the connection).
      const error = schemaError(entry.requestLabel, entry.request, request);
      this.replyError(callId, error.code, error.message, undefined);
      this.connection.failWithBadInput(error, true);
      return;
    }
    const call = new ServerCall(entry.name, callId, this);
    if (++this.inflight >= this.server.inflightRequestsMax && !this.busy) {
      this.busy = true;
      this.connection.setHandlersBusy(true);
    }
    let result: unknown;
    try {
      result = handler(request, call);
    } catch (error) {
      this.finish(call, undefined, error);
      return;
    }
    if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
      (result as Promise<unknown>).then(
        (value) => this.finish(call, value, undefined),
        (error: unknown) => this.finish(call, undefined, error ?? new Error('handler rejected')),
      );
    } else {
      this.finish(call, result, undefined);
    }
  }

  private finish(call: ServerCall, value: unknown, error: unknown): void {
    if (call.done) return; // Cancelled, or the connection closed.
    call.done = true;
    if (this.tracked !== undefined) this.tracked.delete(call.callId);
    if (this.cancelled !== undefined) this.cancelled.delete(call.callId);
    this.handlerDone();
    if (this.connection.state !== ConnectionState.Open) return;
    if (error === undefined) {
      try {
        this.connection.enqueueFrame(FrameKind.Response, call.callId, 0, value);
        return;
      } catch (sendError) {
        error = sendError; // E.g. the answer exceeds frameBytesMax: the caller gets that error instead.
      }
    }
    if (error instanceof ConcordError) {
      this.replyError(call.callId, error.code, error.message, (error as { details?: unknown }).details);
    } else {
      this.server.logger.warn(
        { remoteAddress: this.connection.remoteAddress, method: call.method, err: errorFields(error) },
        'RPC handler failed with a non-Concord error',
      );
      this.replyError(call.callId, internalErrorCode, error instanceof Error ? error.message : String(error), undefined);
    }
  }

  handlerDone(): void {
    if (--this.inflight === 0) this.cancelled = undefined; // No call runs: every remembered Cancel is stale.
    if (this.busy && this.inflight <= this.server.inflightRequestsMax >> 1) {
      this.busy = false;
      this.connection.setHandlersBusy(false);
    }
  }

  private replyError(callId: number, code: string, message: string, details: unknown): void {
    try {
      try {
        this.connection.enqueueFrame(FrameKind.Error, callId, 0, details === undefined ? { code, message } : { code, message, details });
      } catch (error) {
        if (!(error instanceof TypeError) || details === undefined) throw error;
        this.connection.enqueueFrame(FrameKind.Error, callId, 0, { code, message }); // Details that do not encode are left out.
      }
    } catch (error) {
      // The answer cannot even be queued (the caller does not read, or the connection is going away).
      this.server.logger.warn(
        { remoteAddress: this.connection.remoteAddress, err: errorFields(error) },
        'cannot answer a call; closing connection',
      );
      this.connection.destroy(error as Error);
    }
  }

  onCancel(callId: number): void {
    // Only calls whose handler watches its signal are tracked; for the others the
    // answer is simply ignored by the caller when it comes, but a handler that
    // looks at its signal later must find it aborted (see `cancelled`).
    const call = this.tracked?.get(callId);
    if (call === undefined) {
      if (this.inflight === 0) return; // Nothing runs: the call is over.
      const cancelled = (this.cancelled ??= new Set());
      if (cancelled.size >= 2 * this.server.inflightRequestsMax) cancelled.clear();
      cancelled.add(callId);
      return;
    }
    this.tracked!.delete(callId);
    this.handlerDone();
    call.abort('the caller cancelled the call');
  }

  onConnectionClosed(): void {
    this.closed = true;
    this.cancelled = undefined;
    const calls = this.tracked === undefined ? [] : [...this.tracked.values()];
    this.tracked = undefined;
    for (const call of calls) call.abort('the connection closed');
  }
}

