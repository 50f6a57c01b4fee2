/**
 * A write's absolute expiry (expiresAtMs), keepTtl and keepValue, in single
 * writes and transaction ops: what Redis's PXAT, KEEPTTL, EXPIRE and PERSIST
 * run on. Every command goes through the real encoding (Driver.run).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandKind, ResultKind, TxnOpType, decodeCommand, encodeCommand, type Command, type KvEntry } from '../../src/kv/index.js';
import { commandProblem } from '../../src/kv/validate.js';
import { defaultKvOptions } from '../../src/kv/options.js';
import { b, Driver, text } from './helpers.js';

const expiryOf = (entry: KvEntry | null): number => entry?.expiresAtMs ?? -1;

test('the new fields round-trip through the command codec, and an entry without them keeps its old bytes', () => {
  const commands: Command[] = [
    { kind: CommandKind.Put, key: b('k'), value: b('v'), expiresAtMs: 1_700_000_000_123 },
    { kind: CommandKind.Put, key: b('k'), value: b('v'), keepTtl: true, expectedModRevision: 3 },
    { kind: CommandKind.Update, key: b('k'), value: new Uint8Array(0), keepValue: true, ttlMs: 5000, session: { sessionId: 1, seq: 2, ackedSeq: 1 } },
    { kind: CommandKind.Update, key: b('k'), value: new Uint8Array(0), keepValue: true },
    {
      kind: CommandKind.Txn,
      compare: [],
      success: [
        { type: TxnOpType.Put, key: b('a'), value: b('1'), ttlMs: 10 },
        { type: TxnOpType.Put, key: b('b'), value: b('2'), expiresAtMs: 99 },
        { type: TxnOpType.Update, key: b('c'), value: new Uint8Array(0), keepValue: true, keepTtl: true },
        { type: TxnOpType.Put, key: b('d'), value: b('4') },
      ],
      failure: [],
    },
  ];
  for (const command of commands) {
    const decoded = decodeCommand(encodeCommand(command, 5)).command;
    assert.deepEqual(JSON.parse(JSON.stringify(decoded)), JSON.parse(JSON.stringify(command)));
  }
  const plain = encodeCommand({ kind: CommandKind.Put, key: b('k'), value: b('v') }, 5);
  assert.deepEqual([...plain], [1, 1, 5, 0, 1, 107, 1, 118], 'flags byte 0, no new fields');
});

test('at most one of lease, ttlMs, expiresAtMs and keepTtl; keepValue only on an update with an empty value', () => {
  const bad: Command[] = [
    { kind: CommandKind.Put, key: b('k'), value: b('v'), ttlMs: 10, expiresAtMs: 10 },
    { kind: CommandKind.Put, key: b('k'), value: b('v'), keepTtl: true, ttlMs: 10 },
    { kind: CommandKind.Update, key: b('k'), value: b('v'), keepValue: true },
    { kind: CommandKind.Txn, compare: [], success: [{ type: TxnOpType.Put, key: b('a'), value: b('1'), ttlMs: 10, expiresAtMs: 4 }], failure: [] },
  ];
  for (const command of bad) assert.notEqual(commandProblem(command, defaultKvOptions), null, JSON.stringify(command));
});

test('expiresAtMs is absolute on the entry clock; keepTtl keeps it; a put without either clears it', () => {
  const d = new Driver();
  const at = d.nowMs + 10_000;
  assert.equal(d.run({ kind: CommandKind.Put, key: b('k'), value: b('1'), expiresAtMs: at }).kind, ResultKind.Write);
  assert.equal(expiryOf(d.sm.get(b('k'))), at);
  d.nowMs += 4_000;
  d.run({ kind: CommandKind.Put, key: b('k'), value: b('2'), keepTtl: true });
  assert.equal(expiryOf(d.sm.get(b('k'))), at, 'the same deadline, not moved by the later entry');
  assert.equal(text(d.sm.get(b('k'))!.value), '2');
  assert.equal(d.sm.get(b('k'), at - 1)?.version, 2);
  assert.equal(d.sm.get(b('k'), at), null, 'hidden once the deadline passes');
  assert.deepEqual(d.sm.dueExpiries(at, 10).keys.map(text), ['k']);
  d.run({ kind: CommandKind.Put, key: b('k'), value: b('3') });
  assert.equal(d.sm.get(b('k'))!.expiresAtMs, 0);
  assert.equal(d.sm.nextExpiryMs(), null, 'the TTL index forgot the key');
  d.run({ kind: CommandKind.Put, key: b('new'), value: b('1'), keepTtl: true });
  assert.equal(d.sm.get(b('new'))!.expiresAtMs, 0, 'a new key kept nothing');
});

test('an update with keepValue changes only the expiry (and the version), and fails on a missing key', () => {
  const d = new Driver();
  d.put('k', 'big value');
  const empty = new Uint8Array(0);
  const result = d.run({ kind: CommandKind.Update, key: b('k'), value: empty, keepValue: true, ttlMs: 500 });
  assert.equal(result.kind, ResultKind.Write);
  const entry = d.sm.get(b('k'))!;
  assert.equal(text(entry.value), 'big value');
  assert.equal(entry.version, 2);
  assert.equal(entry.expiresAtMs, d.nowMs + 500);
  d.run({ kind: CommandKind.Update, key: b('k'), value: empty, keepValue: true });
  assert.equal(d.sm.get(b('k'))!.expiresAtMs, 0, 'PERSIST');
  assert.equal(text(d.sm.get(b('k'))!.value), 'big value');
  const missing = d.run({ kind: CommandKind.Update, key: b('nope'), value: empty, keepValue: true, ttlMs: 500 });
  assert.equal(missing.kind, ResultKind.Error);
});

test('transaction puts and updates take ttlMs from the entry time, expiresAtMs, keepTtl and keepValue', () => {
  const d = new Driver();
  d.run({ kind: CommandKind.Put, key: b('c'), value: b('kept'), ttlMs: 7_000 });
  const cAt = d.sm.get(b('c'))!.expiresAtMs;
  d.nowMs += 1_000;
  const result = d.run({
    kind: CommandKind.Txn,
    compare: [],
    success: [
      { type: TxnOpType.Put, key: b('a'), value: b('1'), ttlMs: 300 },
      { type: TxnOpType.Put, key: b('b'), value: b('2'), expiresAtMs: d.nowMs + 50 },
      { type: TxnOpType.Update, key: b('c'), value: new Uint8Array(0), keepValue: true, keepTtl: true },
    ],
    failure: [],
  });
  assert.equal(result.kind, ResultKind.Txn, JSON.stringify(result));
  assert.equal(d.sm.get(b('a'))!.expiresAtMs, d.nowMs + 300);
  assert.equal(d.sm.get(b('b'))!.expiresAtMs, d.nowMs + 50);
  assert.equal(d.sm.get(b('c'))!.expiresAtMs, cAt);
  assert.equal(text(d.sm.get(b('c'))!.value), 'kept');
  assert.equal(d.sm.get(b('c'))!.version, 2);
  assert.deepEqual(d.sm.dueExpiries(d.nowMs + 300, 10).keys.map(text), ['b', 'a'], 'the TTL index knows the txn keys');
  // A snapshot carries the new expiries.
  const copy = new Driver();
  copy.sm.restore(d.sm.snapshot());
  assert.equal(copy.sm.get(b('a'))!.expiresAtMs, d.nowMs + 300);
});

test("a write at an entry time past the key's own TTL treats the key as absent, before the expiry entry deletes it", () => {
  const d = new Driver();
  d.run({ kind: CommandKind.Put, key: b('k'), value: b('old'), ttlMs: 100 });
  d.run({ kind: CommandKind.Put, key: b('t'), value: b('old'), ttlMs: 100 });
  d.nowMs += 100;
  const created = d.run({ kind: CommandKind.Put, key: b('k'), value: b('new'), expectedVersion: 0 });
  assert.equal(created.kind, ResultKind.Write, 'SETNX on an expired key succeeds');
  assert.equal(d.sm.get(b('k'))!.version, 1);
  assert.equal(d.sm.get(b('k'))!.expiresAtMs, 0);
  assert.equal(d.run({ kind: CommandKind.Update, key: b('t'), value: b('x') }).kind, ResultKind.Error, 'an update finds nothing');
  assert.equal(d.run({ kind: CommandKind.Delete, key: b('t') }).kind, ResultKind.Delete);
  const txn = d.run({ kind: CommandKind.Txn, compare: [], success: [{ type: TxnOpType.Put, key: b('t'), value: b('2') }], failure: [] });
  assert.equal(txn.kind, ResultKind.Txn);
  assert.equal(d.sm.get(b('t'))!.version, 1, 'a txn put re-creates it too');
  assert.deepEqual(d.sm.dueExpiries(d.nowMs, 10).keys, [], 'neither is in the TTL index any more');
});

test("a transaction's compares and delete counts see a key whose own TTL passed by the entry's time as missing", () => {
  const d = new Driver();
  d.run({ kind: CommandKind.Put, key: b('gone'), value: b('1'), ttlMs: 100 });
  d.put('here', '1');
  d.nowMs += 100;
  const result = d.run({
    kind: CommandKind.Txn,
    compare: [{ key: b('gone'), target: 'version', op: '=', version: 0 }],
    success: [
      { type: TxnOpType.Delete, key: b('gone') },
      { type: TxnOpType.Delete, key: b('here') },
    ],
    failure: [],
  });
  assert.equal(result.kind, ResultKind.Txn);
  assert.equal((result as { succeeded: boolean }).succeeded, true, 'RENAMENX onto an expired key');
  assert.deepEqual((result as { results: readonly unknown[] }).results, [{ type: 'delete', deleted: 0 }, { type: 'delete', deleted: 1 }]);
});
