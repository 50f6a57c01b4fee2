/**
 * Byte helpers shared by the command codec, the snapshot format and the
 * ordered key space: unsigned byte-order comparison, prefix ranges, binary
 * strings (the form keys take inside the state machine), and a small binary
 * writer/reader with varints (common/varint.ts) for integers up to 2^53 - 1.
 */
import { readVarint, varintBytesMax, varintEnd, varintTooLong, varintTruncated, writeVarint } from '../common/varint.js';

/** Unsigned lexicographic order: the order of keys in scans. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/**
 * A "binary string": one UTF-16 code unit per byte, each 0..255. Keys live in
 * the key tree in this form because V8 compares such (one-byte, flat) strings
 * natively, several times faster than a JS loop over two Uint8Arrays, and
 * stores them in far less memory than a Uint8Array (no ArrayBuffer, no
 * backing store). JS string order compares code units as unsigned numbers,
 * then length, so `a < b` for binary strings is exactly `compareBytes < 0` on
 * their bytes (test/kv/binary-string.test.ts checks it as a property).
 */
export type BinaryString = string;

/** Unsigned byte order of binary strings (the key tree's comparator). */
export function compareBinaryStrings(a: BinaryString, b: BinaryString): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Reused argument arrays for `String.fromCharCode.apply`, one per length up
 * to BINARY_STRING_POOLED_MAX: building a short string from a packed array of
 * small integers is the fastest conversion V8 offers to plain JS (no
 * intermediate cons strings to flatten, no typed-array view). The pool holds
 * only numbers and never escapes, so reusing it cannot leak state.
 */
const BINARY_STRING_POOLED_MAX = 64;
// Array.from gives packed arrays of small integers, the kind `apply` spreads fastest.
const argumentPool: number[][] = Array.from({ length: BINARY_STRING_POOLED_MAX + 1 }, (_, n) => Array.from({ length: n }, () => 0));
/** Longer conversions go through `apply` on typed-array windows of this many bytes (well under engines' argument limits). */
const BINARY_STRING_CHUNK_BYTES = 8192;
const fromCharCode = String.fromCharCode;

/** `bytes[start, end)` as a binary string (a flat one-byte string). */
export function binaryStringFromBytes(bytes: Uint8Array, start = 0, end = bytes.length): BinaryString {
  const n = end - start;
  if (n <= BINARY_STRING_POOLED_MAX) {
    const args = argumentPool[n]!;
    for (let i = 0; i < n; i++) args[i] = bytes[start + i]!;
    return fromCharCode.apply(null, args);
  }
  let out = '';
  for (let from = start; from < end; from += BINARY_STRING_CHUNK_BYTES) {
    const to = Math.min(from + BINARY_STRING_CHUNK_BYTES, end);
    out += fromCharCode.apply(null, bytes.subarray(from, to) as unknown as number[]);
  }
  return out;
}

/** The bytes of a binary string (a fresh array). */
export function bytesFromBinaryString(text: BinaryString): Uint8Array {
  const n = text.length;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = text.charCodeAt(i);
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The smallest key greater than every key that starts with `prefix`, or null
 * when there is none (the prefix is empty or all 0xff bytes: the range then
 * runs to the end of the key space).
 */
/**
 * A fresh copy of `bytes[start, end)`, always a plain Uint8Array. It uses
 * Uint8Array#slice, the fastest copy V8 offers (it need not zero the new
 * memory first), but never on a subclass such as Node's Buffer: there `slice`
 * is a view that shares memory (keeping or mutating it would corrupt the
 * caller's data or pin a large buffer), and the species machinery would build
 * a Buffer anyway. Those are copied through a plain view of their bytes.
 */
export function copyBytes(bytes: Uint8Array, start = 0, end = bytes.length): Uint8Array {
  if (Object.getPrototypeOf(bytes) === Uint8Array.prototype) return bytes.slice(start, end);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength).slice(start, end);
}

export function prefixEnd(prefix: Uint8Array): Uint8Array | null {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i] !== 0xff) {
      const end = copyBytes(prefix, 0, i + 1);
      end[i]! += 1;
      return end;
    }
  }
  return null;
}

/** Appends to a buffer that grows by doubling; `finish()` returns the written bytes. */
export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  pos = 0;

  constructor(initialBytes = 256) {
    this.buf = new Uint8Array(initialBytes);
    this.view = new DataView(this.buf.buffer);
  }

  private ensure(extra: number): void {
    const needed = this.pos + extra;
    if (needed <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < needed) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(value: number): void {
    this.ensure(1);
    this.buf[this.pos++] = value;
  }

  u32(value: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, value);
    this.pos += 4;
  }

  /** Overwrites 4 bytes written earlier (a length or count known only afterwards). */
  u32At(offset: number, value: number): void {
    this.view.setUint32(offset, value);
  }

  varint(value: number): void {
    this.ensure(varintBytesMax);
    this.pos = writeVarint(this.buf, this.pos, value);
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** Length-prefixed bytes. */
  bytes(bytes: Uint8Array): void {
    this.varint(bytes.length);
    this.raw(bytes);
  }

  string(text: string): void {
    this.bytes(utf8Encoder.encode(text));
  }

  /** A binary string as length-prefixed bytes (the same encoding as `bytes()` of its bytes). */
  binaryString(text: BinaryString): void {
    const n = text.length;
    this.varint(n);
    this.ensure(n);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < n; i++) buf[pos++] = text.charCodeAt(i);
    this.pos = pos;
  }

  /** Bytes the buffer holds now (written or not). */
  get capacity(): number {
    return this.buf.length;
  }

  /** Starts over at position 0, keeping the buffer (a scratch writer reused for short-lived bytes). */
  reset(): void {
    this.pos = 0;
  }

  /** A view of everything written so far (no copy: the writer must not be used afterwards, except after reset()). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** The internal buffer, for in-place patching such as a checksum over a written range. */
  written(from: number, to: number): Uint8Array {
    return this.buf.subarray(from, to);
  }
}

export const utf8Encoder = new TextEncoder();
export const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads what ByteWriter wrote. Every read is bounds-checked; a violation calls
 * `fail(reason)`, which must throw (the caller picks the typed error).
 */
export class ByteReader {
  pos: number;
  private readonly view: DataView;

  constructor(
    readonly buf: Uint8Array,
    private readonly fail: (reason: string) => never,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  u8(): number {
    if (this.pos >= this.end) this.fail('truncated (expected a byte)');
    return this.buf[this.pos++]!;
  }

  u32(): number {
    if (this.pos + 4 > this.end) this.fail('truncated (expected 4 bytes)');
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  varint(): number {
    const end = varintEnd(this.buf, this.pos, varintBytesMax, this.end);
    if (end === varintTruncated) this.fail('truncated varint');
    if (end === varintTooLong) this.fail('varint longer than 8 bytes');
    const value = readVarint(this.buf, this.pos);
    this.pos = end;
    if (value > Number.MAX_SAFE_INTEGER) this.fail('integer exceeds 2^53 - 1');
    return value;
  }

  /** `length` bytes as a view into the buffer (no copy). */
  raw(length: number): Uint8Array {
    if (length > this.end - this.pos) this.fail(`truncated (expected ${length} bytes, ${this.end - this.pos} left)`);
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  /** Length-prefixed bytes, copied out so that they do not pin the whole buffer in memory. */
  bytesCopy(): Uint8Array {
    return copyBytes(this.raw(this.varint()));
  }

  string(): string {
    const raw = this.raw(this.varint());
    try {
      return utf8Decoder.decode(raw);
    } catch {
      return this.fail('invalid UTF-8 in a string');
    }
  }

  expectEnd(): void {
    if (this.pos !== this.end) this.fail(`${this.end - this.pos} unexpected trailing bytes`);
  }
}
