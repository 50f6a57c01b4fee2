/**
 * The wire format of one frame, and the MessagePack codec for bodies.
 *
 *   frame   = u32be length, then `length` bytes of body
 *   body    = u8 kind, then per kind:
 *     Message  (0): u16be messageId, msgpack(body)
 *     Request  (1): u32be callId, u16be methodId, msgpack(request)
 *     Response (2): u32be callId, msgpack(response)
 *     Error    (3): u32be callId, msgpack({ code, message, details? })
 *     Cancel   (4): u32be callId              (the caller gave up; the handler's signal aborts)
 *
 * Bodies are MessagePack (see msgpack.ts for why our own small codec rather
 * than msgpackr on this path); the fixed header and the body are written into
 * one buffer (frame-writer.ts).
 */
import { decodeReceivedBody, put16, put32 } from './msgpack.js';

export const FrameKind = {
  Message: 0,
  Request: 1,
  Response: 2,
  Error: 3,
  Cancel: 4,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export const lengthPrefixBytes = 4;
/** Header bytes (after the length prefix) per kind. */
export const messageHeaderBytes = 1 + 2;
export const requestHeaderBytes = 1 + 4 + 2;
export const responseHeaderBytes = 1 + 4;

/** Marks a frame without a body (Cancel). */
export const noBody: unique symbol = Symbol('noBody');
export type Body = unknown;

/** Header bytes (after the length prefix) of a frame of `kind`. */
export function headerBytesOf(kind: FrameKind): number {
  return kind === FrameKind.Message ? messageHeaderBytes : kind === FrameKind.Request ? requestHeaderBytes : responseHeaderBytes;
}

/**
 * Write a frame's length prefix and header for `kind` at `offset` of `target`
 * (`callId` and `id` are used as the kind needs; `frameBytes` counts the
 * prefix, the header and the body); returns where the body goes.
 */
export function writeFrameHeader(target: Buffer, offset: number, frameBytes: number, kind: FrameKind, callId: number, id: number): number {
  put32(target, offset, frameBytes - lengthPrefixBytes);
  target[offset + 4] = kind;
  const at = offset + 5;
  if (kind === FrameKind.Message) return put16(target, at, id);
  const afterCallId = put32(target, at, callId);
  return kind === FrameKind.Request ? put16(target, afterCallId, id) : afterCallId;
}

/**
 * Decode a received MessagePack body in `bytes[start, end)` (binary fields may
 * be views of small received buffers: see msgpack.ts); malformed, truncated or
 * trailing bytes are a DecodeError.
 */
export function unpackBody(bytes: Buffer, messageName: string, start: number, end: number): unknown {
  return decodeReceivedBody(bytes, messageName, start, end);
}
