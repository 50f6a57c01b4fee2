/** msgpackr, the reference implementation our codec is checked against, and our encoder as a one-call helper. */
import assert from 'node:assert/strict';
import { Packr, Unpackr } from 'msgpackr';
import { encodeInto, encodedSize } from '../../src/net/msgpack.js';

export const packr = new Packr({ useRecords: false });
export const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/** `value` encoded by our codec (checking that encodeInto fills exactly what encodedSize promised). */
export function encode(value: unknown): Buffer {
  const buffer = Buffer.alloc(encodedSize(value));
  assert.equal(encodeInto(value, buffer, 0), buffer.length);
  return buffer;
}
