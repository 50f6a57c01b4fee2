/**
 * A Connection carries typed messages (and, through RpcClient/RpcServer, RPC
 * frames) over one byte stream of any transport.
 *
 * Sending is its FrameWriter's job (frame-writer.ts): frames queued during one
 * event-loop turn leave in one syscall; while the socket pushes back they wait
 * for 'drain', up to `sendQueueBytesMax`. An RPC server reads no requests
 * while the writer is `blocked`.
 *
 * Receiving: either push mode (`setMessageHandler`) or pull mode (`receive()`
 * / `for await`). In pull mode at most `receiveQueueMessagesMax` messages wait
 * (plus what one read chunk held); then the socket is paused, so a slow reader
 * makes the sender's writes block instead of growing our memory.
 *
 * Bad input (a frame over `frameBytesMax`, garbage, unknown ids, a body of the
 * wrong shape) is logged once with the remote address and closes this one
 * connection; the error is what pending operations see as `cause`.
 */
import type { Clock, Timer } from '../common/clock.js';
import { assert } from '../common/errors.js';
import { errorFields, silentLogger, type Logger } from '../common/logger.js';
import { systemClock } from '../common/system-clock.js';
import {
  FrameKind,
  lengthPrefixBytes,
  messageHeaderBytes,
  responseHeaderBytes,
  requestHeaderBytes,
  unpackBody,
  type Body,
} from './codec.js';
import { NetAbortedError, ConnectionClosedError, DecodeError, IdleTimeoutError, NetTimeoutError, UnknownMessageError } from './errors.js';
import { InboundGuard, type BoundsLogs, type InboundBoundsOptions, type InboundGuardOptions } from './inbound-guard.js';
export type { BoundsLogs, InboundBoundsOptions };
import { Fifo } from './fifo.js';
import { FrameDecoder, frameBytesMaxDefault } from './frame-decoder.js';
import { FrameWriter, type SendWaiter } from './frame-writer.js';
import type { MessageOf, MessageTable } from './messages.js';
import { noMessages } from './messages.js';
import type { Schema } from './schema.js';
import { peerIdentityOf, type ByteSocket, type PeerIdentity } from './transport.js';

export interface ConnectionOptions<T extends MessageTable<any> = MessageTable<{}>> extends InboundBoundsOptions {
  /** The one-way messages this connection may carry (default: none, RPC only). */
  readonly messages?: T;
  /** Largest frame accepted or sent (default 16 MiB). */
  readonly frameBytesMax?: number;
  /** Bytes that may wait to be handed to the kernel before send fails (default 64 MiB; at least frameBytesMax). */
  readonly sendQueueBytesMax?: number;
  /** Pull mode: received messages that may wait for `receive()` before reading pauses (default 1024). */
  readonly receiveQueueMessagesMax?: number;
  /** Close the connection with IdleTimeoutError after this long with no traffic either way (default: never). */
  readonly idleTimeoutMs?: number;
  /** TCP/TLS keepalive probes after this long idle (default: off). */
  readonly keepAliveMs?: number;
  /** How long a graceful close() waits for the peer before destroying (default 5000 ms). */
  readonly closeTimeoutMs?: number;
  readonly logger?: Logger;
  /** Timers (receive timeouts, the close timeout) and, for RpcClients on this connection, call deadlines (default: the system clock). */
  readonly clock?: Clock;
}

/** Options after defaults, shared by every connection of one listener (one object, not one per connection). */
export interface ResolvedConnectionOptions<T extends MessageTable<any>> extends InboundGuardOptions {
  readonly messages: T;
  readonly frameBytesMax: number;
  readonly sendQueueBytesMax: number;
  readonly receiveQueueMessagesMax: number;
  readonly idleTimeoutMs: number;
  readonly keepAliveMs: number;
  readonly closeTimeoutMs: number;
  readonly logger: Logger;
  readonly clock: Clock;
}


export function resolveConnectionOptions<T extends MessageTable<any>>(options: ConnectionOptions<T>): ResolvedConnectionOptions<T> {
  const frameBytesMax = options.frameBytesMax ?? frameBytesMaxDefault;
  return {
    messages: options.messages ?? (noMessages as unknown as T),
    frameBytesMax,
    sendQueueBytesMax: Math.max(options.sendQueueBytesMax ?? 64 * 1024 * 1024, frameBytesMax + lengthPrefixBytes),
    receiveQueueMessagesMax: options.receiveQueueMessagesMax ?? 1024,
    idleTimeoutMs: options.idleTimeoutMs ?? 0,
    keepAliveMs: options.keepAliveMs ?? 0,
    closeTimeoutMs: options.closeTimeoutMs ?? 5000,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 0,
    receiveRateMinBytesPerSec: options.receiveRateMinBytesPerSec ?? 0,
    receiveRateGraceMs: options.receiveRateGraceMs ?? 2000,
    inboundBudget: options.inboundBudget,
    boundsLogs: undefined,
    logger: options.logger ?? silentLogger,
    clock: options.clock ?? systemClock,
  };
}

export const ConnectionState = {
  Open: 'open',
  /** close() was called: flushing, then waiting for the peer to close. */
  Closing: 'closing',
  Closed: 'closed',
} as const;
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

/** Why reading is paused; reading resumes when no reason is left. */
const PauseReason = {
  User: 1,
  ReceiveQueueFull: 2,
  SendBlocked: 4,
  HandlersBusy: 8,
} as const;
type PauseReason = (typeof PauseReason)[keyof typeof PauseReason];

interface Reader<M> {
  resolve(message: M): void;
  reject(error: Error): void;
}

/** Receives RPC request frames (implemented by RpcServer). Internal. */
export interface RequestSink {
  onRequest(callId: number, methodId: number, bytes: Buffer, start: number, end: number): void;
  onCancel(callId: number): void;
  onConnectionClosed(error: Error | undefined): void;
}

/** Receives RPC answers (implemented by RpcClient). Internal. */
export interface ResponseSink {
  onResponse(kind: typeof FrameKind.Response | typeof FrameKind.Error, callId: number, bytes: Buffer, start: number, end: number): void;
  onConnectionClosed(error: Error | undefined): void;
}

export type MessageHandler<T extends MessageTable<any>> = (message: MessageOf<T>, connection: Connection<T>) => void;

export class Connection<T extends MessageTable<any> = MessageTable<{}>> implements AsyncIterable<MessageOf<T>> {
  /** The peer, for logs: `tcp://10.0.0.2:51234`, `unix:///run/concord.sock#3`, `mem://name#1s`. */
  readonly remoteAddress: string;
  /** Who the other end proved to be by a verified TLS certificate (CN, DNS SANs); null without one. Servers authorize frames against it. */
  readonly peerIdentity: PeerIdentity | null;
  private readonly options: ResolvedConnectionOptions<T>;
  private readonly socket: ByteSocket;
  private readonly decoder: FrameDecoder;
  private stateValue: ConnectionState = ConnectionState.Open;
  private closeError: Error | undefined;
  /** Bytes read from the socket since the connection opened (peer traffic metrics). Only the reader adds to it. */
  receivedBytes = 0;

  private readonly writer: FrameWriter;

  // Receiving.
  private pauseReasons = 0;
  private messageHandler: MessageHandler<T> | undefined;
  private inbox: Fifo<MessageOf<T>> | undefined;
  private readers: Fifo<Reader<MessageOf<T>>> | undefined;
  private requestSink: RequestSink | undefined;
  private responseSink: ResponseSink | undefined;

  private closeListeners: ((error: Error | undefined) => void)[] | undefined;
  private closedPromise: Promise<void> | undefined;
  private closeTimer: Timer | undefined;

  /** Inbound bounds (listener side): handshake timeout, receive rate, partial-frame budget. */
  private readonly guard: InboundGuard;

  /** Internal: made by listen() and connect(). */
  constructor(socket: ByteSocket, remoteAddress: string, options: ResolvedConnectionOptions<T>) {
    this.socket = socket;
    this.remoteAddress = remoteAddress;
    this.peerIdentity = peerIdentityOf(socket);
    this.options = options;
    // While the writer is blocked an RPC server reads no requests (each would add an answer).
    this.writer = new FrameWriter(socket, remoteAddress, options, (blocked) => {
      if (this.requestSink === undefined) return;
      if (blocked) this.pause(PauseReason.SendBlocked);
      else this.unpause(PauseReason.SendBlocked);
    });
    this.guard = new InboundGuard(options, {
      remoteAddress,
      bufferedBytes: () => this.decoder.bufferedBytes,
      partialFrameBytes: () => this.decoder.partialFrameBytes,
      reading: () => this.pauseReasons === 0 && !this.decoder.holding,
      closed: () => this.stateValue === ConnectionState.Closed,
      destroy: (error) => this.destroy(error),
    });
    this.decoder = new FrameDecoder(options.frameBytesMax, (bytes, start, end) => {
      this.guard.onFrame();
      this.dispatch(bytes, start, end);
      // Paused by this frame (a full queue, too much to answer): decode no further for now.
      return this.pauseReasons === 0;
    });
    socket.on('data', (chunk: Buffer) => {
      this.receivedBytes += chunk.length;
      try {
        this.decoder.push(chunk);
      } catch (error) {
        this.failWithBadInput(error as Error);
        return;
      }
      this.guard.afterRead();
    });
    socket.on('error', (error: Error) => {
      this.closeError ??= error;
    });
    socket.on('close', () => this.finish());
    if (options.idleTimeoutMs > 0) {
      // The socket watches for traffic itself (no clock read per read or write); a simulated transport keeps its own time.
      socket.setTimeout(options.idleTimeoutMs);
      socket.on('timeout', () => {
        const error = new IdleTimeoutError(options.idleTimeoutMs);
        const fields = { remoteAddress: this.remoteAddress, err: errorFields(error), partialFrameBytes: this.decoder.bufferedBytes };
        if (options.boundsLogs !== undefined) options.boundsLogs.idle.event(fields);
        else options.logger.warn(fields, 'closing idle connection');
        this.destroy(error);
      });
    }
    if (options.keepAliveMs > 0) socket.setKeepAlive(true, options.keepAliveMs);
  }

  /** The clock this connection's timers use (RpcClients on it default to it too). */
  get clock(): Clock {
    return this.options.clock;
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** Bytes handed to the socket since the connection opened (frames, headers included). */
  get sentBytes(): number {
    return this.writer.sentBytes;
  }

  /** Bytes accepted by send()/post() but not yet handed to the kernel. */
  get sendQueuedBytes(): number {
    return this.writer.queuedBytes;
  }

  /** True while this connection does not read from its socket (see the class comment). */
  get receivingPaused(): boolean {
    return this.pauseReasons !== 0;
  }

  /** Messages received and waiting for receive() (pull mode). */
  get receiveQueuedMessages(): number {
    return this.inbox?.length ?? 0;
  }

  /** The error the connection closed with, if it closed because of one. */
  get error(): Error | undefined {
    return this.closeError;
  }

  // ------------------------------------------------------------------ sending

  /**
   * Queue a message; resolves once its bytes are handed to the kernel.
   * Rejects with SendQueueFullError, FrameTooLargeError or ConnectionClosedError.
   */
  send(message: MessageOf<T>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      try {
        this.enqueueFrame(FrameKind.Message, 0, this.messageId(message), message.body, { resolve, reject });
      } catch (error) {
        reject(error);
      }
    });
  }

  /**
   * Queue a message without waiting (one-way, fire-and-forget: no promise is
   * made). Throws SendQueueFullError, FrameTooLargeError or ConnectionClosedError.
   */
  post(message: MessageOf<T>): void {
    this.enqueueFrame(FrameKind.Message, 0, this.messageId(message), message.body);
  }

  private messageId(message: MessageOf<T>): number {
    const entry = this.options.messages.byName.get(message.type);
    if (entry === undefined) throw new TypeError(`message type ${String(message.type)} is not in this connection's table`);
    return entry.id;
  }

  /**
   * Internal (also RPC): queue one frame of `kind` with `value` as its body
   * (`callId`, `id` as the kind's header needs). Throws, queueing nothing, on
   * a closed connection, a frame over frameBytesMax, a full send queue, or a
   * body that is not plain data.
   */
  enqueueFrame(kind: FrameKind, callId: number, id: number, value: Body, waiter?: SendWaiter): void {
    if (this.stateValue !== ConnectionState.Open) {
      throw new ConnectionClosedError(`connection to ${this.remoteAddress} is ${this.stateValue}`, { cause: this.closeError });
    }
    this.writer.enqueue(kind, callId, id, value, waiter);
  }

  /** Resolves when nothing is waiting to be handed to the kernel (immediately if nothing is). */
  drained(): Promise<void> {
    return this.writer.drained();
  }

  // ---------------------------------------------------------------- receiving

  private dispatch(bytes: Buffer, start: number, end: number): void {
    // After bad input the rest of the stream is not trusted (and not answered).
    if (this.stateValue === ConnectionState.Closed || this.closeError !== undefined) return;
    const length = end - start;
    if (length === 0) throw new DecodeError('empty frame');
    const kind = bytes[start];
    switch (kind) {
      case FrameKind.Message:
        return this.dispatchMessage(bytes, start, end);
      case FrameKind.Request: {
        if (length < requestHeaderBytes) throw new DecodeError('truncated request header');
        const callId = readU32(bytes, start + 1);
        const methodId = (bytes[start + 5]! << 8) | bytes[start + 6]!;
        if (this.requestSink === undefined) throw new DecodeError(`request for method id ${methodId}, but this endpoint serves no RPC`);
        return this.requestSink.onRequest(callId, methodId, bytes, start + requestHeaderBytes, end);
      }
      case FrameKind.Response:
      case FrameKind.Error: {
        if (length < responseHeaderBytes) throw new DecodeError('truncated response header');
        if (this.responseSink === undefined) throw new DecodeError('response frame, but this endpoint made no calls');
        return this.responseSink.onResponse(kind, readU32(bytes, start + 1), bytes, start + responseHeaderBytes, end);
      }
      case FrameKind.Cancel:
        if (length !== responseHeaderBytes) throw new DecodeError('malformed cancel frame');
        this.requestSink?.onCancel(readU32(bytes, start + 1));
        return;
      default:
        throw new DecodeError(`unknown frame kind ${kind}`);
    }
  }

  private dispatchMessage(bytes: Buffer, start: number, end: number): void {
    if (end - start < messageHeaderBytes) throw new DecodeError('truncated message header');
    const id = bytes.readUInt16BE(start + 1);
    const entry = this.options.messages.byId[id];
    if (entry === undefined) throw new UnknownMessageError(id);
    const value = unpackBody(bytes, entry.name, start + messageHeaderBytes, end);
    if (!entry.schema.is(value)) throw schemaError(entry.name, entry.schema, value);
    const message = { type: entry.name, body: value } as MessageOf<T>;
    const handler = this.messageHandler;
    if (handler !== undefined) {
      try {
        handler(message, this);
      } catch (error) {
        // A bug in the application's handler, not bad input: report it as such.
        this.options.logger.error({ remoteAddress: this.remoteAddress, err: errorFields(error) }, 'message handler threw; closing connection');
        this.destroy(error as Error);
      }
      return;
    }
    const reader = this.readers?.shift();
    if (reader !== undefined) {
      reader.resolve(message);
      return;
    }
    const inbox = (this.inbox ??= new Fifo());
    inbox.push(message);
    if (inbox.length >= this.options.receiveQueueMessagesMax) this.pause(PauseReason.ReceiveQueueFull);
  }

  /**
   * Push mode: deliver every message to `handler` as it arrives (messages
   * already queued for receive() are delivered first). `undefined` returns to
   * pull mode. A handler that throws closes the connection.
   */
  setMessageHandler(handler: MessageHandler<T> | undefined): void {
    this.messageHandler = handler;
    if (handler === undefined) return;
    const queued = this.inbox?.drain() ?? [];
    this.inbox = undefined;
    this.unpause(PauseReason.ReceiveQueueFull);
    for (const message of queued) {
      if (this.messageHandler !== handler) break;
      handler(message, this);
    }
  }

  /**
   * Pull mode: the next message. Rejects with ConnectionClosedError once the
   * connection is closed and no message is left (its `cause` says why), or
   * NetTimeoutError / NetAbortedError.
   */
  receive(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<MessageOf<T>> {
    const inbox = this.inbox;
    if (inbox !== undefined && inbox.length > 0) {
      const message = inbox.shift()!;
      if (inbox.length <= this.options.receiveQueueMessagesMax >> 1) this.unpause(PauseReason.ReceiveQueueFull);
      return Promise.resolve(message);
    }
    if (this.stateValue === ConnectionState.Closed) {
      return Promise.reject(new ConnectionClosedError(`connection to ${this.remoteAddress} closed`, { cause: this.closeError }));
    }
    if (options.signal?.aborted) return Promise.reject(new NetAbortedError('receive aborted', { cause: options.signal.reason }));
    return new Promise<MessageOf<T>>((resolve, reject) => {
      const readers = (this.readers ??= new Fifo());
      let timer: Timer | undefined;
      const signal = options.signal;
      const cleanup = () => {
        timer?.cancel();
        signal?.removeEventListener('abort', onAbort);
      };
      const reader: Reader<MessageOf<T>> = {
        resolve: (message) => {
          cleanup();
          resolve(message);
        },
        reject: (error) => {
          cleanup();
          reject(error);
        },
      };
      const onAbort = () => {
        readers.remove(reader);
        reader.reject(new NetAbortedError('receive aborted', { cause: signal?.reason }));
      };
      if (options.timeoutMs !== undefined) {
        timer = this.options.clock.setTimer(options.timeoutMs, () => {
          readers.remove(reader);
          reader.reject(new NetTimeoutError(`no message within ${options.timeoutMs} ms`));
        });
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      readers.push(reader);
    });
  }

  /**
   * Iterate over received messages. Ends when the connection closes cleanly;
   * throws ConnectionClosedError (with the reason as `cause`) when it closed
   * because of an error. Breaking out of the loop leaves the connection open.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<MessageOf<T>> {
    for (;;) {
      try {
        yield await this.receive();
      } catch (error) {
        if (error instanceof ConnectionClosedError && this.stateValue === ConnectionState.Closed && this.closeError === undefined) return;
        throw error;
      }
    }
  }

  /** Stop reading from the socket until resumeReceiving() (the peer's writes then block). */
  pauseReceiving(): void {
    this.pause(PauseReason.User);
  }

  resumeReceiving(): void {
    this.unpause(PauseReason.User);
  }

  /** Internal (RPC server): pause while `busy` (too many handlers running). */
  setHandlersBusy(busy: boolean): void {
    if (busy) this.pause(PauseReason.HandlersBusy);
    else this.unpause(PauseReason.HandlersBusy);
  }

  private pause(reason: PauseReason): void {
    if (this.pauseReasons === 0 && this.stateValue !== ConnectionState.Closed) this.socket.pause();
    this.pauseReasons |= reason;
  }

  private unpause(reason: PauseReason): void {
    if ((this.pauseReasons & reason) === 0) return;
    this.pauseReasons &= ~reason;
    if (this.pauseReasons !== 0 || this.stateValue === ConnectionState.Closed) return;
    this.guard.onReadResumed();
    // Frames held back from the last chunk come first; decode them on a fresh
    // stack (we may be inside receive() or an answer being sent).
    if (this.decoder.holding) queueMicrotask(() => this.resumeDecoding());
    else this.socket.resume();
  }

  private resumeDecoding(): void {
    if (this.pauseReasons !== 0 || this.stateValue === ConnectionState.Closed) return;
    try {
      this.decoder.resume();
    } catch (error) {
      this.failWithBadInput(error as Error);
      return;
    }
    this.guard.afterRead();
    if (this.pauseReasons === 0 && !this.decoder.holding) this.socket.resume();
  }

  /** The handshake is complete (e.g. authenticated; a first complete frame counts too): its timeout no longer applies. */
  markEstablished(): void {
    this.guard.markEstablished();
  }

  /** Internal (the listener's sweep): closes this connection if it broke a bound; true if it did. */
  checkBounds(nowMs: number): boolean {
    return this.guard.check(nowMs);
  }

  /** Internal: RpcServer registers here. */
  attachRequestSink(sink: RequestSink): void {
    assert(this.requestSink === undefined, 'an RpcServer already serves this connection');
    this.requestSink = sink;
    // A peer that sends requests but does not read the answers must not make us buffer answers without end.
    if (this.writer.blocked) this.pause(PauseReason.SendBlocked);
  }

  /** Internal: RpcClient registers here. */
  attachResponseSink(sink: ResponseSink): void {
    assert(this.responseSink === undefined, 'an RpcClient already uses this connection');
    this.responseSink = sink;
  }

  /**
   * Internal: close because of bad input, logging it once with the remote
   * address. `graceful` closes as close() does, so frames already queued (an
   * error answer telling the peer what was wrong) reach the peer before our
   * end of the stream; otherwise the connection is destroyed.
   */
  failWithBadInput(error: Error, graceful = false): void {
    if (this.stateValue === ConnectionState.Closed || this.closeError !== undefined) return;
    this.options.logger.warn({ remoteAddress: this.remoteAddress, err: errorFields(error) }, 'closing connection: bad input');
    this.closeError = error;
    if (graceful) void this.close();
    else this.destroy(error);
  }

  // ------------------------------------------------------------------ closing

  /** Register a callback for when the connection is closed (with the error, if it closed because of one). */
  onClose(listener: (error: Error | undefined) => void): void {
    if (this.stateValue === ConnectionState.Closed) {
      queueMicrotask(() => listener(this.closeError));
      return;
    }
    (this.closeListeners ??= []).push(listener);
  }

  /** Resolves once the connection is closed, however that happens. */
  whenClosed(): Promise<void> {
    return (this.closedPromise ??= new Promise<void>((resolve) => this.onClose(() => resolve())));
  }

  /**
   * Graceful close: hands everything queued to the kernel, ends our side and
   * waits for the peer to close (at most `closeTimeoutMs`, then destroys).
   */
  close(): Promise<void> {
    if (this.stateValue === ConnectionState.Open) {
      this.stateValue = ConnectionState.Closing;
      this.writer.flushForClose();
      // Read again whatever paused us: only reading shows us the peer's end of the stream.
      if (this.pauseReasons !== 0) {
        this.pauseReasons = 0;
        if (this.decoder.holding) queueMicrotask(() => this.resumeDecoding());
        else this.socket.resume();
      }
      this.closeTimer = this.options.clock.setTimer(this.options.closeTimeoutMs, () => this.destroy());
    }
    return this.whenClosed();
  }

  /** Abrupt close: drops queued frames; pending operations fail with ConnectionClosedError (cause: `error`). */
  destroy(error?: Error): void {
    if (this.stateValue === ConnectionState.Closed) return;
    if (error !== undefined) this.closeError ??= error;
    this.socket.destroy();
    this.finish();
  }

  private finish(): void {
    if (this.stateValue === ConnectionState.Closed) return;
    this.stateValue = ConnectionState.Closed;
    this.guard.release();
    this.decoder.clear();
    this.closeTimer?.cancel();
    const error = this.closeError;
    const closed = () => new ConnectionClosedError(`connection to ${this.remoteAddress} closed`, { cause: error });
    this.writer.close(closed);
    const readers = this.readers?.drain();
    if (readers !== undefined) for (const reader of readers) reader.reject(closed());
    this.requestSink?.onConnectionClosed(error);
    this.responseSink?.onConnectionClosed(error);
    const listeners = this.closeListeners;
    this.closeListeners = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener(error);
  }
}

/** A big-endian u32 at `offset` (the caller checked the bounds; no Buffer method call per frame). */
function readU32(bytes: Buffer, offset: number): number {
  return bytes[offset]! * 0x1000000 + ((bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!);
}

/** The DecodeError for a value that failed `schema`, naming the message and the field path. */
export function schemaError(messageName: string, schema: Schema<unknown>, value: unknown): DecodeError {
  const failure = schema.explain(value);
  return new DecodeError(`expected ${failure.expected}, found ${failure.found}`, {
    messageName,
    path: failure.path,
  });
}
