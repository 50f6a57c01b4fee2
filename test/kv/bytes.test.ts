import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crc32c as nativeCrc32c } from '@node-rs/crc32';
import { varintBytes } from '../../src/common/varint.js';
import { ByteReader, ByteWriter, compareBytes, copyBytes, prefixEnd } from '../../src/kv/bytes.js';
import { crc32c } from '../../src/kv/crc32c.js';

const fail = (reason: string): never => {
  throw new Error(reason);
};

test('compareBytes orders unsigned bytes lexicographically, shorter prefix first', () => {
  assert.ok(compareBytes(Uint8Array.of(1), Uint8Array.of(2)) < 0);
  assert.ok(compareBytes(Uint8Array.of(0x7f), Uint8Array.of(0x80)) < 0, 'bytes are unsigned');
  assert.ok(compareBytes(Uint8Array.of(0xff), Uint8Array.of(0xff, 0)) < 0, 'a prefix sorts first');
  assert.equal(compareBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2)), 0);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 }), (a, c) => {
      const expected = Buffer.compare(Buffer.from(a), Buffer.from(c));
      assert.equal(Math.sign(compareBytes(a, c)), expected);
    }),
  );
});

test('prefixEnd is the first key after every key with the prefix', () => {
  assert.deepEqual(prefixEnd(Uint8Array.of(0x61)), Uint8Array.of(0x62));
  assert.deepEqual(prefixEnd(Uint8Array.of(0x61, 0xff)), Uint8Array.of(0x62));
  assert.deepEqual(prefixEnd(Uint8Array.of(0x61, 0xfe, 0xff, 0xff)), Uint8Array.of(0x61, 0xff));
  assert.equal(prefixEnd(Uint8Array.of(0xff, 0xff)), null, 'an all-0xff prefix runs to the end of the key space');
  assert.equal(prefixEnd(new Uint8Array(0)), null);
  const input = Uint8Array.of(1, 2);
  prefixEnd(input);
  assert.deepEqual(input, Uint8Array.of(1, 2), 'the prefix is not modified');
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 4 }), fc.uint8Array({ maxLength: 4 }), (prefix, key) => {
      const end = prefixEnd(prefix);
      const startsWith = key.length >= prefix.length && compareBytes(key.subarray(0, prefix.length), prefix) === 0;
      const inRange = compareBytes(key, prefix) >= 0 && (end === null || compareBytes(key, end) < 0);
      assert.equal(inRange, startsWith);
    }),
  );
});

test('varints round-trip every safe integer and reject overlong or oversize encodings', () => {
  fc.assert(
    fc.property(fc.array(fc.maxSafeNat(), { maxLength: 20 }), (values) => {
      const w = new ByteWriter(1);
      for (const v of values) w.varint(v);
      const bytes = w.finish();
      assert.equal(bytes.length, values.reduce((n, v) => n + varintBytes(v), 0));
      const r = new ByteReader(bytes, fail);
      for (const v of values) assert.equal(r.varint(), v);
      r.expectEnd();
    }),
  );
  const w = new ByteWriter();
  w.varint(Number.MAX_SAFE_INTEGER);
  assert.equal(w.finish().length, 8);
  assert.throws(() => new ByteReader(new Uint8Array(9).fill(0x80), fail).varint(), /longer than 8 bytes/);
  assert.throws(() => new ByteReader(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), fail).varint(), /2\^53/);
  assert.throws(() => new ByteReader(Uint8Array.of(0x80), fail).varint(), /truncated/);
});

test('ByteReader bounds-checks every read', () => {
  const r = new ByteReader(Uint8Array.of(5, 1, 2), fail);
  assert.throws(() => r.bytesCopy(), /truncated/);
  assert.throws(() => new ByteReader(Uint8Array.of(1, 2, 3), fail).u32(), /truncated/);
  assert.throws(() => new ByteReader(Uint8Array.of(2, 0xc3, 0x28), fail).string(), /UTF-8/);
  assert.throws(() => new ByteReader(Uint8Array.of(1, 2), fail).expectEnd(), /trailing/);
});

test('crc32c matches the standard check value and the native implementation', () => {
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(300), (data, split) => {
      const whole = crc32c(data);
      assert.equal(whole, nativeCrc32c(Buffer.from(data)) >>> 0);
      const at = Math.min(split, data.length);
      assert.equal(crc32c(data.subarray(at), crc32c(data.subarray(0, at))), whole, 'incremental equals whole');
    }),
  );
});

test('prefixEnd never changes a Buffer prefix handed in by a Node caller', () => {
  // Buffer#slice is a view, not a copy: the scan prefix used to be bumped in place.
  const prefix = Buffer.from('user/');
  const end = prefixEnd(prefix);
  assert.equal(prefix.toString(), 'user/');
  assert.deepEqual(end && Array.from(end), Array.from(Buffer.from('user0')));
});

test('copyBytes copies even when given a Buffer', () => {
  const source = Buffer.from([1, 2, 3, 4]);
  const copy = copyBytes(source, 1, 3);
  source[1] = 9;
  assert.deepEqual(Array.from(copy), [2, 3]);
  assert.equal(Object.getPrototypeOf(copy), Uint8Array.prototype, 'a plain Uint8Array, not a Buffer');
  assert.notEqual(copy.buffer, source.buffer);
  const plain = Uint8Array.of(5, 6, 7);
  const plainCopy = copyBytes(plain, 0, 2);
  plain[0] = 0;
  assert.deepEqual(Array.from(plainCopy), [5, 6]);
  assert.equal(plainCopy.buffer.byteLength, 2, 'just the copied bytes');
});
