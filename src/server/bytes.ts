/**
 * Node Buffers (what the codec and the storage hand us) differ from plain
 * Uint8Arrays in one dangerous way: `Buffer#slice` returns a view, not a
 * copy. Code written for Uint8Array (the key-value layer copies keys with
 * `slice()`, and builds prefix ends from `slice()` copies) would then alias,
 * or even modify, the caller's bytes. Handing it a plain Uint8Array view of
 * the same memory (no copy) keeps `slice()` a copy.
 */
export function plainBytes(bytes: Uint8Array): Uint8Array {
  return Buffer.isBuffer(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes;
}
