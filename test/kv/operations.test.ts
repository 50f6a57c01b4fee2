import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CommandKind,
  EmptyKeyError,
  InvalidCommandError,
  KeyNotFoundError,
  KeyTooLargeError,
  KvStateMachine,
  ResultKind,
  ValueTooLargeError,
  VersionMismatchError,
  encodeCommand,
  okResult,
  type ApplyResult,
  type KvError,
} from '../../src/kv/index.js';
import { Driver, b, text } from './helpers.js';

function errorOf(result: ApplyResult): KvError {
  assert.equal(result.kind, ResultKind.Error, `expected an error result, got ${JSON.stringify(result)}`);
  return (result as { error: KvError }).error;
}

test('put creates a key at version 1 with both revisions at the new store revision, then overwrites', () => {
  const d = new Driver();
  d.openSession(); // index 1: no revision
  d.put('other', 'x'); // index 2, revision 1
  assert.deepEqual(d.put('k', 'v1'), { kind: ResultKind.Write, version: 1, createRevision: 2, modRevision: 2 });
  assert.deepEqual(d.put('k', 'v2'), { kind: ResultKind.Write, version: 2, createRevision: 2, modRevision: 3 });
  const entry = d.sm.get(b('k'));
  assert.ok(entry);
  assert.equal(text(entry.value), 'v2');
  assert.deepEqual([entry.version, entry.createRevision, entry.modRevision], [2, 2, 3]);
  assert.equal(d.sm.appliedIndex, 4);
  assert.equal(d.sm.revision, 3, 'one revision per write; the session entry took none');
  d.run({ kind: CommandKind.Noop });
  d.applyBytes(new Uint8Array(0));
  assert.equal(d.sm.revision, 3, 'no-op and empty entries take none');
  assert.equal(d.sm.keyCount, 2);
  assert.equal(d.sm.get(b('missing')), null);
});

test('update overwrites an existing key and fails with KeyNotFoundError on a missing one, changing nothing', () => {
  const d = new Driver();
  const missing = errorOf(d.update('k', 'v'));
  assert.ok(missing instanceof KeyNotFoundError);
  assert.equal(missing.code, 'CONCORD_ERR_KEY_NOT_FOUND');
  assert.deepEqual(missing.details.key, b('k'));
  assert.equal(d.sm.get(b('k')), null);
  assert.equal(d.sm.appliedIndex, 1, 'a failed command still consumes its index');
  assert.equal(d.sm.revision, 0, 'but takes no revision');
  d.put('k', 'v1');
  assert.deepEqual(d.update('k', 'v2'), { kind: ResultKind.Write, version: 2, createRevision: 1, modRevision: 2 });
  assert.equal(d.sm.revision, 2);
  assert.equal(text(d.sm.get(b('k'))!.value), 'v2');
});

test('delete removes a key; deleting a missing key is { deleted: false }, not an error', () => {
  const d = new Driver();
  d.put('k', 'v');
  assert.deepEqual(d.del('k'), { kind: ResultKind.Delete, deleted: true, revision: 2 });
  assert.equal(d.sm.get(b('k')), null);
  assert.deepEqual(d.del('k'), { kind: ResultKind.Delete, deleted: false, revision: 2 }, 'deleting nothing takes no revision (etcd)');
  assert.equal(d.sm.revision, 2);
  assert.deepEqual(d.put('k', 'again'), { kind: ResultKind.Write, version: 1, createRevision: 3, modRevision: 3 }, 're-creation restarts the version');
  assert.equal(d.sm.appliedIndex, 4);
});

test('compare-and-set on version: 0 means "must not exist"', () => {
  const d = new Driver();
  assert.equal(d.put('k', 'a', { expectedVersion: 0 }).kind, ResultKind.Write);
  const clash = errorOf(d.put('k', 'b', { expectedVersion: 0 }));
  assert.ok(clash instanceof VersionMismatchError);
  assert.deepEqual(clash.details, { key: b('k'), expectedVersion: 0, expectedModRevision: null, actualVersion: 1, actualModRevision: 1 });
  assert.equal(text(d.sm.get(b('k'))!.value), 'a', 'a failed CAS changes nothing');
  assert.deepEqual(d.put('k', 'c', { expectedVersion: 1 }), { kind: ResultKind.Write, version: 2, createRevision: 1, modRevision: 2 }, 'the failed CAS took no revision');
  assert.ok(errorOf(d.put('k', 'd', { expectedVersion: 1 })) instanceof VersionMismatchError);
  assert.ok(errorOf(d.put('nope', 'd', { expectedVersion: 3 })) instanceof VersionMismatchError);
  assert.equal(d.sm.get(b('nope')), null);
});

test('compare-and-set on modRevision, and on both at once', () => {
  const d = new Driver();
  d.put('k', 'a'); // 1
  d.put('x', 'x'); // 2
  const stale = errorOf(d.put('k', 'b', { expectedModRevision: 2 }));
  assert.ok(stale instanceof VersionMismatchError);
  assert.equal(stale.details.actualModRevision, 1);
  assert.match(stale.message, /expected modRevision 2, found version 1 modRevision 1/);
  assert.deepEqual(d.put('k', 'b', { expectedModRevision: 1 }), { kind: ResultKind.Write, version: 2, createRevision: 1, modRevision: 3 });
  assert.ok(errorOf(d.put('k', 'c', { expectedModRevision: 3, expectedVersion: 1 })) instanceof VersionMismatchError, 'both must hold');
  assert.equal(d.put('k', 'c', { expectedModRevision: 3, expectedVersion: 2 }).kind, ResultKind.Write);
  assert.equal(d.put('new', 'v', { expectedModRevision: 0 }).kind, ResultKind.Write, 'modRevision 0 means "must not exist"');
});

test('update and delete honour conditions too', () => {
  const d = new Driver();
  d.put('k', 'a');
  assert.ok(errorOf(d.update('k', 'b', { expectedVersion: 2 })) instanceof VersionMismatchError);
  assert.equal(d.update('k', 'b', { expectedVersion: 1 }).kind, ResultKind.Write);
  assert.ok(errorOf(d.del('k', { expectedVersion: 1 })) instanceof VersionMismatchError);
  assert.notEqual(d.sm.get(b('k')), null);
  const missing = errorOf(d.del('missing', { expectedVersion: 1 }));
  assert.ok(missing instanceof VersionMismatchError, 'an expected version on a missing key is a mismatch');
  assert.equal(missing.details.actualVersion, 0);
  assert.match(missing.message, /does not exist/);
  assert.deepEqual(d.del('missing', { expectedVersion: 0 }), { kind: ResultKind.Delete, deleted: false, revision: 2 });
  assert.deepEqual(d.del('k', { expectedVersion: 2, expectedModRevision: 2 }), { kind: ResultKind.Delete, deleted: true, revision: 3 });
});

test('limits are enforced on apply as error results (a proposal that skipped validation cannot store them)', () => {
  const d = new Driver({ keyBytesMax: 8, valueBytesMax: 16 });
  const bigKey = errorOf(d.put(new Uint8Array(9), 'v'));
  assert.ok(bigKey instanceof KeyTooLargeError);
  assert.deepEqual(bigKey.details, { keyBytes: 9, keyBytesMax: 8 });
  const bigValue = errorOf(d.put('k', new Uint8Array(17)));
  assert.ok(bigValue instanceof ValueTooLargeError);
  assert.equal(bigValue.code, 'CONCORD_ERR_VALUE_TOO_LARGE');
  assert.ok(errorOf(d.update('k', new Uint8Array(17))) instanceof ValueTooLargeError);
  assert.ok(errorOf(d.put(new Uint8Array(0), 'v')) instanceof EmptyKeyError);
  assert.ok(errorOf(d.del(new Uint8Array(9))) instanceof KeyTooLargeError);
  assert.equal(d.sm.keyCount, 0);
  assert.equal(d.put(new Uint8Array(8).fill(0xff), new Uint8Array(16)).kind, ResultKind.Write, 'exactly at the limits is fine');
});

test('default limits are 4 KiB keys and 1 MiB values', () => {
  const sm = new KvStateMachine();
  assert.equal(sm.options.keyBytesMax, 4096);
  assert.equal(sm.options.valueBytesMax, 1024 * 1024);
  const d = new Driver();
  assert.equal(d.put(new Uint8Array(4096).fill(1), new Uint8Array(1024 * 1024)).kind, ResultKind.Write);
  assert.ok(errorOf(d.put(new Uint8Array(4097), 'v')) instanceof KeyTooLargeError);
  assert.ok(errorOf(d.put('k', new Uint8Array(1024 * 1024 + 1))) instanceof ValueTooLargeError);
});

test('undecodable entries are deterministic error results that still advance appliedIndex', () => {
  const d = new Driver();
  const result = d.applyBytes(Uint8Array.of(99, 1, 2));
  assert.ok(errorOf(result) instanceof InvalidCommandError);
  assert.equal(d.sm.appliedIndex, 1);
  assert.equal(d.put('k', 'v').kind, ResultKind.Write);
});

test('an empty entry (a new leader\'s first entry) and a skipped entry are no-ops that advance appliedIndex', () => {
  const d = new Driver();
  assert.equal(d.applyBytes(new Uint8Array(0)), okResult);
  d.sm.skip(2);
  assert.equal(d.sm.appliedIndex, 2);
  assert.deepEqual(d.run({ kind: CommandKind.Noop }), okResult);
  assert.equal(d.sm.appliedIndex, 3);
  assert.equal(d.sm.clockMs, d.nowMs, 'a noop carries the leader time');
});

test('entries must be applied in order: a gap or a repeat is a bug that fails loudly', () => {
  const sm = new KvStateMachine();
  const data = encodeCommand({ kind: CommandKind.Noop }, 1);
  assert.throws(() => sm.apply(2, data), /expected index 1, got 2/);
  sm.apply(1, data);
  assert.throws(() => sm.apply(1, data), /expected index 2, got 1/);
  assert.throws(() => sm.skip(5), /expected index 2/);
});

test('a proposed command\'s bytes are copied into its entry, and what cannot be encoded is refused', () => {
  const sm = new KvStateMachine();
  const key = b('k');
  const value = b('v');
  const entry = encodeCommand({ kind: CommandKind.Put, key, value }, 10);
  key[0] = 0x7a;
  value[0] = 0x7a;
  sm.apply(1, entry);
  assert.equal(text(sm.get(b('k'))!.value), 'v', 'the caller may reuse its arrays once the command is encoded');
  // A key or value that is not bytes is refused by the encoder (it would otherwise be encoded as zeros)...
  assert.throws(() => encodeCommand({ kind: CommandKind.Put, key: 'str' as unknown as Uint8Array, value }, 10), InvalidCommandError);
  assert.throws(() => encodeCommand({ kind: CommandKind.Put, key, value: 'str' as unknown as Uint8Array }, 10), InvalidCommandError);
  assert.throws(() => encodeCommand({ kind: CommandKind.Noop }, -1), /leaderTimeMs/);
  // ...and an entry whose key field is not whole bytes (a put whose key runs past the end) is an error
  // result on apply, the same on every member: nothing stored, the index consumed.
  const truncated = Uint8Array.of(...entry.subarray(0, 4), 5, 0x6b);
  const bad = sm.apply(2, truncated);
  assert.ok(errorOf(bad) instanceof InvalidCommandError);
  assert.equal(sm.keyCount, 1);
  assert.equal(sm.appliedIndex, 2);
});

test('stored entries are replaced, never mutated: an entry read earlier keeps its values', () => {
  const d = new Driver();
  d.put('k', 'v1');
  const before = d.sm.get(b('k'))!;
  d.put('k', 'v2');
  assert.equal(text(before.value), 'v1');
  assert.equal(before.version, 1);
  assert.deepEqual(d.sm.get(b('k'))!.key, before.key);
  const key = before.key;
  key[0] = 0x7a;
  assert.equal(text(d.sm.get(b('k'))!.key), 'k', 'an entry\'s key is a fresh copy: changing it changes nothing stored');
});

test('options are validated', () => {
  assert.throws(() => new KvStateMachine({ keyBytesMax: 0 }), /keyBytesMax/);
  assert.throws(() => new KvStateMachine({ sessionTtlMinMs: 10, sessionTtlMaxMs: 5, sessionTtlMs: 7 }), /sessionTtlMinMs/);
  assert.throws(() => new KvStateMachine({ sessionTtlMs: 10 }), /sessionTtlMs must lie/);
  assert.throws(() => new KvStateMachine({ valueBytesMax: 128 * 1024 * 1024 }), /snapshot block/);
  assert.equal(new KvStateMachine({ keyBytesMax: undefined }).options.keyBytesMax, 4096);
});
