/**
 * Authorization over the replicated users and roles: may this user read or
 * write this key or key range, or administer the cluster?
 *
 * The rules (etcd's):
 * - Auth disabled: everything is allowed, for everyone.
 * - Auth enabled: a request must come from a user that exists now (a deleted
 *   user's connection loses every right at once); the user `root`, and any user
 *   holding the role `root`, may do everything, including administration
 *   (users, roles, the auth switch, membership); nobody else may administer.
 * - read needs a `read` or `readwrite` permission, write a `write` or
 *   `readwrite` one, covering the key, or the WHOLE range for a range
 *   operation. The permissions of all the user's roles are merged first, so
 *   two adjacent grants together cover a range that spans them.
 * - A scan of a range the user may not read entirely is refused (as in etcd),
 *   not filtered: the answer never depends on which keys happen to exist, and
 *   paging stays exact. A paged scan is checked against the range it asked for
 *   (not narrowed by its continuation token).
 */
import {
  PermissionAccess,
  PermissionDeniedError,
  AuthenticationFailedError,
  ROOT_ROLE,
  ROOT_USER,
  compareBytes,
  isFromKey,
  prefixPermissionRange,
  type AuthView,
  type PermissionRange,
  type ScanRequest,
  type UserRecord,
} from '../kv/index.js';

export const Operation = {
  Read: 'read',
  Write: 'write',
  /** Users, roles, the auth switch, membership changes. */
  Admin: 'admin',
} as const;
export type Operation = (typeof Operation)[keyof typeof Operation];

/** [start, end) with end null for "no upper bound". */
interface Interval {
  readonly start: Uint8Array;
  readonly end: Uint8Array | null;
}

/** The key right after `key` in byte order: key + 0x00. */
function successor(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1);
  out.set(key);
  return out;
}

/** A permission range (etcd's key/rangeEnd convention) as an interval. */
export function intervalOf(range: PermissionRange): Interval {
  if (range.rangeEnd === undefined) return { start: range.key, end: successor(range.key) };
  if (isFromKey(range.rangeEnd)) return { start: range.key, end: null };
  return { start: range.key, end: range.rangeEnd };
}

/** end a <= end b, with null as infinity. */
function endAtMost(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (b === null) return true;
  if (a === null) return false;
  return compareBytes(a, b) <= 0;
}

/** Sorted, disjoint, non-adjacent intervals covering the same keys as `intervals`. */
export function mergeIntervals(intervals: readonly Interval[]): Interval[] {
  const sorted = [...intervals].sort((a, b) => compareBytes(a.start, b.start));
  const out: Interval[] = [];
  for (const next of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && (last.end === null || compareBytes(next.start, last.end) <= 0)) {
      if (!endAtMost(next.end, last.end)) out[out.length - 1] = { start: last.start, end: next.end };
    } else {
      out.push(next);
    }
  }
  return out;
}

/** Whether merged `intervals` cover all of `wanted` (an empty range is always covered). */
export function covers(intervals: readonly Interval[], wanted: Interval): boolean {
  if (wanted.end !== null && compareBytes(wanted.start, wanted.end) >= 0) return true;
  // Merged intervals are disjoint and non-adjacent: the range must fit inside one of them.
  for (const i of intervals) {
    if (compareBytes(i.start, wanted.start) > 0) return false;
    if (endAtMost(wanted.end, i.end)) return true;
  }
  return false;
}

/** The key range a scan request asks for, as a permission range. */
export function scanRange(request: Pick<ScanRequest, 'prefix' | 'start' | 'end'>): PermissionRange {
  if (request.prefix !== undefined) return prefixPermissionRange(request.prefix);
  const key = request.start ?? new Uint8Array(0);
  return { key, rangeEnd: request.end === undefined || request.end.length === 0 ? Uint8Array.of(0) : request.end };
}

/** Whether the user may do everything. */
export function isSuperuser(user: UserRecord): boolean {
  return user.name === ROOT_USER || user.roles.includes(ROOT_ROLE);
}

/** A user's merged read and write intervals at one auth revision. */
interface CompiledUser {
  readonly record: UserRecord;
  readonly superuser: boolean;
  readonly read: readonly Interval[];
  readonly write: readonly Interval[];
}

function compile(view: AuthView, user: UserRecord): CompiledUser {
  const read: Interval[] = [];
  const write: Interval[] = [];
  for (const roleName of user.roles) {
    const role = view.role(roleName);
    if (role === undefined) continue;
    for (const p of role.permissions) {
      const interval = intervalOf(p);
      if (p.access !== PermissionAccess.Write) read.push(interval);
      if (p.access !== PermissionAccess.Read) write.push(interval);
    }
  }
  return { record: user, superuser: isSuperuser(user), read: mergeIntervals(read), write: mergeIntervals(write) };
}

/** Compiled users kept per auth revision; the cache is dropped whole when it is full or the revision moves. */
export const AUTHORIZER_CACHE_USERS_MAX = 1024;

/** What a request is about: a key (`rangeEnd` absent), a range, or nothing (admin). */
export type Target = PermissionRange | null;

/**
 * Checks requests against a live AuthView (the state machine's `auth`),
 * caching each user's merged permissions until the auth revision changes.
 */
export class Authorizer {
  private revision = -1;
  private readonly cache = new Map<string, CompiledUser>();

  constructor(private readonly view: AuthView) {}

  /**
   * Throws AuthenticationFailedError (no user, or one that no longer exists)
   * or PermissionDeniedError when `user` may not do `operation` on `target`;
   * returns normally when it may. `user` null: an unauthenticated request.
   */
  check(user: string | null, operation: Operation, target: Target): void {
    const view = this.view;
    if (!view.enabled) return;
    if (user === null) throw new AuthenticationFailedError({ user: null });
    const compiled = this.compiled(user);
    if (compiled === null) throw new AuthenticationFailedError({ user });
    if (compiled.superuser) return;
    const denied = (): PermissionDeniedError =>
      new PermissionDeniedError({
        user,
        operation,
        key: target?.key ?? new Uint8Array(0),
        rangeEnd: target === null || target.rangeEnd === undefined ? null : isFromKey(target.rangeEnd) ? new Uint8Array(0) : target.rangeEnd,
      });
    if (operation === Operation.Admin || target === null) throw denied();
    const intervals = operation === Operation.Read ? compiled.read : compiled.write;
    if (!covers(intervals, intervalOf(target))) throw denied();
  }

  /**
   * Only that the request comes from an existing user while auth is enabled
   * (sessions, `cluster.status`, a user reading its own record). Throws
   * AuthenticationFailedError.
   */
  checkAuthenticated(user: string | null): void {
    if (!this.view.enabled) return;
    if (user === null) throw new AuthenticationFailedError({ user: null });
    if (this.compiled(user) === null) throw new AuthenticationFailedError({ user });
  }

  /** `check` as a boolean (AuthenticationFailed counts as not allowed). */
  allowed(user: string | null, operation: Operation, target: Target): boolean {
    try {
      this.check(user, operation, target);
      return true;
    } catch (err) {
      if (err instanceof PermissionDeniedError || err instanceof AuthenticationFailedError) return false;
      throw err;
    }
  }

  private compiled(user: string): CompiledUser | null {
    const view = this.view;
    if (view.revision !== this.revision || this.cache.size >= AUTHORIZER_CACHE_USERS_MAX) {
      this.cache.clear();
      this.revision = view.revision;
    }
    const record = view.user(user);
    if (record === undefined) return null;
    let compiled = this.cache.get(user);
    // A restored snapshot may bring other records at the same revision: compare the record too.
    if (compiled === undefined || compiled.record !== record) {
      compiled = compile(view, record);
      this.cache.set(user, compiled);
    }
    return compiled;
  }
}

/** One check without a cache (tests, rare paths): see Authorizer.check. */
export function authorize(view: AuthView, user: string | null, operation: Operation, target: Target): void {
  new Authorizer(view).check(user, operation, target);
}
