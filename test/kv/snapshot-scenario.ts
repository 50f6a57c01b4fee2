/**
 * A fixed history touching every part of the snapshot format: keys with 0x00
 * and 0xff bytes and shared prefixes, empty and multi-block values, deletes
 * and re-creations, sessions with different TTLs, saved write, delete and
 * error results (errors carrying key bytes), an expired and a closed session.
 * snapshot-golden.test.ts pins the bytes this history's snapshot had before
 * keys became binary strings: members running either version must agree.
 */
import { AuthCommandKind as K, CommandKind, PermissionAccess, prefixPermissionRange, type AuthCommand } from '../../src/kv/index.js';
import { Driver, b } from './helpers.js';

export function runSnapshotScenario(): Driver {
  const d = new Driver({ sessionTtlMs: 5_000, sessionTtlMinMs: 1_000, sessionTtlMaxMs: 50_000, snapshotChunkBytes: 512 });
  const s1 = d.openSession(); // default TTL
  const s2 = d.openSession(20_000);
  const s3 = d.openSession(1_000);
  for (let i = 0; i < 40; i++) d.put(`bench-${String(i * 7).padStart(6, '0')}`, `value ${i}`.repeat(i % 5));
  d.put(Uint8Array.of(0xff, 0xff, 0x00), Uint8Array.of(1, 2, 3));
  d.put(Uint8Array.of(0x00), new Uint8Array(0));
  d.put(Uint8Array.of(0x80, 0x7f), new Uint8Array(700).fill(0x5a));
  d.put('k', 'v1', { session: { sessionId: s1, seq: 1, ackedSeq: 0 } });
  d.put('k', 'v2', { session: { sessionId: s1, seq: 2, ackedSeq: 0 }, expectedVersion: 1 });
  d.update('missing', 'x', { session: { sessionId: s2, seq: 1, ackedSeq: 0 } });
  d.put('k', 'v3', { session: { sessionId: s2, seq: 2, ackedSeq: 0 }, expectedModRevision: 1 });
  d.del('bench-000014', { session: { sessionId: s2, seq: 3, ackedSeq: 0 } });
  d.nowMs += 2_000; // s3 (1 s TTL) expires on the next entry
  d.del('bench-000021');
  d.put('bench-000021', 'again');
  d.put(new Uint8Array(9000), 'v', { session: { sessionId: s1, seq: 3, ackedSeq: 1 } }); // KeyTooLarge, saved
  const s4 = d.openSession(3_000);
  d.run({ kind: CommandKind.KeepAlive, sessionId: s2 });
  d.run({ kind: CommandKind.CloseSession, sessionId: s4 });
  d.nowMs += 1;
  d.put(b('\u00e9t\u00e9'), b('summer'));
  d.run({ kind: CommandKind.Noop });
  if (d.sm.hasSession(s3)) throw new Error('scenario: s3 should have expired');
  return d;
}

/**
 * snapshot-golden.test.ts's history plus auth commands: users with and
 * without passwords, roles with key, range, prefix and from-key permissions,
 * auth enabled, and saved results of auth commands (a success and an error)
 * in a session. Its snapshot is format 2; these bytes never change without a
 * new SNAPSHOT_FORMAT_VERSION.
 */
export function runAuthScenario(): Driver {
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

