/**
 * A small MessagePack encoder and decoder for message bodies: the plain-data
 * subset the schemas describe (null, booleans, numbers, strings, byte arrays,
 * arrays, string-keyed objects).
 *
 * Why not msgpackr on the hot path: it packs a Uint8Array through its
 * extension machinery (a closure and a result object per value, several
 * instanceof checks) and its `copyBuffers` option copies binary fields into a
 * fresh ArrayBuffer each; together that was about half of an RPC's CPU time.
 * This codec sizes the body first and writes it straight into the frame
 * (header included), so a frame needs no buffer of its own. `decodeBody` decodes
 * binary fields into copies in Node's pooled buffers (like Buffer.from);
 * `decodeReceivedBody`, for bytes a connection received (never written to
 * again), into views of them when they live in a buffer of at most 8 KiB
 * (Node's read buffers are sized to what was read), copies otherwise: either
 * way a retained field pins at most 8 KiB, what a copy from Node's Buffer pool
 * pins too, never a 64 KiB read buffer. The output is standard MessagePack:
 * test/net/msgpack.test.ts checks both directions against msgpackr.
 *
 * Encoding rules: object keys whose value is `undefined` are left out (so
 * optional fields round-trip as absent); integers use the smallest integer
 * format; other numbers are float64. Anything else (Map, Date, bigint,
 * functions...) is a TypeError: message bodies are plain data.
 */
import { Buffer } from 'node:buffer'; // A module binding: the global `Buffer` is a slower lookup on hot paths.
import { assert } from '../common/errors.js';
import { DecodeError } from './errors.js';
import { cachedString, cachedStringBytesMax } from './string-cache.js';

const textDecoder = new TextDecoder('utf-8', { fatal: true });

// ------------------------------------------------------------------ encoding

/*
 * Encoding is two passes over the value, made by one MsgpackEncoder:
 * `measure(value)` (the frame is allocated to fit), then `write(target,
 * offset)`, which writes the value measured last. The measure pass leaves a
 * tape in the encoder for the write pass: each map's entry count and each
 * string's UTF-8 length, in the order the write pass meets them (depth
 * first), so that writing walks each object once (a map's header, which holds
 * the count, comes before its entries) and measures no string twice.
 *
 * Both passes test `typeof value === ...` in an if-chain rather than
 * `switch (typeof value)`: V8 compiles the comparisons to type checks, while
 * the switch materializes the typeof string through a builtin call per value.
 */

const tapeEntriesInitial = 64;
/** A tape grown beyond this (a huge body) is not kept for the next body. */
const tapeEntriesRetainedMax = 64 * 1024;
/** The encoder's "nothing measured" mark (undefined is a value it can measure). */
const nothingMeasured: unique symbol = Symbol('nothingMeasured');

/**
 * Measures a value, then writes it: `const n = encoder.measure(value)`, make
 * room for n bytes, `encoder.write(target, offset)`. Each owner of one (a
 * connection's frame writer) uses it synchronously, one value at a time.
 */
export class MsgpackEncoder {
  /** Map entry counts and string lengths of the measured value (allocated on first use: bytes bodies need none). */
  private tape: Int32Array | undefined = undefined;
  private tapeEntries = 0;
  private tapeRead = 0;
  private measured: unknown = nothingMeasured;

  /** Bytes `value` takes when encoded; it is then the value `write` writes. Throws TypeError for values outside plain data. */
  measure(value: unknown): number {
    // A body that is just bytes needs no tape (and is the common body of a bulk transfer).
    if (value instanceof Uint8Array) {
      this.measured = value;
      return bytesSize(value.length);
    }
    this.measured = nothingMeasured;
    this.tapeEntries = 0;
    const size = this.sizeOf(value);
    this.measured = value;
    return size;
  }

  /**
   * Write the value measured last at `offset` (the caller made room for what
   * `measure` returned, and changed nothing in the value since); returns the
   * end offset. One write per measure.
   */
  write(target: Buffer, offset: number): number {
    const value = this.measured;
    assert(value !== nothingMeasured, 'MsgpackEncoder.write without a measured value');
    this.measured = nothingMeasured;
    if (value instanceof Uint8Array) return writeBytes(value, target, offset);
    this.tapeRead = 0;
    const end = this.writeValue(value, target, offset);
    if (this.tape !== undefined && this.tape.length > tapeEntriesRetainedMax) this.tape = undefined;
    return end;
  }

  /** Forget the measured value without writing it (the frame was refused), so that it is not kept alive. */
  discard(): void {
    this.measured = nothingMeasured;
  }

  private record(n: number): void {
    let tape = this.tape;
    if (tape === undefined) tape = this.tape = new Int32Array(tapeEntriesInitial);
    else if (this.tapeEntries === tape.length) {
      const grown = new Int32Array(tape.length * 2);
      grown.set(tape);
      tape = this.tape = grown;
    }
    tape[this.tapeEntries++] = n;
  }

  private sizeOf(value: unknown): number {
    if (typeof value === 'object') {
      if (value === null) return 1;
      if (value instanceof Uint8Array) return bytesSize(value.length);
      if (Array.isArray(value)) {
        const n = value.length;
        let size = n < 16 ? 1 : n < 0x10000 ? 3 : 5;
        for (let i = 0; i < n; i++) size += this.sizeOf(value[i]);
        return size;
      }
      if (isPlainObject(value)) {
        const countAt = this.tapeEntries;
        this.record(0);
        let count = 0;
        let size = 0;
        for (const key in value) {
          const item = (value as Record<string, unknown>)[key];
          if (item === undefined) continue;
          count++;
          size += this.stringSize(key) + this.sizeOf(item);
        }
        this.tape![countAt] = count;
        return size + (count < 16 ? 1 : count < 0x10000 ? 3 : 5);
      }
    } else if (typeof value === 'string') {
      return this.stringSize(value);
    } else if (typeof value === 'number') {
      return numberSize(value);
    } else if (typeof value === 'boolean' || value === undefined) {
      return 1;
    }
    throw new TypeError(`cannot encode ${describeType(value)} in a message body (plain data only)`);
  }

  /** Size of a string (and its UTF-8 length onto the tape). */
  private stringSize(value: string): number {
    const bytes = utf8Length(value);
    this.record(bytes);
    return (bytes < 32 ? 1 : bytes < 0x100 ? 2 : bytes < 0x10000 ? 3 : 5) + bytes;
  }

  private writeValue(value: unknown, target: Buffer, offset: number): number {
    if (typeof value === 'object') {
      if (value === null) {
        target[offset] = 0xc0;
        return offset + 1;
      }
      if (value instanceof Uint8Array) return writeBytes(value, target, offset);
      if (Array.isArray(value)) {
        const n = value.length;
        offset = writeLength(target, offset, n, 0x90, 0xdc);
        for (let i = 0; i < n; i++) offset = this.writeValue(value[i], target, offset);
        return offset;
      }
      offset = writeLength(target, offset, this.tape![this.tapeRead++]!, 0x80, 0xde);
      for (const key in value) {
        const item = (value as Record<string, unknown>)[key];
        if (item === undefined) continue;
        offset = writeString(key, this.tape![this.tapeRead++]!, target, offset);
        offset = this.writeValue(item, target, offset);
      }
      return offset;
    }
    if (typeof value === 'string') return writeString(value, this.tape![this.tapeRead++]!, target, offset);
    if (typeof value === 'number') return writeNumber(value, target, offset);
    if (typeof value === 'boolean') {
      target[offset] = value ? 0xc3 : 0xc2;
      return offset + 1;
    }
    if (value === undefined) {
      target[offset] = 0xc0;
      return offset + 1;
    }
    throw new TypeError(`cannot encode ${describeType(value)} in a message body (plain data only)`);
  }
}

/** `value` encoded into a fresh Buffer of exactly its size (tests, tools; frames are written in place by a MsgpackEncoder). */
export function encode(value: unknown): Buffer {
  const encoder = new MsgpackEncoder();
  const target = Buffer.allocUnsafe(encoder.measure(value));
  const end = encoder.write(target, 0);
  assert(end === target.length, 'encode wrote what measure measured');
  return target;
}

function bytesSize(n: number): number {
  return (n < 0x100 ? 2 : n < 0x10000 ? 3 : 5) + n;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describeType(value: unknown): string {
  if (typeof value === 'object' && value !== null) return value.constructor?.name ?? 'object';
  return typeof value;
}

function utf8Length(value: string): number {
  const n = value.length;
  if (n > 64) return Buffer.byteLength(value, 'utf8');
  for (let i = 0; i < n; i++) if (value.charCodeAt(i) >= 0x80) return Buffer.byteLength(value, 'utf8');
  return n;
}

function numberSize(value: number): number {
  if (Number.isSafeInteger(value)) {
    if (value >= 0) return value < 0x80 ? 1 : value < 0x100 ? 2 : value < 0x10000 ? 3 : value < 0x100000000 ? 5 : 9;
    return value >= -32 ? 1 : value >= -0x80 ? 2 : value >= -0x8000 ? 3 : value >= -0x80000000 ? 5 : 9;
    // (Integers beyond 32 bits take 9 bytes either way: written as float64, see writeNumber.)
  }
  return 9;
}

function writeBytes(value: Uint8Array, target: Buffer, offset: number): number {
  const n = value.length;
  if (n < 0x100) {
    target[offset++] = 0xc4;
    target[offset++] = n;
  } else if (n < 0x10000) {
    target[offset++] = 0xc5;
    offset = put16(target, offset, n);
  } else {
    target[offset++] = 0xc6;
    offset = put32(target, offset, n);
  }
  target.set(value, offset);
  return offset + n;
}

/** Array (fix 0x90 / 0xdc 16 / 0xdd 32) and map (fix 0x80 / 0xde / 0xdf) headers. */
function writeLength(target: Buffer, offset: number, n: number, fix: number, sixteen: number): number {
  if (n < 16) {
    target[offset] = fix | n;
    return offset + 1;
  }
  if (n < 0x10000) {
    target[offset] = sixteen;
    return put16(target, offset + 1, n);
  }
  target[offset] = sixteen + 1;
  return put32(target, offset + 1, n);
}

/** Big-endian writes without Buffer's argument checks (the caller sized the target). */
export function put16(target: Buffer, offset: number, n: number): number {
  target[offset] = n >>> 8;
  target[offset + 1] = n;
  return offset + 2;
}

export function put32(target: Buffer, offset: number, n: number): number {
  target[offset] = n >>> 24;
  target[offset + 1] = n >>> 16;
  target[offset + 2] = n >>> 8;
  target[offset + 3] = n;
  return offset + 4;
}

/** Write a string whose UTF-8 length (measured before) is `bytes`. */
function writeString(value: string, bytes: number, target: Buffer, offset: number): number {
  if (bytes < 32) target[offset++] = 0xa0 | bytes;
  else if (bytes < 0x100) {
    target[offset++] = 0xd9;
    target[offset++] = bytes;
  } else if (bytes < 0x10000) {
    target[offset++] = 0xda;
    offset = put16(target, offset, bytes);
  } else {
    target[offset++] = 0xdb;
    offset = put32(target, offset, bytes);
  }
  if (bytes === value.length && bytes <= 64) {
    for (let i = 0; i < bytes; i++) target[offset + i] = value.charCodeAt(i);
    return offset + bytes;
  }
  return offset + target.write(value, offset, bytes, 'utf8');
}

function writeNumber(value: number, target: Buffer, offset: number): number {
  if (Number.isSafeInteger(value)) {
    if (value >= 0) {
      if (value < 0x80) {
        target[offset] = value;
        return offset + 1;
      }
      if (value < 0x100) {
        target[offset] = 0xcc;
        target[offset + 1] = value;
        return offset + 2;
      }
      if (value < 0x10000) {
        target[offset] = 0xcd;
        return put16(target, offset + 1, value);
      }
      if (value < 0x100000000) {
        target[offset] = 0xce;
        return put32(target, offset + 1, value);
      }
    } else {
      if (value >= -32) {
        target[offset] = value & 0xff;
        return offset + 1;
      }
      if (value >= -0x80) {
        target[offset] = 0xd0;
        target.writeInt8(value, offset + 1);
        return offset + 2;
      }
      if (value >= -0x8000) {
        target[offset] = 0xd1;
        target.writeInt16BE(value, offset + 1);
        return offset + 3;
      }
      if (value >= -0x80000000) {
        target[offset] = 0xd2;
        target.writeInt32BE(value, offset + 1);
        return offset + 5;
      }
    }
    // Integers beyond 32 bits go out as float64 (exact up to 2^53), as msgpackr
    // writes them: its reader turns 64-bit integer formats into BigInt.
  }
  target[offset] = 0xcb;
  target.writeDoubleBE(value, offset + 1);
  return offset + 9;
}

// ------------------------------------------------------------------ decoding

/** Nesting deeper than this is refused: a hostile body must not overflow the stack. */
const depthMax = 100;

/*
 * The decoder's cursor lives in module variables rather than in an object per
 * call: decoding is synchronous and never re-entered (no user code runs in
 * it), and a cursor object per body was a measurable share of an RPC's
 * allocations.
 */
const nothing = Buffer.alloc(0);
let input: Buffer = nothing;
let at = 0;
let limit = 0;
/** Whether binary fields may be views of `input` (decodeReceivedBody) rather than copies. */
let viewsAllowed = false;

function need(n: number): void {
  if (at + n > limit) throw new RangeError('truncated');
}

/**
 * Decode exactly one value filling `bytes[start, end)`. Truncated input,
 * trailing bytes and unsupported types (extensions, non-string map keys) are a
 * DecodeError naming `messageName`.
 */
export function decodeBody(bytes: Buffer, messageName: string, start = 0, end = bytes.length): unknown {
  viewsAllowed = false;
  return decode(bytes, messageName, start, end);
}

/**
 * As decodeBody, for bytes received from a peer that nothing writes to again:
 * binary fields may be views of them (see the file comment).
 */
export function decodeReceivedBody(bytes: Buffer, messageName: string, start: number, end: number): unknown {
  viewsAllowed = true;
  return decode(bytes, messageName, start, end);
}

function decode(bytes: Buffer, messageName: string, start: number, end: number): unknown {
  input = bytes;
  at = start;
  limit = end;
  let value: unknown;
  try {
    value = readValue(0);
  } catch (error) {
    input = nothing;
    const reason = error instanceof Error ? error.message : String(error);
    throw new DecodeError(`malformed MessagePack body (${reason})`, { messageName, cause: error });
  }
  input = nothing; // Do not pin the (socket's) buffer until the next decode.
  if (at !== end) {
    throw new DecodeError(`malformed MessagePack body (${end - at} bytes after the value)`, { messageName });
  }
  return value;
}

function readValue(depth: number): unknown {
  need(1);
  const bytes = input;
  const type = bytes[at++]!;
  if (type < 0x80) return type;
  if (type >= 0xe0) return type - 0x100;
  if (type >= 0xa0 && type < 0xc0) return readString(type & 0x1f);
  if (type >= 0x90 && type < 0xa0) return readArray(type & 0x0f, depth);
  if (type >= 0x80 && type < 0x90) return readMap(type & 0x0f, depth);
  const from = at;
  switch (type) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
      need(1);
      return readBinary(bytes[at++]!);
    case 0xc5:
      need(2);
      at += 2;
      return readBinary(u16(bytes, from));
    case 0xc6:
      need(4);
      at += 4;
      return readBinary(u32(bytes, from));
    case 0xca:
      need(4);
      at += 4;
      return bytes.readFloatBE(from);
    case 0xcb:
      need(8);
      at += 8;
      return bytes.readDoubleBE(from);
    case 0xcc:
      need(1);
      return bytes[at++]!;
    case 0xcd:
      need(2);
      at += 2;
      return u16(bytes, from);
    case 0xce:
      need(4);
      at += 4;
      return u32(bytes, from);
    case 0xcf:
      need(8);
      at += 8;
      // Beyond 2^53 this loses precision; schemas (uint/int) then reject it as unsafe.
      return u32(bytes, from) * 0x100000000 + u32(bytes, from + 4);
    case 0xd0:
      need(1);
      at += 1;
      return bytes.readInt8(from);
    case 0xd1:
      need(2);
      at += 2;
      return bytes.readInt16BE(from);
    case 0xd2:
      need(4);
      at += 4;
      return bytes.readInt32BE(from);
    case 0xd3:
      need(8);
      at += 8;
      return Number(bytes.readBigInt64BE(from));
    case 0xd4:
      // fixext 1 of type 0, data 0: how msgpackr writes `undefined`.
      need(2);
      if (bytes[from] === 0 && bytes[from + 1] === 0) {
        at += 2;
        return undefined;
      }
      throw new RangeError(`unsupported extension type ${bytes[from]}`);
    case 0xd9:
      need(1);
      return readString(bytes[at++]!);
    case 0xda:
      need(2);
      at += 2;
      return readString(u16(bytes, from));
    case 0xdb:
      need(4);
      at += 4;
      return readString(u32(bytes, from));
    case 0xdc:
      need(2);
      at += 2;
      return readArray(u16(bytes, from), depth);
    case 0xdd:
      need(4);
      at += 4;
      return readArray(u32(bytes, from), depth);
    case 0xde:
      need(2);
      at += 2;
      return readMap(u16(bytes, from), depth);
    case 0xdf:
      need(4);
      at += 4;
      return readMap(u32(bytes, from), depth);
  }
  throw new RangeError(`unsupported type byte 0x${type.toString(16)}`);
}

/** Big-endian reads without Buffer's argument checks (the caller checked the bounds). */
function u16(bytes: Buffer, offset: number): number {
  return (bytes[offset]! << 8) | bytes[offset + 1]!;
}

function u32(bytes: Buffer, offset: number): number {
  return bytes[offset]! * 0x1000000 + ((bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!);
}

/**
 * decodeReceivedBody: binary fields are views of the input when its memory is
 * at most this big, copies otherwise (see the file comment). Node's Buffer.poolSize: a copy of a
 * small value made by Buffer.allocUnsafe pins a pool of this size as well.
 */
export const viewBackingBytesMax = 8 * 1024;
/** The last input whose backing memory was sized up (one `.buffer` lookup per read chunk, not per field). */
let sizedInput: Buffer = nothing;
let sizedInputViewable = false;

function readBinary(n: number): Buffer {
  need(n);
  const bytes = input;
  const start = at;
  at += n;
  if (viewsAllowed) {
    if (bytes !== sizedInput) {
      sizedInput = bytes;
      sizedInputViewable = bytes.buffer.byteLength <= viewBackingBytesMax;
    }
    if (sizedInputViewable) return bytes.subarray(start, start + n);
  }
  // A copy in Node's pool (what Buffer.from does), not a view of a big buffer.
  const copy = Buffer.allocUnsafe(n);
  if (n > 64) {
    bytes.copy(copy, 0, start, start + n);
    return copy;
  }
  // Small values: cheaper in JS than making the view a native copy needs; by
  // fours, which measured faster than byte by byte.
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const from = start + i;
    copy[i] = bytes[from]!;
    copy[i + 1] = bytes[from + 1]!;
    copy[i + 2] = bytes[from + 2]!;
    copy[i + 3] = bytes[from + 3]!;
  }
  for (; i < n; i++) copy[i] = bytes[start + i]!;
  return copy;
}

function readString(n: number): string {
  need(n);
  const start = at;
  at += n;
  if (n <= cachedStringBytesMax) return cachedString(input, start, n);
  return textDecoder.decode(input.subarray(start, start + n));
}

function readArray(n: number, depth: number): unknown[] {
  if (depth >= depthMax) throw new RangeError(`nested deeper than ${depthMax}`);
  // Every item takes at least one byte: refuse counts the input cannot hold before allocating.
  need(n);
  const items = new Array<unknown>(n);
  for (let i = 0; i < n; i++) items[i] = readValue(depth + 1);
  return items;
}

function readMap(n: number, depth: number): Record<string, unknown> {
  if (depth >= depthMax) throw new RangeError(`nested deeper than ${depthMax}`);
  need(n * 2);
  const object: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    // Keys are almost always fixstr (< 32 bytes): read those here, through the string cache.
    const type = input[at]!;
    let key: unknown;
    if (type >= 0xa0 && type < 0xc0) {
      at++;
      key = readString(type & 0x1f);
    } else key = readValue(depth + 1);
    if (typeof key !== 'string') throw new RangeError('a map key is not a string');
    // "__proto__" as a plain assignment would set the prototype: refuse it.
    if (key === '__proto__') throw new RangeError('a map key is "__proto__"');
    object[key] = readValue(depth + 1);
  }
  return object;
}
