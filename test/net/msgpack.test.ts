/**
 * Our MessagePack codec against msgpackr, the reference implementation:
 * what we encode msgpackr decodes to the same value, and what msgpackr
 * encodes we decode to the same value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DecodeError } from '../../src/net/index.js';
import { encode, packr, unpackr } from './msgpack-reference.js';
import { AssertionFailedError } from '../../src/common/errors.js';
import { decodeBody, MsgpackEncoder } from '../../src/net/msgpack.js';


/** Plain data as message bodies carry it (no undefined: msgpackr and we differ on purpose there). */
const plain = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -(2 ** 31), max: 2 ** 32 }),
    fc.maxSafeInteger(),
    fc.maxSafeNat(),
    fc.double({ noNaN: true }),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.string({ minLength: 30, maxLength: 300 }),
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    fc.array(tie('value'), { maxLength: 20 }),
    fc.dictionary(fc.string({ maxLength: 10 }).filter((k) => k !== '__proto__'), tie('value'), { maxKeys: 20 }),
  ),
})).value;

/** msgpackr decodes bin as Buffer and so do we; compare bytes as plain arrays. */
function normalise(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: [...value] };
  if (Array.isArray(value)) return value.map(normalise);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v)]));
  }
  return Object.is(value, -0) ? 0 : value;
}

test('what we encode, msgpackr decodes to the same value (property)', () => {
  fc.assert(
    fc.property(plain, (value) => {
      assert.deepEqual(normalise(unpackr.unpack(encode(value))), normalise(value));
    }),
    { numRuns: 500 },
  );
});

test('what msgpackr encodes, we decode to the same value (property)', () => {
  fc.assert(
    fc.property(plain, (value) => {
      const bytes = packr.pack(value) as Buffer;
      assert.deepEqual(normalise(decodeBody(bytes, 'T')), normalise(value));
    }),
    { numRuns: 500 },
  );
});

test('undefined object fields are left out; msgpackr-style undefined decodes', () => {
  assert.deepEqual(decodeBody(encode({ a: 1, b: undefined }), 'T'), { a: 1 });
  assert.equal(decodeBody(Buffer.from([0xd4, 0, 0]), 'T'), undefined);
});

test('decoded binary fields are copies, not views of the frame', () => {
  const frame = encode({ data: Buffer.from('abc') });
  const decoded = decodeBody(frame, 'T') as { data: Buffer };
  frame.fill(0);
  assert.equal(decoded.data.toString(), 'abc');
});

test('malformed input is a DecodeError: truncation, trailing bytes, bad keys, extensions, invalid UTF-8, depth', () => {
  const cases: Buffer[] = [
    encode({ key: 'value' }).subarray(0, 5),
    Buffer.concat([encode(1), Buffer.from([1])]),
    Buffer.from([0x81, 0x01, 0x02]), // map with an integer key
    Buffer.from([0x81, 0xa9, ...Buffer.from('__proto__'), 0xc0]),
    Buffer.from([0xd5, 0x01, 0x00, 0x00]), // an extension
    Buffer.from([0xa2, 0xc3, 0x28]), // invalid UTF-8
    Buffer.from([0xc1]), // never-used type byte
    Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]), // a 4-billion-item array in 5 bytes
    Buffer.alloc(200, 0x91), // arrays nested 200 deep
    Buffer.alloc(0),
  ];
  for (const bytes of cases) {
    assert.throws(() => decodeBody(bytes, 'Thing'), (error: unknown) => {
      assert.ok(error instanceof DecodeError, String(error));
      assert.equal(error.messageName, 'Thing');
      return true;
    }, bytes.toString('hex'));
  }
});

test('values outside plain data are refused when encoding', () => {
  for (const value of [new Map(), new Date(), 1n, () => {}, Symbol('x'), { nested: new Set() }]) {
    assert.throws(() => new MsgpackEncoder().measure(value), TypeError);
  }
});

test('an encoder writes the value it measured last, once; measuring others in between changes nothing', () => {
  const a = { key: 'κλειδί', list: [{ y: 1 }, { z: 'two', w: undefined }], n: null, many: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`f${i}`, `v${i}`])) };
  const b = { other: ['a', { deep: 'bb' }], x: 'ccc' };
  const expected = encode(a).toString('hex');
  assert.deepEqual(unpackr.unpack(Buffer.from(expected, 'hex')), { key: 'κλειδί', list: [{ y: 1 }, { z: 'two' }], n: null, many: a.many });
  const encoder = new MsgpackEncoder();
  const write = (): string => {
    const buffer = Buffer.alloc(expected.length / 2);
    assert.equal(encoder.write(buffer, 0), buffer.length);
    return buffer.toString('hex');
  };
  encoder.measure(b);
  assert.equal(encoder.measure(a), expected.length / 2);
  assert.equal(write(), expected); // b measured before a: a is written
  assert.throws(write, AssertionFailedError); // one write per measure
  assert.throws(() => encoder.measure({ ok: 'x', bad: new Map() }), TypeError); // a measure that fails midway...
  assert.throws(write, AssertionFailedError); // ...leaves nothing to write
  encoder.measure(a);
  new MsgpackEncoder().measure(b); // another encoder's measure does not touch this one's tape
  assert.equal(write(), expected);
  encoder.measure(Buffer.from('bytes')); // a bytes body (no tape) in between
  assert.equal(encoder.write(Buffer.alloc(7), 0), 7);
  encoder.measure(a);
  assert.equal(write(), expected);
  encoder.measure(a);
  encoder.discard(); // a frame refused after its measure
  assert.throws(write, AssertionFailedError);
});
