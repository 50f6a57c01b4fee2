import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AuthCommandKind as K,
  AuthenticationFailedError,
  KvStateMachine,
  PermissionAccess,
  PermissionDeniedError,
  prefixPermissionRange,
  type AuthCommand,
  type TxnBody,
} from '../../src/kv/index.js';
import { Authorizer, checkTxn } from '../../src/auth/index.js';
import { applyCommand } from '../../src/testing/kv-apply.js';

const b = (s: string): Uint8Array => new TextEncoder().encode(s);

/** alice: readwrite on a/, read on r/; auth enabled. */
function authState(): KvStateMachine {
  const sm = new KvStateMachine();
  const commands: AuthCommand[] = [
    { kind: K.UserAdd, name: 'root', password: null },
    { kind: K.RoleAdd, name: 'root' },
    { kind: K.UserGrantRole, name: 'root', role: 'root' },
    { kind: K.UserAdd, name: 'alice', password: null },
    { kind: K.RoleAdd, name: 'app' },
    { kind: K.RoleGrantPermission, name: 'app', permission: { access: PermissionAccess.ReadWrite, ...prefixPermissionRange(b('a/')) } },
    { kind: K.RoleGrantPermission, name: 'app', permission: { access: PermissionAccess.Read, ...prefixPermissionRange(b('r/')) } },
    { kind: K.UserGrantRole, name: 'alice', role: 'app' },
    { kind: K.AuthEnable },
  ];
  commands.forEach((c, i) => assert.equal(applyCommand(sm, i + 1, c, 1000).kind, 'ok', c.kind));
  return sm;
}

const body = (partial: Partial<TxnBody>): TxnBody => ({ compare: [], success: [], failure: [], ...partial });

test('a transaction needs read for every compare, get and scan and write for every put, update and delete, in both branches and nested', () => {
  const authorizer = new Authorizer(authState().auth);
  const allowed = (t: TxnBody, user: string | null = 'alice') => {
    try {
      checkTxn(authorizer, user, t);
      return true;
    } catch (error) {
      if (error instanceof PermissionDeniedError || error instanceof AuthenticationFailedError) return false;
      throw error;
    }
  };
  assert.equal(allowed(body({ compare: [{ key: b('r/x'), target: 'version', op: '=', version: 0 }], success: [{ type: 'put', key: b('a/x'), value: b('v') }] })), true);
  assert.equal(allowed(body({ compare: [{ key: b('z'), target: 'version', op: '=', version: 0 }] })), false, 'compare needs read');
  assert.equal(allowed(body({ success: [{ type: 'put', key: b('r/x'), value: b('v') }] })), false, 'read-only prefix: no put');
  assert.equal(allowed(body({ failure: [{ type: 'delete', key: b('r/x') }] })), false, 'the failure branch is checked too');
  assert.equal(allowed(body({ success: [{ type: 'scan', key: b('r/'), rangeEnd: b('r0') }] })), true);
  assert.equal(allowed(body({ success: [{ type: 'scan', key: b('a/'), rangeEnd: b('s') }] })), false, 'a range must be covered whole');
  assert.equal(allowed(body({ success: [{ type: 'delete', key: b('a/'), rangeEnd: b('a0') }] })), true);
  assert.equal(allowed(body({ success: [{ type: 'txn', compare: [], success: [], failure: [{ type: 'update', key: b('b'), value: b('v') }] }] })), false, 'nested');
  assert.equal(allowed(body({ compare: [{ key: b('a/'), rangeEnd: b('a0'), target: 'value', op: '=', value: b('v') }] })), true, 'range compare');
  assert.equal(allowed(body({}), null), false, 'unauthenticated');
  assert.equal(allowed(body({ success: [{ type: 'put', key: b('anything'), value: b('v') }] }), 'root'), true);
});
