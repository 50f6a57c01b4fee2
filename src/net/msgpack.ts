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
 * (header included), so a frame costs one allocation; binary fields decode
 * into Node's pooled buffers (like Buffer.from), never into views that would
 * pin the socket's 64 KiB read chunk. The output is standard MessagePack:
 * test/net/msgpack.test.ts checks both directions against msgpackr.
 *
 * Encoding rules: object keys whose value is `undefined` are left out (so
 * optional fields round-trip as absent); integers use the smallest integer
 * format; other numbers are float64. Anything else (Map, Date, bigint,
 * functions...) is a TypeError: message bodies are plain data.
 */
import { DecodeError } from './errors.js';

const textDecoder = new TextDecoder('utf-8', { fatal: true });

// ------------------------------------------------------------------ encoding

/** Bytes `value` takes when encoded. Throws TypeError for values outside the plain-data subset. */
export function encodedSize(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return stringSize(value);
    case 'number':
      return numberSize(value);
    case 'boolean':
      return 1;
    case 'undefined':
      return 1;
    case 'object': {
      if (value === null) return 1;
      if (value instanceof Uint8Array) {
        const n = value.length;
        return (n < 0x100 ? 2 : n < 0x10000 ? 3 : 5) + n;
      }
      if (Array.isArray(value)) {
        const n = value.length;
        let size = n < 16 ? 1 : n < 0x10000 ? 3 : 5;
        for (let i = 0; i < n; i++) size += encodedSize(value[i]);
        return size;
      }
      if (isPlainObject(value)) {
        let count = 0;
        let size = 0;
        for (const key in value) {
          const item = (value as Record<string, unknown>)[key];
          if (item === undefined) continue;
          count++;
          size += stringSize(key) + encodedSize(item);
        }
        return size + (count < 16 ? 1 : count < 0x10000 ? 3 : 5);
      }
      break;
    }
  }
  throw new TypeError(`cannot encode ${describeType(value)} in a message body (plain data only)`);
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describeType(value: unknown): string {
  if (typeof value === 'object' && value !== null) return value.constructor?.name ?? 'object';
  return typeof value;
}

function stringSize(value: string): number {
  const bytes = utf8Length(value);
  return (bytes < 32 ? 1 : bytes < 0x100 ? 2 : bytes < 0x10000 ? 3 : 5) + bytes;
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

/** Write `value` at `offset` (the caller sized `target` with encodedSize); returns the end offset. */
export function encodeInto(value: unknown, target: Buffer, offset: number): number {
  switch (typeof value) {
    case 'string':
      return writeString(value, target, offset);
    case 'number':
      return writeNumber(value, target, offset);
    case 'boolean':
      target[offset] = value ? 0xc3 : 0xc2;
      return offset + 1;
    case 'undefined':
      target[offset] = 0xc0;
      return offset + 1;
    case 'object': {
      if (value === null) {
        target[offset] = 0xc0;
        return offset + 1;
      }
      if (value instanceof Uint8Array) {
        const n = value.length;
        if (n < 0x100) {
          target[offset++] = 0xc4;
          target[offset++] = n;
        } else if (n < 0x10000) {
          target[offset++] = 0xc5;
          target.writeUInt16BE(n, offset);
          offset += 2;
        } else {
          target[offset++] = 0xc6;
          target.writeUInt32BE(n, offset);
          offset += 4;
        }
        target.set(value, offset);
        return offset + n;
      }
      if (Array.isArray(value)) {
        const n = value.length;
        offset = writeLength(target, offset, n, 0x90, 0xdc);
        for (let i = 0; i < n; i++) offset = encodeInto(value[i], target, offset);
        return offset;
      }
      let count = 0;
      for (const key in value) if ((value as Record<string, unknown>)[key] !== undefined) count++;
      offset = writeLength(target, offset, count, 0x80, 0xde);
      for (const key in value) {
        const item = (value as Record<string, unknown>)[key];
        if (item === undefined) continue;
        offset = writeString(key, target, offset);
        offset = encodeInto(item, target, offset);
      }
      return offset;
    }
  }
  throw new TypeError(`cannot encode ${describeType(value)} in a message body (plain data only)`);
}

/** Array (fix 0x90 / 0xdc 16 / 0xdd 32) and map (fix 0x80 / 0xde / 0xdf) headers. */
function writeLength(target: Buffer, offset: number, n: number, fix: number, sixteen: number): number {
  if (n < 16) {
    target[offset] = fix | n;
    return offset + 1;
  }
  if (n < 0x10000) {
    target[offset] = sixteen;
    target.writeUInt16BE(n, offset + 1);
    return offset + 3;
  }
  target[offset] = sixteen + 1;
  target.writeUInt32BE(n, offset + 1);
  return offset + 5;
}

function writeString(value: string, target: Buffer, offset: number): number {
  const bytes = utf8Length(value);
  if (bytes < 32) target[offset++] = 0xa0 | bytes;
  else if (bytes < 0x100) {
    target[offset++] = 0xd9;
    target[offset++] = bytes;
  } else if (bytes < 0x10000) {
    target[offset++] = 0xda;
    target.writeUInt16BE(bytes, offset);
    offset += 2;
  } else {
    target[offset++] = 0xdb;
    target.writeUInt32BE(bytes, offset);
    offset += 4;
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
        target.writeUInt16BE(value, offset + 1);
        return offset + 3;
      }
      if (value < 0x100000000) {
        target[offset] = 0xce;
        target.writeUInt32BE(value, offset + 1);
        return offset + 5;
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

class Reader {
  offset: number;
  constructor(
    readonly bytes: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.offset = start;
  }

  need(n: number): void {
    if (this.offset + n > this.end) throw new RangeError('truncated');
  }
}

/**
 * Decode exactly one value filling `bytes[start, end)`. Truncated input,
 * trailing bytes and unsupported types (extensions, non-string map keys) are a
 * DecodeError naming `messageName`.
 */
export function decodeBody(bytes: Buffer, messageName: string, start = 0, end = bytes.length): unknown {
  const reader = new Reader(bytes, start, end);
  let value: unknown;
  try {
    value = readValue(reader, 0);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new DecodeError(`malformed MessagePack body (${reason})`, { messageName, cause: error });
  }
  if (reader.offset !== end) {
    throw new DecodeError(`malformed MessagePack body (${end - reader.offset} bytes after the value)`, { messageName });
  }
  return value;
}

function readValue(r: Reader, depth: number): unknown {
  r.need(1);
  const bytes = r.bytes;
  const type = bytes[r.offset++]!;
  if (type < 0x80) return type;
  if (type >= 0xe0) return type - 0x100;
  if (type >= 0xa0 && type < 0xc0) return readString(r, type & 0x1f);
  if (type >= 0x90 && type < 0xa0) return readArray(r, type & 0x0f, depth);
  if (type >= 0x80 && type < 0x90) return readMap(r, type & 0x0f, depth);
  let value: unknown;
  const at = r.offset;
  switch (type) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
      r.need(1);
      return readBinary(r, bytes[r.offset++]!);
    case 0xc5:
      r.need(2);
      r.offset += 2;
      return readBinary(r, bytes.readUInt16BE(at));
    case 0xc6:
      r.need(4);
      r.offset += 4;
      return readBinary(r, bytes.readUInt32BE(at));
    case 0xca:
      r.need(4);
      r.offset += 4;
      return bytes.readFloatBE(at);
    case 0xcb:
      r.need(8);
      r.offset += 8;
      return bytes.readDoubleBE(at);
    case 0xcc:
      r.need(1);
      return bytes[r.offset++]!;
    case 0xcd:
      r.need(2);
      r.offset += 2;
      return bytes.readUInt16BE(at);
    case 0xce:
      r.need(4);
      r.offset += 4;
      return bytes.readUInt32BE(at);
    case 0xcf:
      r.need(8);
      r.offset += 8;
      // Beyond 2^53 this loses precision; schemas (uint/int) then reject it as unsafe.
      return bytes.readUInt32BE(at) * 0x100000000 + bytes.readUInt32BE(at + 4);
    case 0xd0:
      r.need(1);
      r.offset += 1;
      return bytes.readInt8(at);
    case 0xd1:
      r.need(2);
      r.offset += 2;
      return bytes.readInt16BE(at);
    case 0xd2:
      r.need(4);
      r.offset += 4;
      return bytes.readInt32BE(at);
    case 0xd3:
      r.need(8);
      r.offset += 8;
      return Number(bytes.readBigInt64BE(at));
    case 0xd4:
      // fixext 1 of type 0, data 0: how msgpackr writes `undefined`.
      r.need(2);
      if (bytes[at] === 0 && bytes[at + 1] === 0) {
        r.offset += 2;
        return undefined;
      }
      throw new RangeError(`unsupported extension type ${bytes[at]}`);
    case 0xd9:
      r.need(1);
      return readString(r, bytes[r.offset++]!);
    case 0xda:
      r.need(2);
      r.offset += 2;
      return readString(r, bytes.readUInt16BE(at));
    case 0xdb:
      r.need(4);
      r.offset += 4;
      return readString(r, bytes.readUInt32BE(at));
    case 0xdc:
      r.need(2);
      r.offset += 2;
      return readArray(r, bytes.readUInt16BE(at), depth);
    case 0xdd:
      r.need(4);
      r.offset += 4;
      return readArray(r, bytes.readUInt32BE(at), depth);
    case 0xde:
      r.need(2);
      r.offset += 2;
      return readMap(r, bytes.readUInt16BE(at), depth);
    case 0xdf:
      r.need(4);
      r.offset += 4;
      return readMap(r, bytes.readUInt32BE(at), depth);
    default:
      value = type;
  }
  throw new RangeError(`unsupported type byte 0x${(value as number).toString(16)}`);
}

function readBinary(r: Reader, n: number): Buffer {
  r.need(n);
  // A copy in Node's pool (what Buffer.from does), not a view of the frame.
  const copy = Buffer.allocUnsafe(n);
  const bytes = r.bytes;
  const start = r.offset;
  if (n <= 64) {
    for (let i = 0; i < n; i++) copy[i] = bytes[start + i]!; // Cheaper than a native call for small values.
  } else {
    bytes.copy(copy, 0, start, start + n);
  }
  r.offset += n;
  return copy;
}

function readString(r: Reader, n: number): string {
  r.need(n);
  const bytes = r.bytes;
  const start = r.offset;
  r.offset += n;
  if (n <= 32) {
    let ascii = '';
    for (let i = start; i < start + n; i++) {
      const c = bytes[i]!;
      if (c >= 0x80) return textDecoder.decode(bytes.subarray(start, start + n));
      ascii += String.fromCharCode(c);
    }
    return ascii;
  }
  return textDecoder.decode(bytes.subarray(start, start + n));
}

function readArray(r: Reader, n: number, depth: number): unknown[] {
  if (depth >= depthMax) throw new RangeError(`nested deeper than ${depthMax}`);
  // Every item takes at least one byte: refuse counts the input cannot hold before allocating.
  r.need(n);
  const items = new Array<unknown>(n);
  for (let i = 0; i < n; i++) items[i] = readValue(r, depth + 1);
  return items;
}

function readMap(r: Reader, n: number, depth: number): Record<string, unknown> {
  if (depth >= depthMax) throw new RangeError(`nested deeper than ${depthMax}`);
  r.need(n * 2);
  const object: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    const key = readValue(r, depth + 1);
    if (typeof key !== 'string') throw new RangeError('a map key is not a string');
    // "__proto__" as a plain assignment would set the prototype: refuse it.
    if (key === '__proto__') throw new RangeError('a map key is "__proto__"');
    object[key] = readValue(r, depth + 1);
  }
  return object;
}
