import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ByteWriter,
  binaryStringFromBytes,
  bytesFromBinaryString,
  compareBinaryStrings,
  compareBytes,
} from '../../src/kv/bytes.js';

const sign = (n: number): number => (n < 0 ? -1 : n > 0 ? 1 : 0);

// Bytes biased towards the cases that matter for order: shared prefixes, 0x00, 0x7f/0x80 and 0xff.
const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x00, 0x7f, 0x80, 0xff));
const bytes = (maxLength: number) => fc.array(byte, { maxLength }).map((a) => Uint8Array.from(a));

test('property: binary strings compare exactly like their bytes in unsigned byte order', () => {
  fc.assert(
    fc.property(bytes(24), bytes(24), bytes(8), (a, b, shared) => {
      // Also compare keys sharing a prefix, as B-tree neighbours do.
      const pa = Uint8Array.from([...shared, ...a]);
      const pb = Uint8Array.from([...shared, ...b]);
      for (const [x, y] of [[a, b], [pa, pb], [pa, pa]] as const) {
        const sx = binaryStringFromBytes(x);
        const sy = binaryStringFromBytes(y);
        assert.equal(sign(compareBinaryStrings(sx, sy)), sign(compareBytes(x, y)));
        assert.equal(sx < sy, compareBytes(x, y) < 0);
        assert.equal(sx === sy, compareBytes(x, y) === 0);
      }
    }),
    { numRuns: 2000 },
  );
});

test('property: bytes -> binary string -> bytes round-trips, for windows and for every length class', () => {
  fc.assert(
    fc.property(bytes(200), fc.nat(), fc.nat(), (data, i, j) => {
      const start = data.length === 0 ? 0 : i % (data.length + 1);
      const end = start + (data.length === 0 ? 0 : j % (data.length - start + 1));
      const s = binaryStringFromBytes(data, start, end);
      assert.equal(s.length, end - start);
      for (let k = 0; k < s.length; k++) assert.ok(s.charCodeAt(k) <= 0xff, 'one byte per char');
      assert.deepEqual(bytesFromBinaryString(s), data.subarray(start, end));
    }),
    { numRuns: 500 },
  );
  // Lengths around the pooled limit (64) and beyond one 8 KiB conversion chunk.
  for (const n of [0, 1, 63, 64, 65, 4096, 8191, 8192, 8193, 20_000]) {
    const data = Uint8Array.from({ length: n }, (_, k) => (k * 131 + 7) & 0xff);
    assert.deepEqual(bytesFromBinaryString(binaryStringFromBytes(data)), data, `length ${n}`);
  }
});

test('ByteWriter.binaryString writes what ByteWriter.bytes writes for the same bytes', () => {
  fc.assert(
    fc.property(bytes(300), (data) => {
      const viaBytes = new ByteWriter(4);
      viaBytes.bytes(data);
      const viaString = new ByteWriter(4);
      viaString.binaryString(binaryStringFromBytes(data));
      assert.deepEqual(viaString.finish(), viaBytes.finish());
    }),
  );
});
