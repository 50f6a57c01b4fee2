/**
 * Errors raised by the networking layer. One class per failure mode a caller
 * can act on; every one carries a stable `code` (see ConcordError).
 */
import { ConcordError } from '../common/errors.js';

/** An address string that names no known transport or is malformed. */
export class InvalidAddressError extends ConcordError {
  constructor(address: string, reason: string) {
    super('CONCORD_ERR_INVALID_ADDRESS', `invalid address ${JSON.stringify(address)}: ${reason}`);
  }
}

/** Could not establish a connection (refused, unreachable, TLS handshake failed, no such mem:// listener). */
export class ConnectError extends ConcordError {
  readonly address: string;
  constructor(address: string, message: string, options?: { cause?: unknown }) {
    super('CONCORD_ERR_CONNECT', `cannot connect to ${address}: ${message}`, options);
    this.address = address;
  }
}

/** Could not listen on an address (in use, permission denied, mem:// name taken). */
export class ListenError extends ConcordError {
  constructor(address: string, message: string, options?: { cause?: unknown }) {
    super('CONCORD_ERR_LISTEN', `cannot listen on ${address}: ${message}`, options);
  }
}

/**
 * The connection is closed (or was lost) while an operation needed it. `cause`
 * holds the reason when it closed because of an error.
 */
export class ConnectionClosedError extends ConcordError {
  constructor(message = 'connection closed', options?: { cause?: unknown }) {
    super('CONCORD_ERR_CONNECTION_CLOSED', message, options);
  }
}

/** A frame's length prefix (or an outgoing frame) exceeds `frameBytesMax`. */
export class FrameTooLargeError extends ConcordError {
  readonly frameBytes: number;
  readonly frameBytesMax: number;
  constructor(frameBytes: number, frameBytesMax: number) {
    super('CONCORD_ERR_FRAME_TOO_LARGE', `frame of ${frameBytes} bytes exceeds frameBytesMax ${frameBytesMax}`);
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
    super('CONCORD_ERR_DECODE', `${where}${message}`, { cause: details.cause });
    this.messageName = details.messageName;
    this.path = details.path;
  }
}

/** A frame carries a message id that is not in the receiver's message table. */
export class UnknownMessageError extends ConcordError {
  readonly messageId: number;
  constructor(messageId: number) {
    super('CONCORD_ERR_UNKNOWN_MESSAGE', `unknown message id ${messageId}`);
    this.messageId = messageId;
  }
}

/** The outgoing queue would exceed `sendQueueBytesMax`: the peer is not reading fast enough. */
export class SendQueueFullError extends ConcordError {
  constructor(queuedBytes: number, frameBytes: number, sendQueueBytesMax: number) {
    super(
      'CONCORD_ERR_SEND_QUEUE_FULL',
      `send queue full: ${queuedBytes} bytes queued + ${frameBytes} would exceed sendQueueBytesMax ${sendQueueBytesMax}`,
    );
  }
}

/** No bytes moved on the connection for `idleTimeoutMs`. */
export class IdleTimeoutError extends ConcordError {
  constructor(idleTimeoutMs: number) {
    super('CONCORD_ERR_IDLE_TIMEOUT', `no traffic for ${idleTimeoutMs} ms`);
  }
}

/** An operation (an RPC call, a receive) did not complete within its `timeoutMs`. */
export class TimeoutError extends ConcordError {
  constructor(message: string) {
    super('CONCORD_ERR_TIMEOUT', message);
  }
}

/** An operation was cancelled through its AbortSignal. `cause` is the signal's reason. */
export class AbortedError extends ConcordError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONCORD_ERR_ABORTED', message, options);
  }
}

/** `call()` while `pendingCallsMax` calls are already waiting for answers on this client. */
export class TooManyPendingCallsError extends ConcordError {
  constructor(pendingCallsMax: number) {
    super('CONCORD_ERR_TOO_MANY_PENDING_CALLS', `${pendingCallsMax} calls already pending (pendingCallsMax)`);
  }
}

/** The remote endpoint has no handler for the called method. */
export const unknownMethodCode = 'CONCORD_ERR_UNKNOWN_METHOD';
/** A handler threw something that is not a ConcordError; its message is passed on, its stack is not. */
export const internalErrorCode = 'CONCORD_ERR_INTERNAL';

/**
 * The remote handler failed. `code` is the remote error's code (e.g.
 * `CONCORD_ERR_NOT_LEADER`), `details` its optional structured details (e.g. a
 * leader hint), exactly as the handler's error carried them.
 */
export class RemoteError extends ConcordError {
  readonly details: unknown;
  readonly method: string;
  constructor(method: string, code: string, message: string, details?: unknown) {
    super(code, message);
    this.method = method;
    this.details = details;
  }
}

/** A connection did not complete its handshake (TLS, then its first frame or auth) within `handshakeTimeoutMs`. */
export class HandshakeTimeoutError extends ConcordError {
  constructor(handshakeTimeoutMs: number) {
    super('CONCORD_ERR_HANDSHAKE_TIMEOUT', `handshake not completed within ${handshakeTimeoutMs} ms`);
  }
}

/** A frame in progress arrived slower than `receiveRateMinBytesPerSec` (a trickling peer): dropped with its connection. */
export class FrameTooSlowError extends ConcordError {
  constructor(receivedBytes: number, elapsedMs: number, receiveRateMinBytesPerSec: number) {
    super(
      'CONCORD_ERR_FRAME_TOO_SLOW',
      `a frame arrived at ${Math.round((receivedBytes * 1000) / Math.max(1, elapsedMs))} B/s (${receivedBytes} bytes in ${Math.round(elapsedMs)} ms), below the minimum ${receiveRateMinBytesPerSec} B/s`,
    );
  }
}

/** The process-wide budget for bytes of partial inbound frames is spent: the connection that would exceed it is dropped. */
export class InboundBudgetExceededError extends ConcordError {
  constructor(partialFrameBytesMax: number) {
    super('CONCORD_ERR_INBOUND_BUDGET_EXCEEDED', `inbound partial frames would exceed the process budget of ${partialFrameBytesMax} bytes`);
  }
}

/** A listener holds `connectionsMax` connections (or accept is backing off after EMFILE/ENFILE): the new one is refused. */
export class ConnectionRefusedError extends ConcordError {
  constructor(reason: string) {
    super('CONCORD_ERR_CONNECTION_REFUSED', `connection refused: ${reason}`);
  }
}
