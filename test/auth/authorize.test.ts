import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AuthCommandKind as K,
  AuthenticationFailedError,
  KvErrorCode,
  KvStateMachine,
  PermissionAccess,
  PermissionDeniedError,
  prefixPermissionRange,
  type AuthCommand,
  type Permission,
} from '../../src/kv/index.js';
import { Authorizer, Operation, authorize, covers, intervalOf, mergeIntervals, scanRange, type Target } from '../../src/auth/index.js';
import { applyCommand } from '../../src/testing/kv-apply.js';

const te = new TextEncoder();
const b = (s: string): Uint8Array => te.encode(s);

/** A state machine with users and roles, built through applied commands like a cluster's. */
function cluster(commands: AuthCommand[]): KvStateMachine {
  const sm = new KvStateMachine();
  let i = 0;
  for (const command of commands) {
    const result = applyCommand(sm, ++i, command, 1000);
    assert.equal(result.kind, 'ok', `${command.kind}: ${JSON.stringify(result)}`);
  }
  return sm;
}

const grant = (role: string, permission: Permission): AuthCommand => ({ kind: K.RoleGrantPermission, name: role, permission });
const read = PermissionAccess.Read;
const write = PermissionAccess.Write;
const readwrite = PermissionAccess.ReadWrite;

const sm = cluster([
  { kind: K.UserAdd, name: 'root', password: null },
  { kind: K.UserAdd, name: 'reader', password: null },
  { kind: K.UserAdd, name: 'prefix-a', password: null },
  { kind: K.UserAdd, name: 'writer', password: null },
  { kind: K.UserAdd, name: 'split', password: null },
  { kind: K.UserAdd, name: 'admin', password: null },
  { kind: K.UserAdd, name: 'nobody', password: null },
  { kind: K.RoleAdd, name: 'ro-k' },
  { kind: K.RoleAdd, name: 'a-prefix' },
  { kind: K.RoleAdd, name: 'wo-range' },
  { kind: K.RoleAdd, name: 'half1' },
  { kind: K.RoleAdd, name: 'half2' },
  { kind: K.RoleAdd, name: 'root' },
  grant('ro-k', { access: read, key: b('k') }),
  grant('a-prefix', { access: readwrite, ...prefixPermissionRange(b('a/')) }),
  grant('wo-range', { access: write, key: b('m'), rangeEnd: b('p') }),
  grant('half1', { access: read, key: b('c'), rangeEnd: b('e') }),
  grant('half2', { access: read, key: b('e'), rangeEnd: Uint8Array.of(0) }),
  { kind: K.UserGrantRole, name: 'reader', role: 'ro-k' },
  { kind: K.UserGrantRole, name: 'prefix-a', role: 'a-prefix' },
  { kind: K.UserGrantRole, name: 'writer', role: 'wo-range' },
  { kind: K.UserGrantRole, name: 'split', role: 'half1' },
  { kind: K.UserGrantRole, name: 'split', role: 'half2' },
  { kind: K.UserGrantRole, name: 'admin', role: 'root' },
  { kind: K.AuthEnable },
]);

const key = (k: string): Target => ({ key: b(k) });
const range = (from: string, to: string): Target => ({ key: b(from), rangeEnd: b(to) });

/** [user, operation, target, allowed] */
const table: [string | null, Operation, Target, boolean][] = [
  // root, and a holder of the role root, may do everything.
  ['root', Operation.Write, key('anything'), true],
  ['root', Operation.Read, scanRange({}), true],
  ['root', Operation.Admin, null, true],
  ['admin', Operation.Admin, null, true],
  ['admin', Operation.Write, key('x'), true],
  // A single-key read-only permission.
  ['reader', Operation.Read, key('k'), true],
  ['reader', Operation.Write, key('k'), false],
  ['reader', Operation.Read, key('k2'), false],
  ['reader', Operation.Read, key('j'), false],
  ['reader', Operation.Read, range('k', 'l'), false],
  ['reader', Operation.Read, range('k', 'k\u0000'), true],
  ['reader', Operation.Admin, null, false],
  // A readwrite prefix a/.
  ['prefix-a', Operation.Read, key('a/x'), true],
  ['prefix-a', Operation.Write, key('a/'), true],
  ['prefix-a', Operation.Read, key('b/x'), false],
  ['prefix-a', Operation.Write, key('b/x'), false],
  ['prefix-a', Operation.Read, key('a'), false],
  ['prefix-a', Operation.Read, key('a0'), false],
  ['prefix-a', Operation.Read, scanRange({ prefix: b('a/') }), true],
  ['prefix-a', Operation.Read, scanRange({ prefix: b('a/sub/') }), true],
  ['prefix-a', Operation.Read, scanRange({ prefix: b('a') }), false],
  ['prefix-a', Operation.Read, scanRange({ start: b('a/'), end: b('b') }), false],
  ['prefix-a', Operation.Read, scanRange({}), false],
  // A write-only range [m, p).
  ['writer', Operation.Write, key('m'), true],
  ['writer', Operation.Write, key('o~'), true],
  ['writer', Operation.Write, key('p'), false],
  ['writer', Operation.Read, key('n'), false],
  // Two roles whose ranges touch cover the scan that spans them; the from-key one covers to the end.
  ['split', Operation.Read, scanRange({ start: b('c'), end: b('z') }), true],
  ['split', Operation.Read, scanRange({ start: b('c') }), true],
  ['split', Operation.Read, scanRange({ start: b('b'), end: b('d') }), false],
  ['split', Operation.Read, key('\u00ff'), true],
  ['split', Operation.Write, key('d'), false],
  // An empty range reads nothing: allowed.
  ['nobody', Operation.Read, range('q', 'q'), true],
  ['nobody', Operation.Read, key('q'), false],
  // No principal, or one whose user does not exist.
  [null, Operation.Read, key('k'), false],
  ['ghost', Operation.Read, key('k'), false],
];

test('permission table: keys vs prefixes and ranges, read-only roles writing, prefix a/ reading b/x, root', () => {
  const authorizer = new Authorizer(sm.auth);
  for (const [user, operation, target, allowed] of table) {
    const what = `${user} ${operation} ${target === null ? '-' : JSON.stringify([new TextDecoder().decode(target.key), target.rangeEnd && Array.from(target.rangeEnd)])}`;
    assert.equal(authorizer.allowed(user, operation, target), allowed, what);
    // The uncached function agrees.
    let ok = true;
    try {
      authorize(sm.auth, user, operation, target);
    } catch {
      ok = false;
    }
    assert.equal(ok, allowed, `${what} (uncached)`);
  }
});

test('refusals are typed: PermissionDenied names the user, the operation and the key; no credentials is AuthenticationFailed', () => {
  const authorizer = new Authorizer(sm.auth);
  assert.throws(
    () => authorizer.check('prefix-a', Operation.Read, key('b/x')),
    (err: unknown) =>
      err instanceof PermissionDeniedError &&
      err.code === KvErrorCode.PermissionDenied &&
      /user "prefix-a" may not read on "b\/x"/.test(err.message),
  );
  assert.throws(() => authorizer.check('reader', Operation.Write, key('k')), /may not write on "k"/);
  assert.throws(() => authorizer.check('reader', Operation.Admin, null), /may not admin$/);
  assert.throws(() => authorizer.check(null, Operation.Read, key('k')), (err: unknown) => err instanceof AuthenticationFailedError && err.code === KvErrorCode.AuthenticationFailed);
  assert.throws(() => authorizer.check('ghost', Operation.Read, key('k')), AuthenticationFailedError);
});

test('with auth disabled everything is allowed; changes to roles take effect on the next check (cache per revision)', () => {
  const live = cluster([
    { kind: K.UserAdd, name: 'root', password: null },
    { kind: K.UserAdd, name: 'u', password: null },
    { kind: K.RoleAdd, name: 'r' },
    { kind: K.UserGrantRole, name: 'u', role: 'r' },
  ]);
  const authorizer = new Authorizer(live.auth);
  assert.equal(authorizer.allowed(null, Operation.Write, key('x')), true, 'auth disabled');
  let index = live.appliedIndex;
  const apply = (command: AuthCommand): void => assert.equal(applyCommand(live, ++index, command, 1000).kind, 'ok');
  apply({ kind: K.AuthEnable });
  assert.equal(authorizer.allowed('u', Operation.Write, key('x')), false);
  apply(grant('r', { access: write, key: b('x') }));
  assert.equal(authorizer.allowed('u', Operation.Write, key('x')), true, 'a grant applies at once');
  apply({ kind: K.UserRevokeRole, name: 'u', role: 'r' });
  assert.equal(authorizer.allowed('u', Operation.Write, key('x')), false, 'a revoke applies at once');
  apply({ kind: K.UserGrantRole, name: 'u', role: 'r' });
  apply({ kind: K.UserDelete, name: 'u' });
  assert.throws(() => authorizer.check('u', Operation.Write, key('x')), AuthenticationFailedError, 'a deleted user loses every right');
  apply({ kind: K.AuthDisable });
  assert.equal(authorizer.allowed('u', Operation.Write, key('x')), true);
});

test('intervals: merging joins overlapping and adjacent ranges, and covering needs one merged interval', () => {
  const merged = mergeIntervals([
    intervalOf({ key: b('e'), rangeEnd: b('g') }),
    intervalOf({ key: b('a'), rangeEnd: b('c') }),
    intervalOf({ key: b('c'), rangeEnd: b('d') }),
    intervalOf({ key: b('f'), rangeEnd: b('h') }),
    intervalOf({ key: b('x') }),
  ]);
  assert.deepEqual(
    merged.map((i) => [new TextDecoder().decode(i.start), i.end && Array.from(i.end)]),
    [
      ['a', Array.from(b('d'))],
      ['e', Array.from(b('h'))],
      ['x', [0x78, 0]],
    ],
  );
  assert.equal(covers(merged, intervalOf({ key: b('a'), rangeEnd: b('d') })), true);
  assert.equal(covers(merged, intervalOf({ key: b('a'), rangeEnd: b('e') })), false, 'the gap [d, e) is not covered');
  assert.equal(covers(merged, intervalOf({ key: b('x') })), true);
  assert.equal(covers(merged, intervalOf({ key: b('x'), rangeEnd: Uint8Array.of(0) })), false);
  assert.equal(covers(mergeIntervals([intervalOf({ key: new Uint8Array(0), rangeEnd: Uint8Array.of(0) })]), intervalOf(scanRange({}))), true);
});

test('an Authorizer made before a snapshot restore sees the restored users and roles', () => {
  const target = new KvStateMachine();
  const authorizer = new Authorizer(target.auth);
  assert.equal(authorizer.allowed(null, Operation.Write, key('k')), true, 'empty store: auth disabled');
  target.restore(sm.snapshot());
  assert.equal(authorizer.allowed(null, Operation.Write, key('k')), false, 'restored: auth enabled');
  assert.equal(authorizer.allowed('reader', Operation.Read, key('k')), true);
  assert.equal(authorizer.allowed('reader', Operation.Write, key('k')), false);
});
