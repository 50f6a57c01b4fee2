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
