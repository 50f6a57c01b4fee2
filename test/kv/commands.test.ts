import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  COMMAND_FORMAT_VERSION,
  CommandKind,
  EmptyKeyError,
  InvalidCommandError,
  KeyTooLargeError,
  ValueTooLargeError,
  decodeCommand,
  defaultKvOptions,
  encodeCommand,
  validateCommand,
  validateKey,
  validateValue,
  type Command,
} from '../../src/kv/index.js';

const key = fc.uint8Array({ minLength: 1, maxLength: 16 });
const session = fc
  .record({ sessionId: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), seq: fc.integer({ min: 1, max: 1e12 }) })
  .chain(({ sessionId, seq }) => fc.integer({ min: 0, max: seq - 1 }).map((ackedSeq) => ({ sessionId, seq, ackedSeq })));
// fast-check records have a null prototype; spread them into plain objects like a caller's.
const conditions = fc
  .record({ session, expectedVersion: fc.maxSafeNat(), expectedModRevision: fc.maxSafeNat() }, { requiredKeys: [] })
  .map((c) => ({ ...c }));

export const arbitraryCommand: fc.Arbitrary<Command> = fc.oneof(
  fc.tuple(key, fc.uint8Array({ maxLength: 32 }), conditions).map(([k, value, c]) => ({ kind: CommandKind.Put, key: k, value, ...c })),
  fc.tuple(key, fc.uint8Array({ maxLength: 32 }), conditions).map(([k, value, c]) => ({ kind: CommandKind.Update, key: k, value, ...c })),
  fc.tuple(key, conditions).map(([k, c]) => ({ kind: CommandKind.Delete, key: k, ...c })),
  fc.maxSafeNat().map((ttlMs) => ({ kind: CommandKind.OpenSession, ttlMs })),
  fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }).map((sessionId) => ({ kind: CommandKind.CloseSession, sessionId })),
  fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }).map((sessionId) => ({ kind: CommandKind.KeepAlive, sessionId })),
  fc.constant({ kind: CommandKind.Noop }),
) as fc.Arbitrary<Command>;

test('every command round-trips through its log encoding, with the leader time', () => {
  fc.assert(
    fc.property(arbitraryCommand, fc.maxSafeNat(), (command, leaderTimeMs) => {
      validateCommand(command, defaultKvOptions);
      const bytes = encodeCommand(command, leaderTimeMs);
      assert.equal(bytes[0], COMMAND_FORMAT_VERSION);
      const decoded = decodeCommand(bytes);
      assert.equal(decoded.leaderTimeMs, leaderTimeMs);
      assert.deepEqual(decoded.command, command);
      assert.deepEqual(encodeCommand(decoded.command, leaderTimeMs), bytes, 'the encoding is unique');
    }),
  );
});

test('decoded keys and values never pin a buffer larger than their entry', () => {
  const entry = encodeCommand({ kind: CommandKind.Put, key: Uint8Array.of(1), value: Uint8Array.of(2) }, 5);
  // An entry inside a larger buffer (a network frame with many entries) is copied out first.
  const frame = new Uint8Array(4096);
  frame.set(entry, 100);
  const fromFrame = decodeCommand(frame.subarray(100, 100 + entry.length)).command;
  assert.equal(fromFrame.kind, CommandKind.Put);
  if (fromFrame.kind !== CommandKind.Put) return;
  frame.fill(0xee);
  assert.deepEqual(fromFrame.key, Uint8Array.of(1));
  assert.deepEqual(fromFrame.value, Uint8Array.of(2));
  assert.equal(fromFrame.key.buffer.byteLength, entry.length, 'one copy of just the entry');
  assert.equal(fromFrame.value.buffer, fromFrame.key.buffer, 'key and value share that one allocation');
  // An entry that is its whole buffer is used in place: no copy at all.
  const inPlace = decodeCommand(entry).command;
  assert.equal(inPlace.kind === CommandKind.Put && inPlace.key.buffer, entry.buffer);
});

test('every truncation of a valid entry is rejected with InvalidCommandError', () => {
  fc.assert(
    fc.property(arbitraryCommand, (command) => {
      const bytes = encodeCommand(command, 1234);
      for (let n = 0; n < bytes.length; n++) {
        assert.throws(() => decodeCommand(bytes.subarray(0, n)), InvalidCommandError, `prefix of ${n} bytes`);
      }
    }),
    { numRuns: 50 },
  );
});

test('decode rejects unknown versions, tags and flags, and trailing bytes', () => {
  const good = encodeCommand({ kind: CommandKind.Put, key: Uint8Array.of(1), value: Uint8Array.of(2) }, 7);
  const withByte = (at: number, value: number): Uint8Array => {
    const copy = good.slice();
    copy[at] = value;
    return copy;
  };
  assert.throws(() => decodeCommand(withByte(0, 3)), /unknown command format version 3/);
  assert.throws(() => decodeCommand(withByte(1, 99)), /unknown command tag 99/);
  // Every flag bit of a put has a meaning now; keepValue (0x80) belongs to an update only.
  assert.throws(() => decodeCommand(withByte(3, 0x80)), /only an update keeps the value/);
  const txn = encodeCommand({ kind: CommandKind.Txn, compare: [], success: [], failure: [] }, 7);
  const txnFlags = txn.slice();
  txnFlags[3] = 0x40;
  assert.throws(() => decodeCommand(txnFlags), /unknown flags/);
  assert.throws(() => decodeCommand(Uint8Array.of(...good, 0)), /trailing/);
  const error = (() => {
    try {
      decodeCommand(new Uint8Array(0));
    } catch (err) {
      return err;
    }
    return null;
  })();
  assert.ok(error instanceof InvalidCommandError);
  assert.equal(error.code, 'CONCORD_ERR_INVALID_COMMAND');
});

test('encode refuses a bad leader time or non-integer fields instead of writing garbage', () => {
  assert.throws(() => encodeCommand({ kind: CommandKind.Noop }, -1), InvalidCommandError);
  assert.throws(() => encodeCommand({ kind: CommandKind.OpenSession, ttlMs: 1.5 }, 0), InvalidCommandError);
});

test('validation before proposing: limits, empty keys, session fields, conditions', () => {
  const limits = { keyBytesMax: 4, valueBytesMax: 8 };
  validateKey(new Uint8Array(4), limits);
  assert.throws(() => validateKey(new Uint8Array(5), limits), (err: unknown) => {
    assert.ok(err instanceof KeyTooLargeError);
    assert.equal(err.code, 'CONCORD_ERR_KEY_TOO_LARGE');
    assert.deepEqual(err.details, { keyBytes: 5, keyBytesMax: 4 });
    return true;
  });
  assert.throws(() => validateKey(new Uint8Array(0), limits), EmptyKeyError);
  validateValue(new Uint8Array(8), limits);
  validateValue(new Uint8Array(0), limits);
  assert.throws(() => validateValue(new Uint8Array(9), limits), ValueTooLargeError);

  const put = (extra: object): Command => ({ kind: CommandKind.Put, key: Uint8Array.of(1), value: Uint8Array.of(), ...extra }) as Command;
  validateCommand(put({ session: { sessionId: 3, seq: 2, ackedSeq: 1 } }), limits);
  assert.throws(() => validateCommand(put({ session: { sessionId: 3, seq: 2, ackedSeq: 2 } }), limits), /ackedSeq/);
  assert.throws(() => validateCommand(put({ session: { sessionId: 0, seq: 1, ackedSeq: 0 } }), limits), /sessionId/);
  assert.throws(() => validateCommand(put({ session: { sessionId: 1, seq: 0, ackedSeq: 0 } }), limits), /seq/);
  assert.throws(() => validateCommand(put({ expectedVersion: -1 }), limits), /expectedVersion/);
  assert.throws(() => validateCommand(put({ expectedModRevision: 0.5 }), limits), /expectedModRevision/);
  assert.throws(() => validateCommand(put({ key: 'abc' }), limits), /key must be bytes/);
  assert.throws(() => validateCommand({ kind: CommandKind.KeepAlive, sessionId: 0 }, limits), /sessionId/);
  assert.throws(() => validateCommand({ kind: CommandKind.OpenSession, ttlMs: -5 }, limits), /ttlMs/);
  assert.throws(() => validateCommand({ kind: 'explode' } as unknown as Command, limits), /unknown command kind/);
  assert.throws(
    () => validateCommand({ kind: CommandKind.Delete, key: new Uint8Array(5) }, limits),
    KeyTooLargeError,
    'delete checks its key too',
  );
});
