import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import {
  AuthCommandKind as K,
  CorruptSnapshotError,
  KvStateMachine,
  PermissionAccess,
  prefixPermissionRange,
  type AuthCommand,
} from '../../src/kv/index.js';
import { Driver, b } from './helpers.js';
import { runSnapshotScenario } from './snapshot-scenario.js';

/**
 * snapshot-golden.test.ts's history plus auth commands: users with and
 * without passwords, roles with key, range, prefix and from-key permissions,
 * auth enabled, and saved results of auth commands (a success and an error)
 * in a session. Its snapshot is format 2; these bytes never change without a
 * new SNAPSHOT_FORMAT_VERSION.
 */
function runAuthScenario(): Driver {
  const d = runSnapshotScenario();
  const s = d.openSession(20_000);
  const record = { algorithm: 'scrypt', params: { N: 1024, r: 8, p: 1, keyBytes: 32 }, salt: new Uint8Array(16).fill(7), hash: new Uint8Array(32).fill(9) };
  const commands: AuthCommand[] = [
    { kind: K.UserAdd, name: 'root', password: record },
    { kind: K.UserAdd, name: 'alice', password: { ...record, salt: new Uint8Array(16).fill(1) }, session: { sessionId: s, seq: 1, ackedSeq: 0 } },
    { kind: K.UserAdd, name: 'client-cert', password: null },
    { kind: K.RoleAdd, name: 'reader' },
    { kind: K.RoleAdd, name: 'root' },
    { kind: K.RoleAdd, name: 'reader', session: { sessionId: s, seq: 2, ackedSeq: 0 } }, // RoleExists, saved
    { kind: K.RoleGrantPermission, name: 'reader', permission: { access: PermissionAccess.Read, ...prefixPermissionRange(b('a/')) } },
    { kind: K.RoleGrantPermission, name: 'reader', permission: { access: PermissionAccess.ReadWrite, key: b('k') } },
    { kind: K.RoleGrantPermission, name: 'reader', permission: { access: PermissionAccess.Write, key: Uint8Array.of(0xff), rangeEnd: Uint8Array.of(0) } },
    { kind: K.UserGrantRole, name: 'alice', role: 'reader' },
    { kind: K.UserGrantRole, name: 'client-cert', role: 'root' },
    { kind: K.AuthEnable },
  ];
  for (const command of commands) d.run(command);
  return d;
}

const GOLDEN_AUTH_SNAPSHOT_BYTES = 2640;
const GOLDEN_AUTH_SNAPSHOT_SHA256 = '1ae7b880ffbd7d220a37f6862dad54bb5dbc779ea3df21a311d05f81e41e50b2';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

const authDump = (sm: KvStateMachine): unknown => ({
  status: sm.auth.status(),
  users: sm.auth.listUsers().map((name) => ({ ...sm.auth.getUser(name), password: sm.auth.user(name)?.password })),
  roles: sm.auth.listRoles().map((name) => sm.auth.getRole(name)),
});

test('the format-2 snapshot of a fixed history with auth state has fixed bytes', () => {
  const snapshot = runAuthScenario().sm.snapshot();
  assert.equal(snapshot.formatVersion, 2);
  const bytes = snapshot.toBytes();
  assert.equal(bytes[4], 2, 'format version byte');
  assert.equal(bytes.length, GOLDEN_AUTH_SNAPSHOT_BYTES);
  assert.equal(sha256(bytes), GOLDEN_AUTH_SNAPSHOT_SHA256);
});

test('a restored format-2 snapshot has the same users, roles, switch and saved auth results, and writes the same bytes', () => {
  const d = runAuthScenario();
  const bytes = d.sm.snapshot().toBytes();
  const restored = new KvStateMachine(d.sm.options);
  restored.restore([bytes]);
  assert.deepEqual(restored.snapshot().toBytes(), bytes);
  assert.deepEqual(authDump(restored), authDump(d.sm));
  assert.equal(restored.auth.status().enabled, true);
  assert.deepEqual(restored.auth.getUser('alice').roles, ['reader']);
  // Chunked restore (every size) gives the same state.
  const again = new KvStateMachine(d.sm.options);
  const chunks: Uint8Array[] = [];
  for (let off = 0; off < bytes.length; off += 37) chunks.push(bytes.subarray(off, off + 37));
  again.restore(chunks);
  assert.deepEqual(authDump(again), authDump(d.sm));
});

test('a store that never took an auth command still writes format 1 (the golden bytes of older members), and it restores with auth pristine', () => {
  const d = runSnapshotScenario();
  const snapshot = d.sm.snapshot();
  assert.equal(snapshot.formatVersion, 1);
  // A failed auth command leaves the state pristine: still format 1.
  d.run({ kind: K.AuthEnable });
  assert.equal(d.sm.snapshot().formatVersion, 1);
  const restored = new KvStateMachine(d.sm.options);
  restored.restore([snapshot.toBytes()]);
  assert.deepEqual(restored.auth.status(), { enabled: false, revision: 0 });
  assert.deepEqual(restored.auth.listUsers(), []);
});

test('a restore replaces the auth state too, and a snapshot restore onto a store with auth clears it', () => {
  const withAuth = runAuthScenario();
  const plain = new Driver();
  plain.put('x', 'y');
  withAuth.sm.restore(plain.sm.snapshot());
  assert.deepEqual(withAuth.sm.auth.status(), { enabled: false, revision: 0 });
  assert.deepEqual(withAuth.sm.auth.listRoles(), []);
});

test('an AUTH block in a format-1 snapshot, a format-2 snapshot without one, and a repeated one are corrupt', () => {
  const d = runAuthScenario();
  const chunks = [...d.sm.snapshot()].map((c) => c.slice());
  const bytes = Uint8Array.from(chunks.flatMap((c) => [...c]));
  const restoreFails = (data: Uint8Array, reason: RegExp): void => {
    const sm = new KvStateMachine(d.sm.options);
    assert.throws(() => sm.restore([data]), (err: unknown) => err instanceof CorruptSnapshotError && reason.test(err.message));
    assert.deepEqual(sm.auth.status(), { enabled: false, revision: 0 }, 'state unchanged');
  };
  const v1 = bytes.slice();
  v1[4] = 1;
  restoreFails(v1, /AUTH block in a format-1 snapshot/);
  // Find the AUTH block: the chunk before the END block's chunk (blocks are never merged into one chunk here).
  const endChunk = chunks[chunks.length - 1]!;
  const authChunk = chunks[chunks.length - 2]!;
  assert.equal(authChunk[4], 5, 'the AUTH block kind');
  const withoutAuth = Uint8Array.from([...chunks.slice(0, -2).flatMap((c) => [...c]), ...endChunk]);
  restoreFails(withoutAuth, /without an AUTH block/);
  const twice = Uint8Array.from([...chunks.slice(0, -1).flatMap((c) => [...c]), ...authChunk, ...endChunk]);
  restoreFails(twice, /AUTH block out of order or repeated/);
});

const names = fc.constantFrom('root', 'alice', 'bob', 'r1', 'r2', 'root');
const keyBytes = fc.uint8Array({ minLength: 1, maxLength: 3 });
const range = fc.oneof(
  keyBytes.map((key) => ({ key })),
  keyBytes.map((key) => ({ key, rangeEnd: Uint8Array.of(0) })),
  keyBytes.map((key) => prefixPermissionRange(key)),
);
const access = fc.constantFrom(PermissionAccess.Read, PermissionAccess.Write, PermissionAccess.ReadWrite);
const record = fc.record({ salt: fc.uint8Array({ minLength: 1, maxLength: 4 }), hash: fc.uint8Array({ minLength: 1, maxLength: 4 }) }).map((r) => ({ algorithm: 'scrypt', params: { N: 2 }, ...r }));
const authCommand: fc.Arbitrary<AuthCommand> = fc.oneof(
  fc.tuple(names, fc.option(record)).map(([name, password]) => ({ kind: K.UserAdd, name, password })),
  names.map((name) => ({ kind: K.UserDelete, name })),
  fc.tuple(names, fc.option(record)).map(([name, password]) => ({ kind: K.UserChangePassword, name, password })),
  fc.tuple(names, names).map(([name, role]) => ({ kind: K.UserGrantRole, name, role })),
  fc.tuple(names, names).map(([name, role]) => ({ kind: K.UserRevokeRole, name, role })),
  names.map((name) => ({ kind: K.RoleAdd, name })),
  names.map((name) => ({ kind: K.RoleDelete, name })),
  fc.tuple(names, access, range).map(([name, a, r]) => ({ kind: K.RoleGrantPermission, name, permission: { access: a, ...r } })),
  fc.tuple(names, range).map(([name, r]) => ({ kind: K.RoleRevokePermission, name, range: r })),
  fc.constant({ kind: K.AuthEnable }),
  fc.constant({ kind: K.AuthDisable }),
) as fc.Arbitrary<AuthCommand>;

test('any history of auth commands snapshots and restores to the same state and the same bytes, and replicas agree', () => {
  fc.assert(
    fc.property(fc.array(authCommand, { maxLength: 40 }), (commands) => {
      const d = new Driver();
      for (const command of commands) d.run(command);
      const bytes = d.sm.snapshot().toBytes();
      const restored = new KvStateMachine(d.sm.options);
      restored.restore([bytes]);
      assert.deepEqual(restored.snapshot().toBytes(), bytes);
      assert.deepEqual(authDump(restored), authDump(d.sm));
      const replica = new Driver();
      d.log.forEach((entry, i) => replica.sm.apply(i + 1, entry));
      assert.deepEqual(replica.sm.snapshot().toBytes(), bytes);
      // Invariants: enabled only with root; every granted role exists.
      const status = d.sm.auth.status();
      if (status.enabled) assert.ok(d.sm.auth.user('root') !== undefined);
      for (const user of d.sm.auth.listUsers()) for (const role of d.sm.auth.getUser(user).roles) assert.ok(d.sm.auth.role(role));
    }),
    { numRuns: 300 },
  );
});
