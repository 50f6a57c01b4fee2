import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CommandKind,
  IncrementOverflowError,
  NotANumberError,
  ResultKind,
  incrementedValue,
  kvErrorFromWire,
  kvErrorToWire,
  type ApplyResult,
  type TxnOp,
  type TxnResult,
} from '../../src/kv/index.js';
import { encodeCommand, decodeCommand } from '../../src/kv/command-codec.js';
import { Driver, b, text } from './helpers.js';

const incr = (key: string, by: string, float = false): TxnOp => (float ? { type: 'incr', key: b(key), by: b(by), float: true } : { type: 'incr', key: b(key), by: b(by) });
const txn = (success: TxnOp[], session?: { sessionId: number; seq: number; ackedSeq: number }) => ({
  kind: CommandKind.Txn,
  compare: [],
  success,
  failure: [],
  ...(session !== undefined ? { session } : {}),
});
const asTxn = (r: ApplyResult): TxnResult => {
  assert.equal(r.kind, ResultKind.Txn, `expected a txn result, got ${JSON.stringify(r)}`);
  return r as TxnResult;
};
const errorOf = (r: ApplyResult): unknown => {
  assert.equal(r.kind, ResultKind.Error);
  return (r as { error: unknown }).error;
};

/** What Redis 7 answers (INCRBY current by): the new value, or which error. */
const integerCases: [current: string | undefined, by: string, expected: string | 'not a number' | 'overflow'][] = [
  [undefined, '1', '1'],
  ['0', '1', '1'],
  ['-1', '1', '0'],
  ['41', '1', '42'],
  ['10', '-25', '-15'],
  ['9223372036854775806', '1', '9223372036854775807'],
  ['9223372036854775807', '1', 'overflow'],
  ['-9223372036854775808', '-1', 'overflow'],
  ['-9223372036854775808', '0', '-9223372036854775808'],
  ['-9223372036854775807', '-1', '-9223372036854775808'],
  ['0', '9223372036854775807', '9223372036854775807'],
  ['1', '9223372036854775807', 'overflow'],
  ['9223372036854775808', '1', 'not a number'],
  ['-9223372036854775809', '1', 'not a number'],
  ['+1', '1', 'not a number'],
  [' 1', '1', 'not a number'],
  ['1 ', '1', 'not a number'],
  ['01', '1', 'not a number'],
  ['-0', '1', 'not a number'],
  ['', '1', 'not a number'],
  ['1.0', '1', 'not a number'],
  ['1e3', '1', 'not a number'],
  ['0x10', '1', 'not a number'],
  ['--1', '1', 'not a number'],
  ['abc', '1', 'not a number'],
  ['1', '1.5', 'not a number'],
  ['1', '', 'not a number'],
];

test('incr on integers follows Redis: int64 text without +, spaces or leading zeros; overflow at the int64 bounds', () => {
  for (const [current, by, expected] of integerCases) {
    const run = () => text(incrementedValue(current === undefined ? undefined : b(current), b(by), false, b('n')));
    if (expected === 'not a number') assert.throws(run, (e: unknown) => e instanceof NotANumberError && e.details.kind === 'integer', `${current} + ${by}`);
    else if (expected === 'overflow') assert.throws(run, (e: unknown) => e instanceof IncrementOverflowError && e.details.kind === 'integer', `${current} + ${by}`);
    else assert.equal(run(), expected, `${current} + ${by}`);
  }
});

/** INCRBYFLOAT current by, and Redis 7's answer. */
const floatCases: [current: string | undefined, by: string, expected: string | 'not a number' | 'overflow'][] = [
  [undefined, '1.5', '1.5'],
  ['10.5', '0.1', '10.6'],
  ['10.6', '5.0e3', '5010.6'],
  ['1', '1', '2'],
  ['3', '-3', '0'],
  ['.5', '.5', '1'],
  ['1.', '1', '2'],
  ['0', '1e20', '100000000000000000000'],
  ['0', '1e-5', '0.00001'],
  ['-1.5', '+1', '-0.5'],
  ['abc', '1', 'not a number'],
  [' 1', '1', 'not a number'],
  ['1 ', '1', 'not a number'],
  ['', '1', 'not a number'],
  ['nan', '1', 'not a number'],
  ['1', 'nan', 'not a number'],
  ['1e400', '1', 'not a number'],
  ['inf', '1', 'overflow'],
  ['1', '-inf', 'overflow'],
  ['1', 'Infinity', 'overflow'],
  ['1.7976931348623157e308', '1.7976931348623157e308', 'overflow'],
];

test('incr on floats follows Redis INCRBYFLOAT: strtold rules, no exponent in the result, NaN/Infinity refused', () => {
  for (const [current, by, expected] of floatCases) {
    const run = () => text(incrementedValue(current === undefined ? undefined : b(current), b(by), true, b('f')));
    if (expected === 'not a number') assert.throws(run, (e: unknown) => e instanceof NotANumberError && e.details.kind === 'float', `${current} + ${by}`);
    else if (expected === 'overflow') assert.throws(run, (e: unknown) => e instanceof IncrementOverflowError && e.details.kind === 'float', `${current} + ${by}`);
    else assert.equal(run(), expected, `${current} + ${by}`);
  }
});

test('an incr op creates a missing key from 0, keeps an existing key\'s TTL, and returns the new value; every replica computes the same', () => {
  const d = new Driver();
  const created = asTxn(d.run(txn([incr('n', '5')])));
  assert.deepEqual(created.results, [{ type: 'incr', value: b('5'), version: 1, createRevision: 1, modRevision: 1 }]);
  assert.equal(d.sm.get(b('n'))!.expiresAtMs ?? 0, 0);
  d.run({ kind: CommandKind.Put, key: b('t'), value: b('10'), ttlMs: 7_000 });
  const expiresAtMs = d.sm.get(b('t'))!.expiresAtMs;
  assert.ok((expiresAtMs ?? 0) > 0);
  d.nowMs += 1_000;
  const r = asTxn(d.run(txn([incr('t', '-3'), incr('t', '2.5', true)])));
  assert.deepEqual(r.results.map((x) => text((x as { value: Uint8Array }).value)), ['7', '9.5']);
  assert.equal(d.sm.get(b('t'))!.expiresAtMs, expiresAtMs, 'INCR keeps the TTL, as in Redis');
  // A replica fed the same log holds the same bytes.
  const replica = new Driver();
  for (const entry of d.log) replica.applyBytes(entry);
  assert.deepEqual(replica.sm.snapshot().toBytes(), d.sm.snapshot().toBytes());
});

test('an incr op that fails fails its whole transaction: nothing applied; the typed error survives the wire', () => {
  const d = new Driver();
  d.put('s', 'abc');
  d.put('big', '9223372036854775807');
  const revision = d.sm.revision;
  const notNumber = errorOf(d.run(txn([{ type: 'put', key: b('a'), value: b('1') }, incr('n', '1'), incr('s', '1')])));
  assert.ok(notNumber instanceof NotANumberError);
  assert.deepEqual(kvErrorFromWire(kvErrorToWire(notNumber)), notNumber);
  assert.ok(errorOf(d.run(txn([incr('big', '1')]))) instanceof IncrementOverflowError);
  assert.equal(d.sm.revision, revision, 'nothing applied');
  assert.equal(d.sm.get(b('a')), null);
  assert.equal(d.sm.get(b('n')), null);
  assert.equal(text(d.sm.get(b('big'))!.value), '9223372036854775807');
});

test('a malformed delta is refused before it reaches the log; the encoding round-trips and keeps the float flag', () => {
  const d = new Driver();
  for (const op of [incr('n', '1.5'), incr('n', '+1'), incr('n', 'x', true)]) assert.equal(d.run(txn([op])).kind, ResultKind.Error);
  const command = txn([incr('n', '-7'), incr('f', '0.25', true)]);
  assert.deepEqual(decodeCommand(encodeCommand(command, 5)).command, command);
});

test('an incr retried under the same session seq applies once and answers the first result', () => {
  const d = new Driver();
  const sessionId = d.openSession();
  const session = { sessionId, seq: 1, ackedSeq: 0 };
  const first = asTxn(d.run(txn([incr('n', '1')], session)));
  const retried = asTxn(d.run(txn([incr('n', '1')], session)));
  assert.deepEqual(retried, first);
  assert.equal(text(d.sm.get(b('n'))!.value), '1');
  asTxn(d.run(txn([incr('n', '1')], { sessionId, seq: 2, ackedSeq: 1 })));
  assert.equal(text(d.sm.get(b('n'))!.value), '2');
});
