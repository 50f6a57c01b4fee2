/**
 * The auth revision race (issue 12; src/kv/auth-revision.ts): a command
 * authorized against auth revision R must not apply after an auth change
 * that committed at R' > R. Deterministic: the interleaving is the log order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AuthCommandKind as K,
  AuthOldRevisionError,
  COMMAND_FORMAT_VERSION,
  COMMAND_FORMAT_VERSION_PRINCIPAL,
  CommandKind,
  InvalidCommandError,
  KvStateMachine,
  ResultKind,
  decodeCommand,
  encodeCommand,
  type ApplyResult,
  type Command,
} from '../../src/kv/index.js';
import { Driver, b } from './helpers.js';

function errorOf(result: ApplyResult) {
  assert.equal(result.kind, ResultKind.Error, `expected an error, got ${JSON.stringify(result)}`);
  return (result as { error: Error & { code: string; details: Record<string, unknown> } }).error;
}

const range = { key: b('a/'), rangeEnd: b('a0') };

/** Auth enabled; alice holds role `w` (readwrite on a/). */
function setUp(): Driver {
  const d = new Driver();
  d.user = 'root';
  for (const command of [
    { kind: K.UserAdd, name: 'root', password: null },
    { kind: K.UserAdd, name: 'alice', password: null },
    { kind: K.RoleAdd, name: 'w' },
    { kind: K.RoleGrantPermission, name: 'w', permission: { access: 'readwrite', ...range } },
    { kind: K.UserGrantRole, name: 'alice', role: 'w' },
    { kind: K.AuthEnable },
  ] as Command[]) {
    assert.equal(d.run(command).kind, ResultKind.Ok, JSON.stringify(command));
  }
  return d;
}

/** The entry a leader proposes for alice after checking her request at `authRevision`. */
function entryAs(d: Driver, command: Command, user: string, authRevision: number): Uint8Array {
  return encodeCommand(command, d.nowMs, 0, { user, authRevision });
}

test('a revoke that commits before a write authorized earlier wins: the write is refused and changes nothing', () => {
  const d = setUp();
  const checkedAt = d.sm.auth.revision; // the leader checked alice's put here: allowed
  const put: Command = { kind: CommandKind.Put, key: b('a/x'), value: b('v') };
  // ... and the revoke (checked after it, proposed after it) commits first.
  assert.equal(d.run({ kind: K.RoleRevokePermission, name: 'w', range }).kind, ResultKind.Ok);
  const refused = errorOf(d.applyBytes(entryAs(d, put, 'alice', checkedAt)));
  assert.ok(refused instanceof AuthOldRevisionError);
  assert.deepEqual(refused.details, { authRevision: checkedAt, currentAuthRevision: checkedAt + 1 });
  assert.equal(d.sm.get(b('a/x')), null, 'nothing written');

  // The other order: the write commits first, then the revoke. It applies.
  const e = setUp();
  const at = e.sm.auth.revision;
  assert.equal(e.applyBytes(entryAs(e, put, 'alice', at)).kind, ResultKind.Write);
  assert.equal(e.run({ kind: K.RoleRevokePermission, name: 'w', range }).kind, ResultKind.Ok);
  assert.equal(e.sm.get(b('a/x'))?.version, 1);

  // Every replica reaches the same outcome at the same index (the refusal is in the replayed log too).
  const replica = new KvStateMachine();
  d.log.forEach((entry, i) => replica.apply(i + 1, entry));
  assert.deepEqual(replica.snapshot().toBytes(), d.sm.snapshot().toBytes());
});

test('a stale session write is not saved: the same seq, checked again, is still a new write', () => {
  const d = setUp();
  d.user = 'alice';
  const opened = d.run({ kind: CommandKind.OpenSession, ttlMs: 0 });
  const sessionId = (opened as { sessionId: number }).sessionId;
  const checkedAt = d.sm.auth.revision;
  // An unrelated change commits in between (a new user): the revision moves, the right does not.
  d.user = 'root';
  d.run({ kind: K.UserAdd, name: 'carol', password: null });
  const put: Command = { kind: CommandKind.Put, key: b('a/s'), value: b('v'), session: { sessionId, seq: 1, ackedSeq: 0 } };
  assert.ok(errorOf(d.applyBytes(entryAs(d, put, 'alice', checkedAt))) instanceof AuthOldRevisionError);
  // The leader checks again (still allowed) and proposes at the new revision: it applies once.
  assert.equal(d.applyBytes(entryAs(d, put, 'alice', d.sm.auth.revision)).kind, ResultKind.Write);
  assert.equal(d.applyBytes(entryAs(d, put, 'alice', d.sm.auth.revision)).kind, ResultKind.Write, 'a retry gets the saved result');
  assert.equal(d.sm.get(b('a/s'))?.version, 1, 'applied once');
});

test('deleting the user, or enabling auth, also outdates earlier checks; a disabled auth checks nothing; noops always apply', () => {
  const d = setUp();
  const checkedAt = d.sm.auth.revision;
  d.user = 'root';
  d.run({ kind: K.UserDelete, name: 'alice' });
  const open: Command = { kind: CommandKind.OpenSession, ttlMs: 0 };
  assert.ok(errorOf(d.applyBytes(entryAs(d, open, 'alice', checkedAt))) instanceof AuthOldRevisionError);
  assert.equal(d.applyBytes(encodeCommand({ kind: CommandKind.Noop }, d.nowMs)).kind, ResultKind.Ok);
  // An entry without a principal (format 1) counts as checked at revision 0: refused once auth is on.
  assert.ok(errorOf(d.applyBytes(encodeCommand({ kind: CommandKind.Put, key: b('z'), value: b('v') }, d.nowMs))) instanceof AuthOldRevisionError);

  // An anonymous write checked while auth was off, applied after auth was enabled: refused.
  const e = new Driver();
  const anonymousAt = e.sm.auth.revision;
  e.run({ kind: K.UserAdd, name: 'root', password: null });
  e.run({ kind: K.AuthEnable });
  assert.ok(errorOf(e.applyBytes(encodeCommand({ kind: CommandKind.Put, key: b('k'), value: b('v') }, e.nowMs, 0, { user: null, authRevision: anonymousAt }))) instanceof AuthOldRevisionError);
  // Auth disabled again: nothing needs a right, an old revision applies.
  e.run({ kind: K.AuthDisable });
  assert.equal(e.applyBytes(encodeCommand({ kind: CommandKind.Put, key: b('k'), value: b('v') }, e.nowMs, 0, { user: null, authRevision: 0 })).kind, ResultKind.Write);
});

test('command format 2 carries the principal; format 1 is written when there is none; malformed principals are refused', () => {
  const put: Command = { kind: CommandKind.Put, key: b('k'), value: b('v') };
  const plain = encodeCommand(put, 5, 0, { user: null, authRevision: 0 });
  assert.equal(plain[0], COMMAND_FORMAT_VERSION);
  assert.deepEqual(plain, encodeCommand(put, 5), 'no principal: the format-1 bytes');
  assert.equal(decodeCommand(plain).principal, undefined);
  const withUser = encodeCommand(put, 5, 3, { user: 'ålice', authRevision: 42 });
  assert.equal(withUser[3], COMMAND_FORMAT_VERSION_PRINCIPAL);
  const decoded = decodeCommand(withUser.slice(3));
  assert.deepEqual(decoded, { leaderTimeMs: 5, command: put, principal: { user: 'ålice', authRevision: 42 } });
  assert.deepEqual(decodeCommand(encodeCommand(put, 5, 0, { user: null, authRevision: 7 })).principal, { user: null, authRevision: 7 });
  const auth = encodeCommand({ kind: K.RoleAdd, name: 'r' }, 5, 0, { user: 'root', authRevision: 1 });
  assert.deepEqual(decodeCommand(auth).principal, { user: 'root', authRevision: 1 });

  assert.throws(() => encodeCommand(put, 5, 0, { user: 'x'.repeat(300), authRevision: 0 }), InvalidCommandError);
  // A user name that is not UTF-8: version 2, tag put, time 5, revision 0, user [0xff].
  const bad = Uint8Array.of(2, 1, 5, 0, 1, 0xff, 0, 1, 0x6b, 1, 0x76);
  assert.throws(() => decodeCommand(bad), /not UTF-8/);
  const sm = new KvStateMachine();
  assert.equal(errorOf(sm.apply(1, bad)).code, 'CONCORD_ERR_INVALID_COMMAND', 'an undecodable entry is an error result, the same everywhere');
});
