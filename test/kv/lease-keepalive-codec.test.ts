/**
 * The compact keep-alive encodings (lease-codec.ts): a keep-alive whose ids
 * increase is written as gaps, a keep-alive result as runs of equal TTLs;
 * both round-trip, have one encoding, are smaller than the plain forms, and
 * the plain forms older members wrote are still read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CommandKind,
  InvalidCommandError,
  LEASE_IDS_PER_ENTRY_MAX,
  LeaseResultKind,
  compactResult,
  decodeApplyResult,
  decodeCommand,
  encodeCommand,
  expandResult,
  type Command,
} from '../../src/kv/index.js';
import { writeVarint } from '../../src/common/varint.js';

const session = { sessionId: 5, seq: 3, ackedSeq: 2 };
const keepAlive = (ids: number[]): Command => ({ kind: CommandKind.LeaseKeepAlive, ids, session });
const varints = (...ns: number[]): number[] => {
  const buf = new Uint8Array(9 * ns.length);
  let pos = 0;
  for (const n of ns) pos = writeVarint(buf, pos, n);
  return [...buf.subarray(0, pos)];
};

test('keep-alives round-trip with one encoding each; increasing ids take about one byte per lease', () => {
  const increasing = Array.from({ length: LEASE_IDS_PER_ENTRY_MAX }, (_, i) => 1_000_000 + 3 * i);
  const cases = [[], [7], [7, 7], [9, 3, 12], [3, 9, 12], increasing, [...increasing].reverse()];
  for (const ids of cases) {
    const bytes = encodeCommand(keepAlive(ids), 42);
    const decoded = decodeCommand(bytes);
    assert.deepEqual(decoded.command, keepAlive(ids));
    assert.deepEqual(encodeCommand(decoded.command, 42), bytes);
    for (let n = 0; n < Math.min(bytes.length, 40); n++) assert.throws(() => decodeCommand(bytes.subarray(0, n)), InvalidCommandError);
  }
  const gaps = encodeCommand(keepAlive(increasing), 42).length;
  const plain = encodeCommand(keepAlive([...increasing].reverse()), 42).length;
  assert.ok(gaps < LEASE_IDS_PER_ENTRY_MAX + 40, `${gaps} bytes for ${LEASE_IDS_PER_ENTRY_MAX} increasing ids`);
  assert.ok(plain > 3 * LEASE_IDS_PER_ENTRY_MAX, `${plain} bytes for the same ids in decreasing order`);
});

test('a keep-alive in the older plain form (op 3) with increasing ids is still read; a gap of 0 is refused', () => {
  const increasing = encodeCommand(keepAlive([10, 20, 30]), 42);
  const opAt = increasing.length - varints(3, 10, 10, 10).length - 1;
  assert.equal(increasing[opAt], 5, 'increasing ids use op 5');
  const plain = Uint8Array.from([...increasing.subarray(0, opAt), 3, ...varints(3, 10, 20, 30)]);
  assert.deepEqual(decodeCommand(plain).command, keepAlive([10, 20, 30]));
  const repeated = Uint8Array.from([...increasing.subarray(0, opAt), 5, ...varints(2, 10, 0)]);
  assert.throws(() => decodeCommand(repeated), /repeat/);
  const single = Uint8Array.from([...increasing.subarray(0, opAt), 5, ...varints(1, 10)]);
  assert.throws(() => decodeCommand(single), InvalidCommandError);
});

test('a keep-alive result is saved as runs of equal TTLs, and the older plain form (tag 12) is still read', () => {
  const many = Array.from({ length: LEASE_IDS_PER_ENTRY_MAX }, () => 10_000);
  for (const ttls of [[], [0], many, [10_000, 0, 0, 10_000, 5_000], [...many.slice(1), 0]]) {
    const result = { kind: LeaseResultKind.LeaseKeptAlive, ttls };
    const saved = compactResult(result);
    assert.deepEqual(expandResult(saved), result);
  }
  assert.ok(compactResult({ kind: LeaseResultKind.LeaseKeptAlive, ttls: many }).length < 10, 'one run: a few bytes');
  assert.deepEqual(decodeApplyResult(Uint8Array.from([12, ...varints(3, 100, 0, 100)])), { kind: LeaseResultKind.LeaseKeptAlive, ttls: [100, 0, 100] });
  // One encoding: an empty run, or two neighbouring runs of the same TTL, are refused; so is a result longer than an entry's ids.
  assert.throws(() => decodeApplyResult(Uint8Array.from([13, ...varints(1, 0, 100)])), InvalidCommandError);
  assert.throws(() => decodeApplyResult(Uint8Array.from([13, ...varints(2, 1, 100, 1, 100)])), InvalidCommandError);
  assert.throws(() => decodeApplyResult(Uint8Array.from([13, ...varints(1, LEASE_IDS_PER_ENTRY_MAX + 1, 100)])), InvalidCommandError);
});
