import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AuthMethod,
  AuthOverloadedError,
  Authenticator,
  InvalidPasswordError,
  PASSWORD_BYTES_MAX,
  PasswordHasher,
  SALT_BYTES,
  commonNameOf,
  defaultScryptParams,
  scryptParamsOf,
} from '../../src/auth/index.js';
import {
  AuthCommandKind as K,
  AuthenticationFailedError,
  KvStateMachine,
  type AuthCommand,
} from '../../src/kv/index.js';
import { applyCommand } from '../../src/testing/kv-apply.js';

/** Cheap parameters: these tests are about behaviour, not cost. */
const fast = { N: 1024, r: 8, p: 1, keyBytes: 32 };

test('a hash is salted, records its parameters, and verifies only the right password', async () => {
  const hasher = new PasswordHasher({ params: fast });
  const record = await hasher.hash('correct horse');
  assert.equal(record.algorithm, 'scrypt');
  assert.deepEqual(record.params, fast);
  assert.equal(record.salt.length, SALT_BYTES);
  assert.equal(record.hash.length, 32);
  assert.equal(await hasher.verify('correct horse', record), true);
  assert.equal(await hasher.verify('correct horsf', record), false);
  assert.equal(await hasher.verify('correct horse ', record), false);
  const again = await hasher.hash('correct horse');
  assert.notDeepEqual(again.salt, record.salt, 'a fresh salt per hash');
  assert.notDeepEqual(again.hash, record.hash);
  // A record made with other parameters verifies: they are read from the record.
  const other = new PasswordHasher({ params: { N: 2048, r: 4, p: 2, keyBytes: 48 } });
  assert.equal(await hasher.verify('pw', await other.hash('pw')), true);
});

test('records a hasher cannot verify are a failed login, never a crash; bad passwords are typed errors', async () => {
  const hasher = new PasswordHasher({ params: fast });
  const record = await hasher.hash('pw');
  assert.equal(await hasher.verify('pw', { ...record, algorithm: 'md5' }), false);
  assert.equal(await hasher.verify('pw', { ...record, params: { ...record.params, N: 1000 } }), false, 'N not a power of two');
  assert.equal(await hasher.verify('pw', { ...record, params: { ...record.params, N: 2 ** 24 } }), false, 'too much memory');
  assert.equal(await hasher.verify('pw', { ...record, params: { N: 1024, r: 8 } }), false, 'missing params');
  assert.equal(await hasher.verify('pw', { ...record, hash: record.hash.subarray(0, 16) }), false, 'hash length mismatch');
  assert.equal(scryptParamsOf(record)?.N, 1024);
  await assert.rejects(hasher.hash(''), InvalidPasswordError);
  await assert.rejects(hasher.verify('x'.repeat(PASSWORD_BYTES_MAX + 1), record), InvalidPasswordError);
  assert.ok(defaultScryptParams.N >= 2 ** 15, 'production cost stays high');
});

test('at most hashConcurrencyMax hashes run and hashQueueMax wait; more are refused at once as Overloaded', async () => {
  const hasher = new PasswordHasher({ params: fast, hashConcurrencyMax: 2, hashQueueMax: 3 });
  const record = await hasher.hash('pw');
  const attempts = Array.from({ length: 8 }, () => hasher.verify('pw', record).then((ok) => ok, (err: unknown) => err));
  assert.deepEqual(hasher.load, { running: 2, waiting: 3 });
  const outcomes = await Promise.all(attempts);
  assert.equal(outcomes.filter((o) => o === true).length, 5, 'running and queued attempts complete');
  const refused = outcomes.filter((o) => o instanceof AuthOverloadedError);
  assert.equal(refused.length, 3);
  assert.equal((refused[0] as AuthOverloadedError).code, 'CONCORD_ERR_OVERLOADED');
  assert.deepEqual(hasher.load, { running: 0, waiting: 0 }, 'every slot is given back');
  assert.equal(await hasher.verify('pw', record), true, 'the hasher serves again');
});

test('salts come from the injected random source', async () => {
  const hasher = new PasswordHasher({ params: fast, randomBytes: (n) => new Uint8Array(n).fill(0xab) });
  const a = await hasher.hash('pw');
  const b = await hasher.hash('pw');
  assert.deepEqual(a.salt, new Uint8Array(SALT_BYTES).fill(0xab));
  assert.deepEqual(a.hash, b.hash, 'same salt, same password: same hash');
});

async function authCluster(): Promise<{ sm: KvStateMachine; hasher: PasswordHasher; apply: (c: AuthCommand) => void }> {
  const hasher = new PasswordHasher({ params: fast });
  const sm = new KvStateMachine();
  let index = 0;
  const apply = (command: AuthCommand): void => assert.equal(applyCommand(sm, ++index, command, 1000).kind, 'ok');
  // The server hashes before proposing: the log carries the record only.
  apply({ kind: K.UserAdd, name: 'root', password: await hasher.hash('root-pw') });
  apply({ kind: K.UserAdd, name: 'alice', password: await hasher.hash('alice-pw') });
  apply({ kind: K.UserAdd, name: 'cert-user', password: null });
  apply({ kind: K.AuthEnable });
  return { sm, hasher, apply };
}

test('the Authenticator accepts the right password and refuses wrong ones, unknown users and password-less users alike', async () => {
  const { sm, hasher, apply } = await authCluster();
  const authenticator = new Authenticator(sm.auth, hasher);
  const principal = await authenticator.authenticatePassword('alice', 'alice-pw');
  assert.equal(principal.user, 'alice');
  assert.equal(principal.method, AuthMethod.Password);
  assert.equal(authenticator.isCurrent(principal), true);
  for (const [user, password] of [['alice', 'wrong'], ['nobody', 'alice-pw'], ['cert-user', 'anything'], ['root', 'alice-pw']]) {
    await assert.rejects(authenticator.authenticatePassword(user!, password!), (err: unknown) => {
      assert.ok(err instanceof AuthenticationFailedError);
      assert.equal(err.message, `authentication failed for user ${JSON.stringify(user)}`, 'the same message whatever the reason');
      return true;
    });
  }
  // A password change makes earlier logins stale; a deleted user's too.
  apply({ kind: K.UserChangePassword, name: 'alice', password: await hasher.hash('new-pw') });
  assert.equal(authenticator.isCurrent(principal), false);
  await assert.rejects(authenticator.authenticatePassword('alice', 'alice-pw'), AuthenticationFailedError);
  const renewed = await authenticator.authenticatePassword('alice', 'new-pw');
  apply({ kind: K.UserDelete, name: 'alice' });
  assert.equal(authenticator.isCurrent(renewed), false);
});

test('a client certificate authenticates as its CN, which must name a user while auth is enabled', async () => {
  const { sm, hasher, apply } = await authCluster();
  const authenticator = new Authenticator(sm.auth, hasher);
  const principal = authenticator.authenticateCertificate({ subject: { CN: 'cert-user' } });
  assert.deepEqual([principal.user, principal.method], ['cert-user', AuthMethod.Certificate]);
  assert.equal(authenticator.isCurrent(principal), true);
  assert.throws(() => authenticator.authenticateCertificate({ subject: { CN: 'stranger' } }), AuthenticationFailedError);
  assert.throws(() => authenticator.authenticateCertificate({ subject: { CN: ['a', 'b'] } }), AuthenticationFailedError, 'several CNs are ambiguous');
  assert.throws(() => authenticator.authenticateCertificate(null), AuthenticationFailedError);
  assert.equal(commonNameOf({ subject: { CN: '' } }), null);
  apply({ kind: K.AuthDisable });
  assert.equal(authenticator.authenticateCertificate({ subject: { CN: 'stranger' } }).user, 'stranger', 'auth disabled: any CN');
});
