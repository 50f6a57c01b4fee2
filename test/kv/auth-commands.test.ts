import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AuthCommandKind,
  InvalidCommandError,
  KvErrorCode,
  PermissionAccess,
  ResultKind,
  USER_ROLES_MAX,
  decodeCommand,
  defaultKvOptions,
  encodeCommand,
  prefixPermissionRange,
  validateCommand,
  type ApplyResult,
  type AuthCommand,
  type PasswordRecord,
} from '../../src/kv/index.js';
import { Driver, b } from './helpers.js';
import { applyCommand } from '../../src/testing/kv-apply.js';

const pw = (seed: number): PasswordRecord => ({
  algorithm: 'scrypt',
  params: { N: 16384, r: 8, p: 1, keyBytes: 32 },
  salt: new Uint8Array(16).fill(seed),
  hash: new Uint8Array(32).fill(seed + 1),
});

const K = AuthCommandKind;

/** One example of every auth command, with and without optional parts. */
const examples: AuthCommand[] = [
  { kind: K.UserAdd, name: 'alice', password: pw(1) },
  { kind: K.UserAdd, name: 'cert-only', password: null },
  { kind: K.UserDelete, name: 'alice' },
  { kind: K.UserChangePassword, name: 'alice', password: pw(2) },
  { kind: K.UserGrantRole, name: 'alice', role: 'reader' },
  { kind: K.UserRevokeRole, name: 'alice', role: 'reader' },
  { kind: K.RoleAdd, name: 'reader' },
  { kind: K.RoleDelete, name: 'reader' },
  { kind: K.RoleGrantPermission, name: 'reader', permission: { access: PermissionAccess.Read, key: b('a/'), rangeEnd: b('a0') } },
  { kind: K.RoleGrantPermission, name: 'reader', permission: { access: PermissionAccess.ReadWrite, key: b('k') } },
  { kind: K.RoleRevokePermission, name: 'reader', range: { key: b('k') } },
  { kind: K.RoleRevokePermission, name: 'reader', range: { key: new Uint8Array(0), rangeEnd: Uint8Array.of(0) } },
  { kind: K.AuthEnable },
  { kind: K.AuthDisable, session: { sessionId: 3, seq: 9, ackedSeq: 8 } },
  { kind: K.UserAdd, name: 'bob', password: pw(3), session: { sessionId: 7, seq: 1, ackedSeq: 0 } },
];

test('every auth command round-trips through its log encoding, which is unique, and truncations are refused', () => {
  for (const command of examples) {
    validateCommand(command, defaultKvOptions);
    const bytes = encodeCommand(command, 12345);
    const decoded = decodeCommand(bytes);
    assert.equal(decoded.leaderTimeMs, 12345);
    assert.deepEqual(decoded.command, command);
    assert.deepEqual(encodeCommand(decoded.command, 12345), bytes, `${command.kind}: one encoding`);
    const withHeadroom = encodeCommand(command, 12345, 7);
    assert.deepEqual(withHeadroom.subarray(0, 7), new Uint8Array(7), 'headroom is zeroed');
    assert.deepEqual(withHeadroom.subarray(7), bytes, 'headroom for the proposal envelope works for auth commands too');
    for (let n = 0; n < bytes.length; n++) assert.throws(() => decodeCommand(bytes.subarray(0, n)), InvalidCommandError);
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    assert.throws(() => decodeCommand(longer), /trailing/);
  }
});

test('password params are encoded in name order whatever order the caller wrote them in', () => {
  const a = encodeCommand({ kind: K.UserAdd, name: 'u', password: { ...pw(1), params: { r: 8, N: 2 } } }, 1);
  const c = encodeCommand({ kind: K.UserAdd, name: 'u', password: { ...pw(1), params: { N: 2, r: 8 } } }, 1);
  assert.deepEqual(a, c);
});

test('malformed auth commands are refused before proposing and are error results on apply', () => {
  const bad: [AuthCommand, RegExp][] = [
    [{ kind: K.UserAdd, name: '', password: null }, /user name must be 1\.\./],
    [{ kind: K.UserAdd, name: 'a:b', password: null }, /':'/],
    [{ kind: K.UserAdd, name: 'x\n', password: null }, /control/],
    [{ kind: K.RoleAdd, name: 'r'.repeat(300) }, /role name/],
    [{ kind: K.UserAdd, name: 'u', password: { ...pw(1), salt: new Uint8Array(0) } }, /salt/],
    [{ kind: K.UserAdd, name: 'u', password: { ...pw(1), hash: new Uint8Array(200) } }, /hash/],
    [{ kind: K.UserAdd, name: 'u', password: { ...pw(1), params: { 'no good': 1 } } }, /param name/],
    [{ kind: K.RoleGrantPermission, name: 'r', permission: { access: 'all' as never, key: b('k') } }, /access/],
    [{ kind: K.RoleGrantPermission, name: 'r', permission: { access: PermissionAccess.Read, key: b('b'), rangeEnd: b('a') } }, /after its key/],
    [{ kind: K.RoleGrantPermission, name: 'r', permission: { access: PermissionAccess.Read, key: new Uint8Array(0) } }, /non-empty key/],
    [{ kind: K.RoleRevokePermission, name: 'r', range: { key: new Uint8Array(5000) } }, /longer than/],
  ];
  for (const [command, reason] of bad) {
    assert.throws(() => validateCommand(command, defaultKvOptions), reason);
    const d = new Driver();
    const result = applyCommand(d.sm, 1, command, 1);
    assert.equal(result.kind, ResultKind.Error);
    assert.match(result.kind === ResultKind.Error ? result.error.message : '', reason);
  }
});

function dumpAuth(d: Driver): unknown {
  const sm = d.sm;
  return {
    status: sm.auth.status(),
    users: sm.auth.listUsers().map((name) => ({ ...sm.auth.getUser(name), password: sm.auth.user(name)?.password })),
    roles: sm.auth.listRoles().map((name) => sm.auth.getRole(name)),
  };
}

function code(result: ApplyResult): string {
  return result.kind === ResultKind.Error ? result.error.code : result.kind;
}

test('every auth command applies with etcd semantics, and each failure is a typed error result that changes nothing', () => {
  const d = new Driver();
  const steps: [AuthCommand, string][] = [
    [{ kind: K.AuthEnable }, KvErrorCode.RootUserRequired],
    [{ kind: K.UserAdd, name: 'root', password: pw(1) }, 'ok'],
    [{ kind: K.UserAdd, name: 'root', password: pw(9) }, KvErrorCode.UserExists],
    [{ kind: K.UserAdd, name: 'alice', password: pw(2) }, 'ok'],
    [{ kind: K.UserGrantRole, name: 'alice', role: 'reader' }, KvErrorCode.RoleNotFound],
    [{ kind: K.UserGrantRole, name: 'nobody', role: 'reader' }, KvErrorCode.UserNotFound],
    [{ kind: K.RoleAdd, name: 'reader' }, 'ok'],
    [{ kind: K.RoleAdd, name: 'reader' }, KvErrorCode.RoleExists],
    [{ kind: K.RoleAdd, name: 'writer' }, 'ok'],
    [{ kind: K.RoleGrantPermission, name: 'reader', permission: { access: PermissionAccess.Read, ...prefixPermissionRange(b('a/')) } }, 'ok'],
    [{ kind: K.RoleGrantPermission, name: 'reader', permission: { access: PermissionAccess.Read, key: b('k') } }, 'ok'],
    // The same range again changes its access (etcd).
    [{ kind: K.RoleGrantPermission, name: 'reader', permission: { access: PermissionAccess.ReadWrite, key: b('k') } }, 'ok'],
    [{ kind: K.RoleGrantPermission, name: 'ghost', permission: { access: PermissionAccess.Read, key: b('k') } }, KvErrorCode.RoleNotFound],
    [{ kind: K.RoleRevokePermission, name: 'reader', range: { key: b('a/') } }, KvErrorCode.PermissionNotGranted],
    [{ kind: K.RoleGrantPermission, name: 'writer', permission: { access: PermissionAccess.Write, key: b('w'), rangeEnd: Uint8Array.of(0) } }, 'ok'],
    [{ kind: K.UserGrantRole, name: 'alice', role: 'writer' }, 'ok'],
    [{ kind: K.UserGrantRole, name: 'alice', role: 'reader' }, 'ok'],
    [{ kind: K.UserGrantRole, name: 'alice', role: 'reader' }, 'ok'], // already held: no change
    [{ kind: K.UserRevokeRole, name: 'root', role: 'reader' }, KvErrorCode.RoleNotGranted],
    [{ kind: K.UserChangePassword, name: 'alice', password: null }, 'ok'],
    [{ kind: K.UserChangePassword, name: 'nobody', password: null }, KvErrorCode.UserNotFound],
    [{ kind: K.AuthEnable }, 'ok'],
    [{ kind: K.AuthEnable }, 'ok'],
    [{ kind: K.UserDelete, name: 'root' }, KvErrorCode.RootUserRequired],
    [{ kind: K.UserDelete, name: 'nobody' }, KvErrorCode.UserNotFound],
    [{ kind: K.RoleDelete, name: 'ghost' }, KvErrorCode.RoleNotFound],
  ];
  for (const [command, expected] of steps) {
    const before = d.sm.auth.status().revision;
    const stateBefore = dumpAuth(d);
    const result = d.run(command);
    assert.equal(code(result), expected, `${command.kind} ${JSON.stringify('name' in command ? command.name : '')}`);
    if (expected !== 'ok') {
      assert.equal(d.sm.auth.status().revision, before, 'a failure changes nothing');
      assert.deepEqual(dumpAuth(d), stateBefore);
    }
  }
  assert.deepEqual(d.sm.auth.status(), { enabled: true, revision: 12 }, 'revision counts the changes that took effect');
  assert.deepEqual(d.sm.auth.listUsers(), ['alice', 'root']);
  assert.deepEqual(d.sm.auth.listRoles(), ['reader', 'writer']);
  assert.deepEqual(d.sm.auth.getUser('alice'), { name: 'alice', roles: ['reader', 'writer'], hasPassword: false });
  assert.equal(d.sm.auth.getUser('root').hasPassword, true);
  assert.ok(!('password' in d.sm.auth.getUser('root')), 'user get never shows the password record');
  assert.deepEqual(d.sm.auth.getRole('reader').permissions, [
    { access: PermissionAccess.Read, key: b('a/'), rangeEnd: b('a0') },
    { access: PermissionAccess.ReadWrite, key: b('k') },
  ]);
  assert.throws(() => d.sm.auth.getUser('nobody'), { code: KvErrorCode.UserNotFound });
  assert.throws(() => d.sm.auth.getRole('ghost'), { code: KvErrorCode.RoleNotFound });
  assert.deepEqual(d.sm.auth.user('root')?.password, pw(1), 'the server can read the record to verify a password');

  // Deleting a role revokes it from every user; revoking a permission removes exactly that range.
  assert.equal(code(d.run({ kind: K.RoleRevokePermission, name: 'reader', range: { key: b('k') } })), 'ok');
  assert.equal(d.sm.auth.getRole('reader').permissions.length, 1);
  assert.equal(code(d.run({ kind: K.RoleDelete, name: 'writer' })), 'ok');
  assert.deepEqual(d.sm.auth.getUser('alice').roles, ['reader']);
  assert.equal(code(d.run({ kind: K.UserRevokeRole, name: 'alice', role: 'reader' })), 'ok');
  assert.deepEqual(d.sm.auth.getUser('alice').roles, []);
  // Disabling works, and then root may be deleted; enabling needs it again.
  assert.equal(code(d.run({ kind: K.AuthDisable })), 'ok');
  assert.equal(d.sm.auth.status().enabled, false);
  assert.equal(code(d.run({ kind: K.UserDelete, name: 'root' })), 'ok');
  assert.equal(code(d.run({ kind: K.AuthEnable })), KvErrorCode.RootUserRequired);
  assert.equal(code(d.run({ kind: K.AuthDisable })), 'ok', 'disabling a disabled store succeeds');
});

test('a user holds at most USER_ROLES_MAX roles', () => {
  const d = new Driver();
  d.run({ kind: K.UserAdd, name: 'u', password: null });
  for (let i = 0; i <= USER_ROLES_MAX; i++) {
    d.run({ kind: K.RoleAdd, name: `r${i}` });
    const result = d.run({ kind: K.UserGrantRole, name: 'u', role: `r${i}` });
    assert.equal(code(result), i < USER_ROLES_MAX ? 'ok' : KvErrorCode.AuthLimit);
  }
  assert.equal(d.sm.auth.getUser('u').roles.length, USER_ROLES_MAX);
});

test('auth commands with a session are exactly-once: a retry gets the first answer, even after a snapshot restore', () => {
  const d = new Driver();
  const sessionId = d.openSession();
  const add: AuthCommand = { kind: K.UserAdd, name: 'alice', password: pw(1), session: { sessionId, seq: 1, ackedSeq: 0 } };
  assert.equal(code(d.run(add)), 'ok');
  assert.equal(code(d.run(add)), 'ok', 'the retry is answered from the saved result, not UserExistsError');
  const addRole: AuthCommand = { kind: K.RoleAdd, name: 'r', session: { sessionId, seq: 2, ackedSeq: 1 } };
  assert.equal(code(d.run(addRole)), 'ok');
  const again: AuthCommand = { kind: K.RoleAdd, name: 'r', session: { sessionId, seq: 3, ackedSeq: 2 } };
  assert.equal(code(d.run(again)), KvErrorCode.RoleExists, 'a new seq executes');
  const revision = d.sm.auth.status().revision;

  const copy = new Driver();
  copy.sm.restore(d.sm.snapshot());
  assert.equal(code(copy.sm.apply(d.nextIndex, encodeCommand(again, d.nowMs))), KvErrorCode.RoleExists, 'saved error replayed');
  assert.equal(copy.sm.auth.status().revision, revision, 'a replayed retry changes nothing');
  assert.equal(code(copy.sm.apply(d.nextIndex + 1, encodeCommand(add, d.nowMs))), KvErrorCode.StaleSequence, 'an acknowledged seq is stale');
  const unknown: AuthCommand = { kind: K.RoleAdd, name: 'x', session: { sessionId: 999, seq: 1, ackedSeq: 0 } };
  assert.equal(code(d.run(unknown)), KvErrorCode.SessionExpired);
  assert.deepEqual(d.sm.auth.listRoles(), ['r']);
});

test('two members applying the same auth log hold identical state and write identical snapshots', () => {
  const d = new Driver();
  for (const command of examples) d.run(command);
  d.run({ kind: K.UserAdd, name: 'root', password: pw(4) });
  d.run({ kind: K.AuthEnable });
  const other = new Driver();
  d.log.forEach((entry, i) => other.sm.apply(i + 1, entry));
  assert.deepEqual(other.sm.snapshot().toBytes(), d.sm.snapshot().toBytes());
  assert.deepEqual(other.sm.auth.status(), d.sm.auth.status());
});

test('arbitrary bytes after an auth header never crash decode or apply: an InvalidCommandError or a command', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (body) => {
      const entry = Uint8Array.from([1, 8, 0, ...body]);
      try {
        const { command } = decodeCommand(entry);
        assert.ok('kind' in command);
      } catch (err) {
        assert.ok(err instanceof InvalidCommandError, String(err));
      }
      const d = new Driver();
      const result = d.applyBytes(entry);
      assert.ok(result.kind === ResultKind.Error || result.kind === ResultKind.Ok);
    }),
    { numRuns: 2000 },
  );
});
