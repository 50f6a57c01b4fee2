/**
 * The arithmetic of an `incr` transaction op (Redis's INCRBY and
 * INCRBYFLOAT, decided at apply time so that every replica computes the same
 * value from the same bytes): which stored strings count as numbers, the
 * result's text, and the errors. Pure: the RESP front end uses the same
 * rules for the increment argument and inside MULTI.
 */
import { IncrementOverflowError, NotANumberError } from './errors.js';

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;
/** Redis's string2ll: an optional '-', then no leading zeros, no '+', no spaces. */
const INTEGER_TEXT = /^(0|-?[1-9][0-9]*)$/;
/** What strtold reads in full (decimal, with exponent; inf/infinity); hex floats are not taken. */
const FLOAT_TEXT = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const INFINITY_TEXT = /^[-+]?inf(inity)?$/i;
/** Redis's MAX_LONG_DOUBLE_CHARS: longer strings are not floats. */
const FLOAT_TEXT_CHARS_MAX = 5 * 1024;
const EMPTY_KEY = new Uint8Array(0);

/** Bytes as a latin1 string (no Buffer in src/kv). */
export function textOf(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += String.fromCharCode(bytes[i]!);
  return out;
}

export function bytesOfText(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** The int64 a string holds under Redis's rules, or null. */
export function parseInt64(text: string): bigint | null {
  if (text.length > 20 || !INTEGER_TEXT.test(text)) return null;
  const n = BigInt(text);
  return n > INT64_MAX || n < INT64_MIN ? null : n;
}

/** The float a string holds under Redis's string2ld rules (NaN and empty refused), or null. */
export function parseRedisFloat(text: string): number | null {
  if (text.length === 0 || text.length >= FLOAT_TEXT_CHARS_MAX) return null;
  if (INFINITY_TEXT.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (!FLOAT_TEXT.test(text)) return null;
  const n = Number(text);
  // strtold's ERANGE: an overflow to infinity is refused (an underflow to zero reads as 0 here).
  return Number.isFinite(n) ? n : null;
}

/**
 * INCRBYFLOAT's result text: Redis prints its long double with up to 17
 * significant digits and no exponent; the shortest text that reads back as
 * the same double is what that gives for every value a double holds.
 */
export function formatRedisFloat(n: number): string {
  const text = String(n);
  if (!text.includes('e')) return text;
  if (Math.abs(n) >= 1) return BigInt(Math.trunc(n)).toString();
  return n.toFixed(20).replace(/0+$/, '').replace(/\.$/, '');
}

/**
 * The new value of a key holding `current` (undefined: missing, counts as
 * 0) after adding `by` (an int64's decimal text, or with `float` a float's):
 * the text to store. Throws NotANumberError or IncrementOverflowError.
 */
export function incrementedValue(current: Uint8Array | undefined, by: Uint8Array, float: boolean, key: Uint8Array = EMPTY_KEY): Uint8Array {
  const kind = float ? 'float' : 'integer';
  if (float) {
    const delta = parseRedisFloat(textOf(by));
    const base = current === undefined ? 0 : parseRedisFloat(textOf(current));
    if (delta === null || base === null) throw new NotANumberError({ key, kind });
    const n = base + delta;
    if (!Number.isFinite(n)) throw new IncrementOverflowError({ key, kind });
    return bytesOfText(formatRedisFloat(n));
  }
  const delta = parseInt64(textOf(by));
  const base = current === undefined ? 0n : parseInt64(textOf(current));
  if (delta === null || base === null) throw new NotANumberError({ key, kind });
  const n = base + delta;
  if (n > INT64_MAX || n < INT64_MIN) throw new IncrementOverflowError({ key, kind });
  return bytesOfText(n.toString());
}
