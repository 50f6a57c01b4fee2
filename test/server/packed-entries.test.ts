/** The packed AppendEntries entries (src/server/packed-entries.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EntryPacker, packEntries, packedEntriesFailure, unpackEntries } from '../../src/server/packed-entries.js';
import { EntryType, type Entry } from '../../src/raft/index.js';

const entriesArb = fc
  .tuple(
    fc.nat({ max: 1_000_000 }),
    fc.array(fc.record({ term: fc.oneof(fc.nat({ max: 300 }), fc.constant(Number.MAX_SAFE_INTEGER)), type: fc.constantFrom(EntryType.Normal, EntryType.ConfChange), data: fc.uint8Array({ maxLength: 300 }) }), { maxLength: 40 }),
  )
  .map(([first, items]) => items.map((e, i): Entry => ({ index: first + 1 + i, ...e })));

test('packed entries unpack to the same entries, numbered from the first index', () => {
  fc.assert(
    fc.property(entriesArb, (entries) => {
      const packed = packEntries(entries);
      assert.equal(packedEntriesFailure(packed), null);
      const first = entries[0]?.index ?? 1;
      const back = unpackEntries(packed, first);
      assert.deepEqual(
        back.map((e) => [e.index, e.term, e.type, [...e.data]]),
        entries.map((e) => [e.index, e.term, e.type, [...e.data]]),
      );
    }),
  );
});

test('unpacked data are views of the received bytes, not copies', () => {
  const packed = packEntries([{ index: 5, term: 2, type: EntryType.Normal, data: new Uint8Array([1, 2, 3]) }]);
  const wire = new Uint8Array(packed.length + 10);
  wire.set(packed, 10);
  const [entry] = unpackEntries(wire.subarray(10), 5);
  assert.equal(entry!.data.buffer, wire.buffer);
  wire[wire.length - 1] = 9;
  assert.deepEqual([...entry!.data], [1, 2, 9]);
});

test('malformed packings are refused with the entry and the reason', () => {
  const good = packEntries([
    { index: 1, term: 1, type: EntryType.Normal, data: new Uint8Array([7, 7]) },
    { index: 2, term: 1, type: EntryType.ConfChange, data: new Uint8Array([8]) },
  ]);
  assert.equal(packedEntriesFailure(good), null);
  assert.equal(packedEntriesFailure(new Uint8Array(0)), null, 'no entries');
  assert.match(packedEntriesFailure(good.subarray(0, good.length - 1))!, /entry 1: 1 bytes of data, 0 left/);
  assert.match(packedEntriesFailure(good.subarray(0, 1))!, /entry 0: truncated before its type/);
  const badType = good.slice();
  badType[1] = 7;
  assert.match(packedEntriesFailure(badType)!, /entry 0: unknown type 7/);
  assert.match(packedEntriesFailure(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]))!, /entry 0: malformed term/);
  // 2^56 - 1 fits eight varint bytes but is no safe integer.
  assert.match(packedEntriesFailure(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0]))!, /entry 0: malformed term/);
  assert.match(packedEntriesFailure(new Uint8Array([1, 0, 0x80, 0x80, 0x80, 0x80, 0x80]))!, /entry 0: malformed length/);
});

test('the packer packs a batch once for every follower, and a different batch anew', () => {
  const a: Entry[] = [1, 2, 3].map((i) => ({ index: i, term: 1, type: EntryType.Normal, data: new Uint8Array([i]) }));
  const packer = new EntryPacker();
  const forF1 = packer.pack(a);
  assert.equal(packer.pack([...a]), forF1, 'the same entries in another array: reused');
  const b = [...a.slice(0, 2), { index: 3, term: 2, type: EntryType.Normal, data: new Uint8Array([3]) }];
  const forB = packer.pack(b);
  assert.notEqual(forB, forF1);
  assert.deepEqual(unpackEntries(forB, 1).map((e) => e.term), [1, 1, 2]);
  assert.deepEqual(unpackEntries(packer.pack(a.slice(0, 2)), 1).length, 2, 'a shorter batch is not mistaken for the last one');
});
