/**
 * Unsigned LEB128 varints, as the server's own binary formats use them (the
 * proposal envelope, packed AppendEntries entries): 7 bits per byte, least
 * significant first, the high bit set on every byte but the last. Values are
 * JavaScript numbers, so arithmetic is by division rather than bit shifts
 * (which would cut them to 32 bits).
 */

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

/** Writes `value` at `pos`; returns where it ends. */
export function writeVarint(target: Uint8Array, pos: number, value: number): number {
  while (value >= 0x80) {
    target[pos++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  target[pos++] = value;
  return pos;
}

/** Where the varint at `pos` ends, or varintTruncated / varintTooLong (over `bytesMax` bytes). */
export function varintEnd(data: Uint8Array, pos: number, bytesMax: number): number {
  for (let i = 0; i < bytesMax; i++) {
    if (pos >= data.length) return varintTruncated;
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
