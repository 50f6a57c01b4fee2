/**
 * Keys and values are bytes on the wire; the client accepts strings too and
 * encodes them as UTF-8, so `put('a', 'b')` and `put(bytes('a'), bytes('b'))`
 * address the same key.
 */
export type BytesLike = string | Uint8Array;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: false });

/** The bytes of a key or value as they travel on the wire. */
export function toBytes(input: BytesLike): Uint8Array {
  return typeof input === 'string' ? utf8Encoder.encode(input) : input;
}

/** UTF-8 text of some bytes (invalid sequences become U+FFFD). */
export function bytesToString(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes);
}

/**
 * The smallest key greater than every key starting with `prefix`, or null when
 * no such key exists (the prefix is empty or all 0xff bytes). Used to turn a
 * prefix into a half-open [start, end) range.
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array | null {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i]! < 0xff) {
      const end = prefix.slice(0, i + 1);
      end[i] = prefix[i]! + 1;
      return end;
    }
  }
  return null;
}
