/** msgpackr, the reference implementation our codec is checked against, and our encoder as a one-call helper. */
import { Packr, Unpackr } from 'msgpackr';

export const packr = new Packr({ useRecords: false });
export const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/** `value` encoded by our codec (encode asserts that the write filled exactly what the measure promised). */
export { encode } from '../../src/net/msgpack.js';
