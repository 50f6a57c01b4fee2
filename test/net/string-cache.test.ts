/**
 * The decoder's cache of short strings (src/net/string-cache.ts): whatever
 * the cache holds, every key and string value decodes to exactly what was
 * encoded, and bad keys are refused as before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DecodeError } from '../../src/net/index.js';
import { encode, packr, unpackr } from './msgpack-reference.js';
import { decodeBody } from '../../src/net/msgpack.js';
import { cachedStringBytesMax, slotOf, slotsCount } from '../../src/net/string-cache.js';


function roundTrip(value: unknown): void {
  assert.deepEqual(decodeBody(encode(value), 'T'), value);
}

test('more distinct keys than the cache has slots decode right, and again after they were evicted', () => {
  const keys = Array.from({ length: 3 * slotsCount }, (_, i) => `k${i.toString(36)}`);
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < keys.length; i += 8) {
      const object: Record<string, number> = {};
      for (const key of keys.slice(i, i + 8)) object[key] = i;
      roundTrip(object);
    }
  }
});

test('strings that hash to the same slot never decode as each other', () => {
  // Find ASCII keys of the same length sharing a slot (brute force over a few thousand).
  const bySlot = new Map<number, string>();
  const pairs: [string, string][] = [];
  for (let i = 0; pairs.length < 20; i++) {
    const key = `key-${i}`;
    const bytes = Buffer.from(key);
    const slot = slotOf(bytes, 0, bytes.length);
    const other = bySlot.get(slot);
    if (other !== undefined && other.length === key.length) pairs.push([other, key]);
    else bySlot.set(slot, key);
  }
  for (const [a, b] of pairs) {
    assert.equal(slotOf(Buffer.from(a), 0, a.length), slotOf(Buffer.from(b), 0, b.length));
    for (let round = 0; round < 3; round++) {
      roundTrip({ [a]: 1, [b]: 2 });
      roundTrip({ [b]: a, [a]: b });
      assert.equal(decodeBody(encode(a), 'T'), a);
      assert.equal(decodeBody(encode(b), 'T'), b);
    }
  }
});

test('strings differing only in trailing NUL bytes or in length are told apart', () => {
  const strings = ['', '\0', 'a', 'a\0', 'a\0\0', 'a\0\0\0', 'a\0\0\0\0', 'abcd', 'abcd\0', '\0abc', 'x'.repeat(cachedStringBytesMax), 'x'.repeat(cachedStringBytesMax - 1) + '\0'];
  for (let round = 0; round < 2; round++) {
    for (const value of strings) {
      assert.equal(decodeBody(encode(value), 'T'), value);
      roundTrip({ [value]: value });
    }
  }
});

test('non-ASCII keys and values, around the cached length limit', () => {
  const strings = ['κλειδί', '键', 'clé', '🔑', 'ñ'.repeat(15), 'ñ'.repeat(16), 'ñ'.repeat(17), 'a'.repeat(31), 'a'.repeat(32), 'a'.repeat(33)];
  for (let round = 0; round < 2; round++) {
    for (const value of strings) {
      roundTrip({ [value]: value, nested: { [value]: [value] } });
      // Keys longer than 31 bytes use str8 and go through the general path: still right.
      assert.deepEqual(unpackr.unpack(encode({ [value]: 1 })), { [value]: 1 });
    }
  }
});

test('invalid UTF-8 in a short key or value is a DecodeError, and is not cached', () => {
  const badKey = Buffer.from([0x81, 0xa2, 0xc3, 0x28, 0x01]);
  const badValue = Buffer.from([0xa2, 0xc3, 0x28]);
  for (let round = 0; round < 2; round++) {
    for (const bytes of [badKey, badValue]) {
      assert.throws(() => decodeBody(bytes, 'Thing'), (error: unknown) => error instanceof DecodeError && error.messageName === 'Thing');
    }
  }
  // The same length and slot with valid bytes still decodes.
  assert.equal(decodeBody(Buffer.from([0xa2, 0xc3, 0xa9]), 'T'), 'é');
});

test('"__proto__" is refused as a key even when the cache already holds it', () => {
  assert.equal(decodeBody(encode('__proto__'), 'T'), '__proto__'); // As a value it is fine (and now cached).
  assert.deepEqual(decodeBody(encode({ a: '__proto__' }), 'T'), { a: '__proto__' });
  const asKey = Buffer.from([0x81, 0xa9, ...Buffer.from('__proto__'), 0xc0]);
  const asStr8Key = Buffer.from([0x81, 0xd9, 9, ...Buffer.from('__proto__'), 0xc0]);
  for (const bytes of [asKey, asStr8Key]) {
    assert.throws(() => decodeBody(bytes, 'Thing'), (error: unknown) => {
      assert.ok(error instanceof DecodeError);
      assert.match(error.message, /__proto__/);
      return true;
    });
  }
  assert.equal(Object.getPrototypeOf(decodeBody(encode({ a: 1 }), 'T')), Object.prototype);
});

test('objects with keys from a small alphabet (many repeats and collisions) match msgpackr both ways (property)', () => {
  const key = fc.string({ unit: fc.constantFrom('a', 'b', 'é', '\0', '1'), maxLength: 6 }).filter((k) => k !== '__proto__');
  const value = fc.oneof(fc.integer(), key, fc.constant(null));
  const object = fc.dictionary(key, fc.oneof(value, fc.dictionary(key, value, { maxKeys: 5, noNullPrototype: true })), { maxKeys: 8, noNullPrototype: true });
  fc.assert(
    fc.property(object, (input) => {
      assert.deepEqual(decodeBody(packr.pack(input) as Buffer, 'T'), input);
      assert.deepEqual(unpackr.unpack(encode(input)), input);
    }),
    { numRuns: 500 },
  );
});
