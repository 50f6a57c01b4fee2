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
import { runAuthScenario, runSnapshotScenario } from './snapshot-scenario.js';
import { FORMAT_2_AUTH_SCENARIO_APPLIED, FORMAT_2_AUTH_SCENARIO_BASE64 } from './snapshot-fixtures.js';

const GOLDEN_AUTH_SNAPSHOT_BYTES = 2733;
const GOLDEN_AUTH_SNAPSHOT_SHA256 = 'a023517a263541f5e1ea9fbe9b3d842497ccef3a616e8e6616488d37acb17b08';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

const authDump = (sm: KvStateMachine): unknown => ({
  status: sm.auth.status(),
  users: sm.auth.listUsers().map((name) => ({ ...sm.auth.getUser(name), password: sm.auth.user(name)?.password })),
  roles: sm.auth.listRoles().map((name) => sm.auth.getRole(name)),
});

/** runAuthScenario()'s snapshot (format 3 with an AUTH block): never changes without a new SNAPSHOT_FORMAT_VERSION. */
test('the snapshot of a fixed history with auth state has fixed bytes', () => {
  const snapshot = runAuthScenario().sm.snapshot();
  assert.equal(snapshot.formatVersion, 3);
  const bytes = snapshot.toBytes();
  assert.equal(bytes[4], 3, 'format version byte');
  assert.equal(bytes.length, GOLDEN_AUTH_SNAPSHOT_BYTES);
  assert.equal(sha256(bytes), GOLDEN_AUTH_SNAPSHOT_SHA256);
});

test('a restored snapshot has the same users, roles, switch and saved auth results, and writes the same bytes', () => {
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

test('a store that never took an auth command writes no AUTH block, and it restores with auth pristine', () => {
  const d = runSnapshotScenario();
  const snapshot = d.sm.snapshot();
  const kinds = (snap: Iterable<Uint8Array>) => [...snap].map((c) => c[c[0] === 0x43 ? 9 : 4]);
  assert.ok(!kinds(snapshot).includes(5), 'no AUTH block');
  // A failed auth command leaves the state pristine: still no AUTH block.
  d.run({ kind: K.AuthEnable });
  assert.ok(!kinds(d.sm.snapshot()).includes(5));
  const restored = new KvStateMachine(d.sm.options);
  restored.restore([snapshot.toBytes()]);
  assert.deepEqual(restored.auth.status(), { enabled: false, revision: 0 });
  assert.deepEqual(restored.auth.listUsers(), []);
});

test('a format-2 snapshot (index-based revisions, with auth) still restores: same auth state, revision = its appliedIndex', () => {
  const d = runAuthScenario();
  const old = new KvStateMachine(d.sm.options);
  old.restore([Buffer.from(FORMAT_2_AUTH_SCENARIO_BASE64, 'base64')]);
  assert.equal(old.appliedIndex, FORMAT_2_AUTH_SCENARIO_APPLIED);
  assert.equal(old.revision, FORMAT_2_AUTH_SCENARIO_APPLIED);
  assert.deepEqual(authDump(old), authDump(d.sm));
  assert.equal(old.keyCount, d.sm.keyCount);
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
  const restoreFails = (data: Uint8Array, reason: RegExp): void => {
    const sm = new KvStateMachine(d.sm.options);
    assert.throws(() => sm.restore([data]), (err: unknown) => err instanceof CorruptSnapshotError && reason.test(err.message));
    assert.deepEqual(sm.auth.status(), { enabled: false, revision: 0 }, 'state unchanged');
  };
  const v2 = new Uint8Array(Buffer.from(FORMAT_2_AUTH_SCENARIO_BASE64, 'base64'));
  const v1 = v2.slice();
  v1[4] = 1;
  restoreFails(v1, /AUTH block in a format-1 snapshot/);
  // The AUTH block is the one before END (whose 13 bytes end the stream): find its start by walking the blocks.
  const blocks: [number, number][] = [];
  for (let off = 5; off < v2.length; ) {
    const len = new DataView(v2.buffer, v2.byteOffset).getUint32(off);
    blocks.push([off, off + 8 + len]);
    off += 8 + len;
  }
  const [authStart, authEnd] = blocks[blocks.length - 2]!;
  assert.equal(v2[authStart + 4], 5, 'the AUTH block kind');
  const withoutAuth = Uint8Array.from([...v2.subarray(0, authStart), ...v2.subarray(authEnd)]);
  restoreFails(withoutAuth, /without an AUTH block/);
  const twice = Uint8Array.from([...v2.subarray(0, authEnd), ...v2.subarray(authStart)]);
  restoreFails(twice, /AUTH block out of order or repeated/);
  // Format 3: the AUTH block is optional, but never repeated.
  const chunks = [...d.sm.snapshot()].map((c) => c.slice());
  const endChunk = chunks[chunks.length - 1]!;
  const authChunk = chunks[chunks.length - 2]!;
  assert.equal(authChunk[4], 5, 'the AUTH block kind');
  const v3twice = Uint8Array.from([...chunks.slice(0, -1).flatMap((c) => [...c]), ...authChunk, ...endChunk]);
  restoreFails(v3twice, /AUTH block out of order or repeated/);
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
