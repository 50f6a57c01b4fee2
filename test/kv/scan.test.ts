import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidScanError, compareBytes, prefixEnd, type KvEntry, type ScanRequest } from '../../src/kv/index.js';
import { Driver, b, text } from './helpers.js';

const keysOf = (entries: readonly KvEntry[]): string[] => entries.map((e) => Buffer.from(e.key).toString('hex'));
const hex = (...keys: number[][]): string[] => keys.map((k) => Buffer.from(k).toString('hex'));

/** Pages through a scan until `next` is null. */
function scanAll(d: Driver, request: Omit<ScanRequest, 'after'>): { keys: string[]; pages: number } {
  const keys: string[] = [];
  let after: Uint8Array | undefined;
  let pages = 0;
  for (;;) {
    const page = d.sm.scan({ ...request, ...(after ? { after } : {}) });
    pages++;
    keys.push(...keysOf(page.entries));
    if (page.next === null) return { keys, pages };
    assert.deepEqual(page.next, page.entries[page.entries.length - 1]!.key, 'the token is the last key returned');
    after = page.next;
  }
}

function withKeys(keys: number[][]): Driver {
  const d = new Driver();
  for (const k of keys) d.put(Uint8Array.from(k), 'v');
  return d;
}

test('keys come back in unsigned byte order, including 0xff bytes', () => {
  const keys = [[0xff, 0xff, 0x01], [0x00, 0x01], [0x7f], [0x80], [0xff], [0xff, 0xff], [0x61], [0x61, 0x00]];
  const d = withKeys(keys);
  const sorted = [...keys].sort((x, y) => compareBytes(Uint8Array.from(x), Uint8Array.from(y)));
  assert.deepEqual(keysOf(d.sm.scan({ limit: 100 }).entries), hex(...sorted));
});

test('prefix scans, including prefixes of 0xff bytes that run to the end of the key space', () => {
  const d = withKeys([[0x61], [0x61, 0x62], [0x61, 0xff], [0x61, 0xff, 0xff], [0x62], [0xff], [0xff, 0xff], [0xff, 0xff, 0x00], [0xff, 0xff, 0xff, 0x07]]);
  assert.deepEqual(keysOf(d.sm.scan({ prefix: Uint8Array.of(0x61), limit: 100 }).entries), hex([0x61], [0x61, 0x62], [0x61, 0xff], [0x61, 0xff, 0xff]));
  assert.deepEqual(keysOf(d.sm.scan({ prefix: Uint8Array.of(0x61, 0xff), limit: 100 }).entries), hex([0x61, 0xff], [0x61, 0xff, 0xff]));
  assert.deepEqual(
    keysOf(d.sm.scan({ prefix: Uint8Array.of(0xff, 0xff), limit: 100 }).entries),
    hex([0xff, 0xff], [0xff, 0xff, 0x00], [0xff, 0xff, 0xff, 0x07]),
  );
  assert.deepEqual(keysOf(d.sm.scan({ prefix: Uint8Array.of(0x63), limit: 100 }).entries), []);
  assert.equal(d.sm.scan({ prefix: Uint8Array.of(0x63), limit: 100 }).next, null);
});

test('ranges are [start, end), either bound optional', () => {
  const d = withKeys([[1], [2], [3], [4], [5]]);
  assert.deepEqual(keysOf(d.sm.scan({ start: Uint8Array.of(2), end: Uint8Array.of(4), limit: 10 }).entries), hex([2], [3]));
  assert.deepEqual(keysOf(d.sm.scan({ start: Uint8Array.of(4), limit: 10 }).entries), hex([4], [5]));
  assert.deepEqual(keysOf(d.sm.scan({ end: Uint8Array.of(2), limit: 10 }).entries), hex([1]));
  assert.deepEqual(keysOf(d.sm.scan({ start: Uint8Array.of(3), end: Uint8Array.of(3), limit: 10 }).entries), []);
  assert.deepEqual(keysOf(d.sm.scan({ start: Uint8Array.of(2, 0), limit: 1 }).entries), hex([3]), 'start need not be a stored key');
});

test('limit and continuation page through exactly once, and next is null on the last page', () => {
  const d = withKeys(Array.from({ length: 10 }, (_, i) => [0x10 + i]));
  const first = d.sm.scan({ limit: 4 });
  assert.deepEqual(keysOf(first.entries), hex([0x10], [0x11], [0x12], [0x13]));
  assert.deepEqual(first.next, Uint8Array.of(0x13));
  const second = d.sm.scan({ limit: 4, after: first.next! });
  assert.deepEqual(keysOf(second.entries), hex([0x14], [0x15], [0x16], [0x17]));
  const third = d.sm.scan({ limit: 4, after: second.next! });
  assert.deepEqual(keysOf(third.entries), hex([0x18], [0x19]));
  assert.equal(third.next, null);
  const exact = d.sm.scan({ limit: 10 });
  assert.equal(exact.entries.length, 10);
  assert.equal(exact.next, null, 'a page that ends exactly at the end of the range says so');
  const upTo = d.sm.scan({ limit: 2, end: Uint8Array.of(0x12) });
  assert.equal(upTo.next, null, 'a page that ends exactly at the end bound says so');
});

test('a continuation token survives the deletion of its key and writes in between', () => {
  const d = withKeys([[1], [2], [3], [4]]);
  const page = d.sm.scan({ limit: 2 });
  d.del(Uint8Array.of(2));
  d.put(Uint8Array.of(2, 5), 'new');
  assert.deepEqual(keysOf(d.sm.scan({ limit: 10, after: page.next! }).entries), hex([2, 5], [3], [4]));
  assert.deepEqual(keysOf(d.sm.scan({ limit: 10, after: Uint8Array.of(0), start: Uint8Array.of(3) }).entries), hex([3], [4]), 'after below start is ignored');
});

test('bytesMax ends a page early but always returns at least one entry', () => {
  const d = new Driver();
  for (let i = 0; i < 5; i++) d.put(Uint8Array.of(i + 1), new Uint8Array(100));
  const page = d.sm.scan({ limit: 10, bytesMax: 250 });
  assert.equal(page.entries.length, 3, 'stops once the page reaches bytesMax');
  assert.deepEqual(page.next, Uint8Array.of(3));
  assert.equal(d.sm.scan({ limit: 10, bytesMax: 1 }).entries.length, 1);
  const capped = new Driver({ scanBytesMax: 150 });
  for (let i = 0; i < 5; i++) capped.put(Uint8Array.of(i + 1), new Uint8Array(100));
  assert.equal(capped.sm.scan({ limit: 10, bytesMax: 1e9 }).entries.length, 2, 'scanBytesMax caps a request');
});

test('malformed scans throw InvalidScanError', () => {
  const d = new Driver({ scanLimitMax: 50 });
  for (const bad of [0, -1, 51, 1.5, NaN]) assert.throws(() => d.sm.scan({ limit: bad }), InvalidScanError, `limit ${bad}`);
  assert.throws(() => d.sm.scan({ limit: 1, prefix: b('a'), start: b('a') }), /not both/);
  assert.throws(() => d.sm.scan({ limit: 1, start: b('b'), end: b('a') }), /start is after end/);
  assert.throws(() => d.sm.scan({ limit: 1, bytesMax: 0 }), /bytesMax/);
  try {
    d.sm.scan({ limit: 0 });
  } catch (err) {
    assert.equal((err as InvalidScanError).code, 'CONCORD_ERR_INVALID_SCAN');
  }
});

test('scan values are the latest', () => {
  const d = new Driver();
  d.put('a', '1');
  d.put('a', '2');
  const [entry] = d.sm.scan({ prefix: b('a'), limit: 1 }).entries;
  assert.equal(text(entry!.value), '2');
  assert.equal(entry!.version, 2);
});

test('property: paging any range or prefix with any limit returns exactly the model\'s keys in order', () => {
  const smallKey = fc.uint8Array({ minLength: 1, maxLength: 3 }).map((k) => k.map((x) => [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff][x % 6]!));
  fc.assert(
    fc.property(
      fc.array(smallKey, { maxLength: 60 }),
      fc.array(smallKey, { maxLength: 20 }),
      fc.oneof(
        smallKey.map((prefix) => ({ prefix })),
        fc.record({ start: smallKey, end: smallKey }, { requiredKeys: [] }).map((r) => {
          if (r.start && r.end && compareBytes(r.start, r.end) > 0) return { start: r.end, end: r.start };
          return { ...r };
        }),
      ),
      fc.integer({ min: 1, max: 7 }),
      (keys, deletes, range, limit) => {
        const d = new Driver();
        const model = new Map<string, Uint8Array>();
        for (const k of keys) {
          d.put(k, 'v');
          model.set(Buffer.from(k).toString('hex'), k);
        }
        for (const k of deletes) {
          d.del(k);
          model.delete(Buffer.from(k).toString('hex'));
        }
        const r = range as ScanRequest;
        const low = r.prefix ?? r.start ?? new Uint8Array(0);
        const high = r.prefix ? prefixEnd(r.prefix) : (r.end ?? null);
        const expected = [...model.values()]
          .filter((k) => compareBytes(k, low) >= 0 && (high === null || compareBytes(k, high) < 0))
          .sort(compareBytes)
          .map((k) => Buffer.from(k).toString('hex'));
        const { keys: got, pages } = scanAll(d, { ...r, limit });
        assert.deepEqual(got, expected);
        assert.equal(pages, Math.max(1, Math.ceil(expected.length / limit)), 'no empty trailing page');
      },
    ),
    { numRuns: 300 },
  );
});
