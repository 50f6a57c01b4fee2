/**
 * Errors raised by the networking layer. One class per failure mode a caller
 * can act on; every one carries a stable `code` (see ConcordError).
 */
import { ConcordError, ConcordErrorCode } from '../common/errors.js';

/** An address string that names no known transport or is malformed. */
export class InvalidAddressError extends ConcordError {
  constructor(address: string, reason: string) {
    super(ConcordErrorCode.InvalidAddress, `invalid address ${JSON.stringify(address)}: ${reason}`);
  }
}

/** Could not establish a connection (refused, unreachable, TLS handshake failed, no such mem:// listener). */
export class ConnectError extends ConcordError {
  readonly address: string;
  constructor(address: string, message: string, options?: { cause?: unknown }) {
    super(ConcordErrorCode.Connect, `cannot connect to ${address}: ${message}`, options);
    this.address = address;
  }
}

/** Could not listen on an address (in use, permission denied, mem:// name taken). */
export class ListenError extends ConcordError {
  constructor(address: string, message: string, options?: { cause?: unknown }) {
    super(ConcordErrorCode.Listen, `cannot listen on ${address}: ${message}`, options);
  }
}

/**
 * The connection is closed (or was lost) while an operation needed it. `cause`
 * holds the reason when it closed because of an error.
 */
export class ConnectionClosedError extends ConcordError {
  constructor(message = 'connection closed', options?: { cause?: unknown }) {
    super(ConcordErrorCode.ConnectionClosed, message, options);
  }
}

/** A frame's length prefix (or an outgoing frame) exceeds `frameBytesMax`. */
export class FrameTooLargeError extends ConcordError {
  readonly frameBytes: number;
  readonly frameBytesMax: number;
  constructor(frameBytes: number, frameBytesMax: number) {
    super(ConcordErrorCode.FrameTooLarge, `frame of ${frameBytes} bytes exceeds frameBytesMax ${frameBytesMax}`);
    this.frameBytes = frameBytes;
    this.frameBytesMax = frameBytesMax;
  }
}

/**
 * Bytes that do not decode to a valid message: malformed frame, truncated or
 * garbage MessagePack, or a body of the wrong shape. `messageName` and `path`
 * say where (path like `entries[3].data`).
 */
export class DecodeError extends ConcordError {
  readonly messageName: string | undefined;
  readonly path: string | undefined;
  constructor(message: string, details: { messageName?: string; path?: string; cause?: unknown } = {}) {
    const where = details.messageName === undefined ? '' : `${details.messageName}${details.path ? `.${details.path}` : ''}: `;
    super(ConcordErrorCode.Decode, `${where}${message}`, { cause: details.cause });
    this.messageName = details.messageName;
    this.path = details.path;
  }
}

/** A frame carries a message id that is not in the receiver's message table. */
export class UnknownMessageError extends ConcordError {
  readonly messageId: number;
  constructor(messageId: number) {
    super(ConcordErrorCode.UnknownMessage, `unknown message id ${messageId}`);
    this.messageId = messageId;
  }
}

/** The outgoing queue would exceed `sendQueueBytesMax`: the peer is not reading fast enough. */
export class SendQueueFullError extends ConcordError {
  constructor(queuedBytes: number, frameBytes: number, sendQueueBytesMax: number) {
    super(
      ConcordErrorCode.SendQueueFull,
      `send queue full: ${queuedBytes} bytes queued + ${frameBytes} would exceed sendQueueBytesMax ${sendQueueBytesMax}`,
    );
  }
}

/** No bytes moved on the connection for `idleTimeoutMs`. */
export class IdleTimeoutError extends ConcordError {
  constructor(idleTimeoutMs: number) {
    super(ConcordErrorCode.IdleTimeout, `no traffic for ${idleTimeoutMs} ms`);
  }
}

/**
 * One net operation (a connect, an RPC call, a receive) did not complete
 * within its own `timeoutMs`. Not the client's TimeoutError, which says a
 * whole client operation (perhaps many calls) passed its deadline; the client
 * turns this one into a retry or into its own TimeoutError.
 */
export class NetTimeoutError extends ConcordError {
  constructor(message: string) {
    super(ConcordErrorCode.NetTimeout, message);
  }
}

/**
 * One net operation was cancelled through its own AbortSignal (`cause` is the
 * signal's reason). Not the client's AbortedError, which says the caller
 * cancelled a whole client operation (and may carry its unresolved write).
 */
export class NetAbortedError extends ConcordError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ConcordErrorCode.NetAborted, message, options);
  }
}

/** `call()` while `pendingCallsMax` calls are already waiting for answers on this client. */
export class TooManyPendingCallsError extends ConcordError {
  constructor(pendingCallsMax: number) {
    super(ConcordErrorCode.TooManyPendingCalls, `${pendingCallsMax} calls already pending (pendingCallsMax)`);
  }
}

/** The remote endpoint has no handler for the called method. */
export const unknownMethodCode = ConcordErrorCode.UnknownMethod;
/** A handler threw something that is not a ConcordError; its message is passed on, its stack is not. */
export const internalErrorCode = ConcordErrorCode.Internal;

/**
 * The remote handler failed. `code` is the remote error's code (e.g.
 * `CONCORD_ERR_NOT_LEADER`), `details` its optional structured details (e.g. a
 * leader hint), exactly as the handler's error carried them. A newer peer may
 * send a code this version's table does not have: it is passed on as it came
 * (typed as the table's union so callers compare against its constants).
 */
export class RemoteError extends ConcordError {
  readonly details: unknown;
  readonly method: string;
  constructor(method: string, code: string, message: string, details?: unknown) {
    super(code as ConcordErrorCode, message);
    this.method = method;
    this.details = details;
  }
}

/** A connection did not complete its handshake (TLS, then its first frame or auth) within `handshakeTimeoutMs`. */
export class HandshakeTimeoutError extends ConcordError {
  constructor(handshakeTimeoutMs: number) {
    super(ConcordErrorCode.HandshakeTimeout, `handshake not completed within ${handshakeTimeoutMs} ms`);
  }
}

/** A frame in progress arrived slower than `receiveRateMinBytesPerSec` (a trickling peer): dropped with its connection. */
export class FrameTooSlowError extends ConcordError {
  constructor(receivedBytes: number, elapsedMs: number, receiveRateMinBytesPerSec: number) {
    super(
      ConcordErrorCode.FrameTooSlow,
      `a frame arrived at ${Math.round((receivedBytes * 1000) / Math.max(1, elapsedMs))} B/s (${receivedBytes} bytes in ${Math.round(elapsedMs)} ms), below the minimum ${receiveRateMinBytesPerSec} B/s`,
    );
  }
}

/** The process-wide budget for bytes of partial inbound frames is spent: the connection that would exceed it is dropped. */
export class InboundBudgetExceededError extends ConcordError {
  constructor(partialFrameBytesMax: number) {
    super(ConcordErrorCode.InboundBudgetExceeded, `inbound partial frames would exceed the process budget of ${partialFrameBytesMax} bytes`);
  }
}

/** A listener holds `connectionsMax` connections (or accept is backing off after EMFILE/ENFILE): the new one is refused. */
export class ConnectionRefusedError extends ConcordError {
  constructor(reason: string) {
    super(ConcordErrorCode.ConnectionRefused, `connection refused: ${reason}`);
  }
}
