import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AuthCommandKind as K,
  AuthenticationFailedError,
  CommandKind,
  KvStateMachine,
  PermissionAccess,
  PermissionDeniedError,
  decodeCommand,
  encodeCommand,
  type AuthCommand,
  type Command,
} from '../../src/kv/index.js';
import { Authorizer, PasswordHasher, buildUserCommand, checkAuthQuery, checkCommand, checkGet, checkScan } from '../../src/auth/index.js';
import { applyCommand } from '../../src/testing/kv-apply.js';

const b = (s: string): Uint8Array => new TextEncoder().encode(s);

function setup(): { sm: KvStateMachine; authorizer: Authorizer } {
  const sm = new KvStateMachine();
  const commands: AuthCommand[] = [
    { kind: K.UserAdd, name: 'root', password: null },
    { kind: K.UserAdd, name: 'alice', password: null },
    { kind: K.RoleAdd, name: 'ro' },
    { kind: K.RoleAdd, name: 'other' },
    { kind: K.RoleGrantPermission, name: 'ro', permission: { access: PermissionAccess.Read, key: b('a/'), rangeEnd: b('a0') } },
    { kind: K.UserGrantRole, name: 'alice', role: 'ro' },
    { kind: K.AuthEnable },
  ];
  commands.forEach((c, i) => assert.equal(applyCommand(sm, i + 1, c, 1).kind, 'ok'));
  return { sm, authorizer: new Authorizer(sm.auth) };
}

const outcome = (fn: () => void): string => {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (err instanceof PermissionDeniedError) return 'denied';
    if (err instanceof AuthenticationFailedError) return 'unauthenticated';
    throw err;
  }
};

test('each command needs its access: writes need write on the key, sessions only a user, auth commands admin', () => {
  const { authorizer } = setup();
  const cases: [string | null, Command, string][] = [
    ['alice', { kind: CommandKind.Put, key: b('a/x'), value: b('v') }, 'denied'],
    ['alice', { kind: CommandKind.Delete, key: b('a/x') }, 'denied'],
    ['alice', { kind: CommandKind.OpenSession, ttlMs: 0 }, 'ok'],
    ['alice', { kind: CommandKind.KeepAlive, sessionId: 1 }, 'ok'],
    [null, { kind: CommandKind.OpenSession, ttlMs: 0 }, 'unauthenticated'],
    ['alice', { kind: K.UserAdd, name: 'mallory', password: null }, 'denied'],
    ['alice', { kind: K.UserGrantRole, name: 'alice', role: 'other' }, 'denied'],
    ['alice', { kind: K.AuthDisable }, 'denied'],
    ['root', { kind: K.AuthDisable }, 'ok'],
    ['root', { kind: CommandKind.Put, key: b('z'), value: b('v') }, 'ok'],
  ];
  for (const [user, command, expected] of cases) assert.equal(outcome(() => checkCommand(authorizer, user, command)), expected, `${user} ${command.kind}`);
  assert.equal(outcome(() => checkGet(authorizer, 'alice', b('a/x'))), 'ok');
  assert.equal(outcome(() => checkGet(authorizer, 'alice', b('b/x'))), 'denied');
  assert.equal(outcome(() => checkScan(authorizer, 'alice', { prefix: b('a/') })), 'ok');
  assert.equal(outcome(() => checkScan(authorizer, 'alice', {})), 'denied', 'a scan of everything is refused, not filtered');
});

test('auth queries: a user may read itself and its roles; listings need root; status needs any user', () => {
  const { sm, authorizer } = setup();
  const rolesOf = (user: string) => sm.auth.getUser(user).roles;
  const q = (user: string | null, query: Parameters<typeof checkAuthQuery>[2]) => outcome(() => checkAuthQuery(authorizer, user, query, rolesOf));
  assert.equal(q('alice', { kind: 'userGet', name: 'alice' }), 'ok');
  assert.equal(q('alice', { kind: 'userGet', name: 'root' }), 'denied');
  assert.equal(q('alice', { kind: 'roleGet', name: 'ro' }), 'ok');
  assert.equal(q('alice', { kind: 'roleGet', name: 'other' }), 'denied');
  assert.equal(q('alice', { kind: 'userList' }), 'denied');
  assert.equal(q('root', { kind: 'roleList' }), 'ok');
  assert.equal(q('alice', { kind: 'authStatus' }), 'ok');
  assert.equal(q(null, { kind: 'authStatus' }), 'unauthenticated');
});

test('buildUserCommand hashes before proposing: the encoded entry holds the record, never the password', async () => {
  const hasher = new PasswordHasher({ params: { N: 1024, r: 8, p: 1, keyBytes: 32 } });
  const command = await buildUserCommand(hasher, K.UserAdd, 'alice', 'sw0rdfish-secret');
  const entry = encodeCommand(command, 1);
  assert.equal(Buffer.from(entry).includes(Buffer.from('sw0rdfish-secret')), false);
  const decoded = decodeCommand(entry).command;
  assert.ok(decoded.kind === K.UserAdd && decoded.password !== null);
  assert.equal(await hasher.verify('sw0rdfish-secret', decoded.password), true);
  assert.equal((await buildUserCommand(hasher, K.UserChangePassword, 'alice', null)).password, null);
});
