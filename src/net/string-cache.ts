/**
 * A cache of short decoded strings, keyed by their exact UTF-8 bytes: map
 * keys (`revision`, `leaderId`...) and short repeated values (`n1`,
 * `AppendEntries`, a member's URL) decode to the same string object every
 * time instead of a fresh one per message.
 *
 * Why it pays: building a fresh string per key costs an allocation, and
 * using it as a property key makes V8 look it up in its string table on every
 * store (the decoded object's keyed store goes through the runtime); a cached
 * key was internalized by its first store and hits the store's fast path.
 * (Decoded objects of one layout share a hidden class either way: V8 finds
 * the transition by the internalized name.) msgpackr keeps a similar key
 * cache. Measured on a kv-like call (object request and response, in-process,
 * both ends): about a quarter less CPU per call.
 *
 * Direct-mapped, `slotsCount` slots: a slot holds one string and the bytes it
 * came from (as 32-bit words, zero-padded), so a hit is a few integer
 * compares and a collision just replaces the slot. A hit is only ever for the
 * same length and identical bytes, hence the same string: collisions cost
 * speed, never correctness. Memory is bounded: at most `slotsCount` strings of
 * at most `cachedStringBytesMax` bytes.
 */
import { Buffer } from 'node:buffer';

/** Longer strings are decoded without the cache (keys and repeated short values are shorter). */
export const cachedStringBytesMax = 32;
const wordsPerSlot = cachedStringBytesMax / 4;
/** Slots in the cache (a power of two). */
export const slotsCount = 4096;
const slotMask = slotsCount - 1;

const slotStrings: (string | undefined)[] = new Array<string | undefined>(slotsCount).fill(undefined);
const slotLengths = new Int32Array(slotsCount).fill(-1);
const slotWords = new Int32Array(slotsCount * wordsPerSlot);
/** The words of the string being looked up (at most wordsPerSlot of them), and their OR (for an ASCII check). */
const words = new Int32Array(wordsPerSlot);
let packedHigh = 0;

const textDecoder = new TextDecoder('utf-8', { fatal: true });
/** V8 represents concatenations of at least this many characters as ropes (ConsString). */
const consStringBytesMin = 13;

/**
 * The string of `bytes[start, start + n)` (n <= cachedStringBytesMax),
 * decoded as UTF-8. Invalid UTF-8 throws TypeError (and is not cached).
 */
export function cachedString(bytes: Buffer, start: number, n: number): string {
  const slot = slotOf(bytes, start, n);
  const wordCount = (n + 3) >>> 2;
  if (slotLengths[slot] === n) {
    const base = slot * wordsPerSlot;
    let same = true;
    for (let w = 0; w < wordCount; w++) {
      if (slotWords[base + w] !== words[w]) {
        same = false;
        break;
      }
    }
    if (same) return slotStrings[slot]!;
  }
  let value: string;
  if ((packedHigh & 0x80808080) !== 0) {
    value = textDecoder.decode(bytes.subarray(start, start + n));
  } else if (n < consStringBytesMin) {
    // Short ASCII: building it in JS beats a native call, and the result is a flat string.
    value = '';
    for (let i = start; i < start + n; i++) value += String.fromCharCode(bytes[i]!);
  } else {
    // (Concatenation would make a rope here, flattened again on every use as a key.)
    value = bytes.toString('latin1', start, start + n);
  }
  slotStrings[slot] = value;
  slotLengths[slot] = n;
  const base = slot * wordsPerSlot;
  for (let w = 0; w < wordCount; w++) slotWords[base + w] = words[w]!;
  return value;
}

/**
 * Pack `bytes[start, start + n)` into `words` (little-endian 32-bit words,
 * zero-padded) and return the slot it hashes to. Exported for tests (to make
 * strings that collide).
 */
export function slotOf(bytes: Uint8Array, start: number, n: number): number {
  let hash = n;
  let high = 0;
  const wordCount = (n + 3) >>> 2;
  for (let w = 0; w < wordCount; w++) {
    const at = start + 4 * w;
    const left = n - 4 * w;
    let word = bytes[at]!;
    if (left > 1) word |= bytes[at + 1]! << 8;
    if (left > 2) word |= bytes[at + 2]! << 16;
    if (left > 3) word |= bytes[at + 3]! << 24;
    words[w] = word;
    high |= word;
    hash = Math.imul(hash ^ word, 0x9e3779b1);
    hash ^= hash >>> 15;
  }
  packedHigh = high;
  return (hash ^ (hash >>> 13)) & slotMask;
}
