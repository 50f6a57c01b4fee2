/**
 * What each request needs, so that the server's check is one call per
 * request (`checkCommand` before proposing, `checkGet`/`checkScan` before a
 * read, `checkAuthQuery` for user/role queries), and `buildUserCommand` to
 * hash a password before proposing.
 *
 * As in etcd: changing users, roles or the switch is administration (root
 * only); a user may read its own user record and the roles it holds; session
 * commands and `cluster.status` only need an authenticated user (quotas bound
 * sessions).
 */
import {
  AuthCommandKind,
  CommandKind,
  TxnOpType,
  type Command,
  type TxnBody,
  type ScanRequest,
  type UserAddCommand,
  type UserChangePasswordCommand,
} from '../kv/index.js';
import { Operation, scanRange, type Authorizer } from './authorize.js';
import type { PasswordHasher } from './password.js';

/** Throws AuthenticationFailedError / PermissionDeniedError unless `user` may propose `command`. */
export function checkCommand(authorizer: Authorizer, user: string | null, command: Command): void {
  switch (command.kind) {
    case CommandKind.Put:
    case CommandKind.Update:
    case CommandKind.Delete:
      return authorizer.check(user, Operation.Write, { key: command.key });
    case CommandKind.OpenSession:
    case CommandKind.CloseSession:
    case CommandKind.KeepAlive:
    case CommandKind.Noop:
      return authorizer.checkAuthenticated(user);
    // A grant or keep-alive touches no key; revoking or renewing a lease with keys also needs write access to
    // each of them, which the server checks against the lease's keys (etcd's rule). Expiry entries are the leader's own.
    case CommandKind.LeaseGrant:
    case CommandKind.LeaseKeepAlive:
    case CommandKind.LeaseRevoke:
      return authorizer.checkAuthenticated(user);
    case CommandKind.Txn:
      return checkTxn(authorizer, user, command);
    default:
      // Auth commands, and anything unknown: never "no access needed".
      return authorizer.check(user, Operation.Admin, null);
  }
}

/**
 * A transaction needs every key it may touch, in both branches (which one
 * runs depends on the data, and the answer must not): read for compares,
 * gets and scans, write for puts, updates, incrs and deletes, over the whole range
 * for a range. Nested transactions likewise.
 */
export function checkTxn(authorizer: Authorizer, user: string | null, body: TxnBody): void {
  authorizer.checkAuthenticated(user);
  for (const c of body.compare) authorizer.check(user, Operation.Read, c.rangeEnd === undefined ? { key: c.key } : { key: c.key, rangeEnd: c.rangeEnd });
  for (const op of body.success.length === 0 ? body.failure : body.failure.length === 0 ? body.success : [...body.success, ...body.failure]) {
    switch (op.type) {
      case TxnOpType.Get:
        authorizer.check(user, Operation.Read, { key: op.key });
        break;
      case TxnOpType.Scan:
        authorizer.check(user, Operation.Read, op.rangeEnd === undefined ? { key: op.key } : { key: op.key, rangeEnd: op.rangeEnd });
        break;
      case TxnOpType.Put:
      case TxnOpType.Update:
      case TxnOpType.Incr:
        authorizer.check(user, Operation.Write, { key: op.key });
        break;
      case TxnOpType.Delete:
        authorizer.check(user, Operation.Write, op.rangeEnd === undefined ? { key: op.key } : { key: op.key, rangeEnd: op.rangeEnd });
        break;
      case TxnOpType.Txn:
        checkTxn(authorizer, user, op);
        break;
    }
  }
}

export function checkGet(authorizer: Authorizer, user: string | null, key: Uint8Array): void {
  authorizer.check(user, Operation.Read, { key });
}

/** A scan is checked against the range it asks for (not narrowed by `after`). */
export function checkScan(authorizer: Authorizer, user: string | null, request: Pick<ScanRequest, 'prefix' | 'start' | 'end'>): void {
  authorizer.check(user, Operation.Read, scanRange(request));
}

export type AuthQuery =
  | { readonly kind: 'userGet'; readonly name: string }
  | { readonly kind: 'roleGet'; readonly name: string }
  | { readonly kind: 'userList' | 'roleList' }
  | { readonly kind: 'authStatus' };

/**
 * `user get NAME` is allowed to NAME itself, `role get ROLE` to a holder of
 * ROLE, `auth status` to any authenticated user; listings need admin.
 * `rolesOf(user)` reads the caller's roles from the replicated state.
 */
export function checkAuthQuery(authorizer: Authorizer, user: string | null, query: AuthQuery, rolesOf: (user: string) => readonly string[]): void {
  authorizer.checkAuthenticated(user);
  if (query.kind === 'authStatus') return;
  if (user !== null && query.kind === 'userGet' && query.name === user) return;
  if (user !== null && query.kind === 'roleGet' && rolesOf(user).includes(query.name)) return;
  authorizer.check(user, Operation.Admin, null);
}

/** Hashes the password (when given) and builds the command to propose: the log never sees the password. */
export async function buildUserCommand(
  hasher: PasswordHasher,
  kind: typeof AuthCommandKind.UserAdd | typeof AuthCommandKind.UserChangePassword,
  name: string,
  password: string | null,
): Promise<UserAddCommand | UserChangePasswordCommand> {
  const record = password === null ? null : await hasher.hash(password);
  return { kind, name, password: record };
}
