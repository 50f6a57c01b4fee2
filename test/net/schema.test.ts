import { test } from 'node:test';
import assert from 'node:assert/strict';
import { s, type Infer } from '../../src/net/index.js';

const Put = s.object({
  key: s.bytes(),
  value: s.bytes({ maxLength: 8 }),
  ttlMs: s.optional(s.uint()),
  tags: s.array(s.string()),
  owner: s.nullable(s.string()),
  op: s.oneOf('put', 'cas'),
});
type Put = Infer<typeof Put>;

// Compile-time checks: the inferred type has the right optionality and field types.
const typed: Put = { key: new Uint8Array(1), value: new Uint8Array(0), tags: [], owner: null, op: 'put' };
// @ts-expect-error ttlMs must be a number
const wrongType: Put = { ...typed, ttlMs: 'soon' };
void wrongType;

test('valid values pass, including absent optional fields and extra keys', () => {
  assert.equal(Put.is(typed), true);
  assert.equal(Put.is({ ...typed, ttlMs: 5, extra: 'ignored' }), true);
});

test('each kind of mismatch fails and names the field path', () => {
  const cases: Array<[unknown, string, string]> = [
    [{ ...typed, key: 'k' }, 'key', 'bytes'],
    [{ ...typed, value: new Uint8Array(9) }, 'value', 'bytes of at most 8 bytes'],
    [{ ...typed, ttlMs: -1 }, 'ttlMs', 'unsigned integer'],
    [{ ...typed, ttlMs: 1.5 }, 'ttlMs', 'unsigned integer'],
    [{ ...typed, tags: ['a', 2] }, 'tags[1]', 'string'],
    [{ ...typed, owner: undefined }, 'owner', 'string or null'],
    [{ ...typed, op: 'delete' }, 'op', '"put" | "cas"'],
    [{ key: new Uint8Array(0) }, 'value', 'bytes of at most 8 bytes'],
    [[], '', 'object'],
    [null, '', 'object'],
  ];
  for (const [value, path, expected] of cases) {
    assert.equal(Put.is(value), false, JSON.stringify(path));
    const failure = Put.explain(value);
    assert.equal(failure.path, path);
    assert.equal(failure.expected, expected);
  }
});

test('nested objects and arrays report the full path', () => {
  const Batch = s.object({ entries: s.array(s.object({ index: s.uint(), data: s.bytes() })) });
  const value = { entries: [{ index: 1, data: new Uint8Array(1) }, { index: 2, data: 'oops' }] };
  assert.equal(Batch.is(value), false);
  assert.deepEqual(Batch.explain(value), { path: 'entries[1].data', expected: 'bytes', found: 'string "oops"' });
});

test('scalars: int, number, bool, literal, unknown, record, union', () => {
  assert.equal(s.int().is(-3), true);
  assert.equal(s.int().is(2 ** 60), false);
  assert.equal(s.number().is(0.5), true);
  assert.equal(s.number().is(NaN), false);
  assert.equal(s.bool().is(false), true);
  assert.equal(s.bool().is(0), false);
  assert.equal(s.literal(7).is(7), true);
  assert.equal(s.literal(7).is('7'), false);
  assert.equal(s.unknown().is(undefined), true);
  assert.equal(s.record(s.uint()).is({ a: 1, b: 2 }), true);
  assert.equal(s.record(s.uint()).explain({ a: 1, b: 'x' }).path, 'b');
  const either = s.union(s.object({ kind: s.literal('a'), n: s.uint() }), s.object({ kind: s.literal('b'), t: s.string() }));
  assert.equal(either.is({ kind: 'b', t: 'x' }), true);
  assert.equal(either.is({ kind: 'b', n: 1 }), false);
  assert.equal(s.string({ maxLength: 2 }).is('abc'), false);
  assert.equal(s.array(s.uint(), { maxLength: 1 }).explain([1, 2]).expected, 'at most 1 items');
});
