/**
 * Unsigned LEB128 varints, the one integer encoding of Concord's own binary
 * formats (kv commands and snapshots, the server's proposal envelope and
 * packed entries): 7 bits per byte, least significant first, the high bit set
 * on every byte but the last. Values are JavaScript numbers up to 2^53 - 1, so
 * arithmetic is by division rather than bit shifts (which would cut them to
 * 32 bits).
 *
 * This module imports nothing, so every layer may use it.
 */

/** The longest varint any format accepts: 8 bytes carry 56 bits, enough for Number.MAX_SAFE_INTEGER. */
export const varintBytesMax = 8;

/** varintEnd: the input ends inside the varint. */
export const varintTruncated = -1;
/** varintEnd: the varint runs over its byte limit. */
export const varintTooLong = -2;

/** Bytes `value` takes. */
export function varintBytes(value: number): number {
  let n = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    n++;
  }
  return n;
}

/** Writes `value` at `pos` (the caller made room: varintBytes(value)); returns where it ends. */
export function writeVarint(target: Uint8Array, pos: number, value: number): number {
  while (value >= 0x80) {
    target[pos++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  target[pos++] = value;
  return pos;
}

/**
 * Where the varint at `pos` ends, or varintTruncated (the input, which ends at
 * `end`, ends first) / varintTooLong (over `bytesMax` bytes).
 */
export function varintEnd(data: Uint8Array, pos: number, bytesMax = varintBytesMax, end = data.length): number {
  for (let i = 0; i < bytesMax; i++) {
    if (pos >= end) return varintTruncated;
    if ((data[pos++]! & 0x80) === 0) return pos;
  }
  return varintTooLong;
}

/** The value of the varint at `pos`, already checked by varintEnd. */
export function readVarint(data: Uint8Array, pos: number): number {
  let value = 0;
  let scale = 1;
  for (;;) {
    const byte = data[pos++]!;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return value;
    scale *= 0x80;
  }
}
