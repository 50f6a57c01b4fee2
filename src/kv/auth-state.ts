/**
 * The replicated auth state: users, roles, their permissions and the auth
 * switch (etcd's model, see auth-types.ts), changed only by applied auth
 * commands and carried in the snapshot's AUTH block.
 *
 * Deterministic like the rest of the state machine: failures are results,
 * listings are in name order, and `revision` counts the changes that took
 * effect (a command that fails or changes nothing leaves it alone), so every
 * replica has the same revision at the same log index. src/auth caches
 * compiled permissions per revision.
 */
import { ByteReader, ByteWriter, compareBytes, copyBytes, bytesEqual } from './bytes.js';
import {
  AuthLimitError,
  PermissionNotGrantedError,
  RoleExistsError,
  RoleNotFoundError,
  RoleNotGrantedError,
  RootUserRequiredError,
  UserExistsError,
  UserNotFoundError,
  type KvError,
} from './errors.js';
import { readPasswordRecord, readPermission, writePasswordRecord, writePermission } from './auth-codec.js';
import {
  AUTH_STATE_BYTES_MAX,
  AuthCommandKind,
  ROLE_PERMISSIONS_MAX,
  ROOT_USER,
  USER_ROLES_MAX,
  type AuthCommand,
  type AuthStatus,
  type AuthView,
  type PasswordRecord,
  type Permission,
  type PermissionRange,
  type RoleRecord,
  type UserInfo,
  type UserRecord,
} from './auth-types.js';
import { authCommandProblem, passwordRecordProblem, permissionProblem, roleNameProblem, userNameProblem } from './auth-validate.js';

/** What executing an auth command gave: null for success, else the error to return as the result. */
export type AuthOutcome = KvError | null;

function copyPassword(p: PasswordRecord | null): PasswordRecord | null {
  if (p === null) return null;
  const params: Record<string, number> = {};
  for (const name of Object.keys(p.params).sort()) params[name] = p.params[name]!;
  return { algorithm: p.algorithm, params, salt: copyBytes(p.salt), hash: copyBytes(p.hash) };
}

function copyPermission(p: Permission): Permission {
  return p.rangeEnd === undefined
    ? { access: p.access, key: copyBytes(p.key) }
    : { access: p.access, key: copyBytes(p.key), rangeEnd: copyBytes(p.rangeEnd) };
}

/** Order of a role's permissions: by key, then rangeEnd (a single key first). */
export function comparePermissionRanges(a: PermissionRange, b: PermissionRange): number {
  const byKey = compareBytes(a.key, b.key);
  if (byKey !== 0) return byKey;
  if (a.rangeEnd === undefined) return b.rangeEnd === undefined ? 0 : -1;
  if (b.rangeEnd === undefined) return 1;
  return compareBytes(a.rangeEnd, b.rangeEnd);
}

function sameRange(a: PermissionRange, b: PermissionRange): boolean {
  if (!bytesEqual(a.key, b.key)) return false;
  if (a.rangeEnd === undefined || b.rangeEnd === undefined) return a.rangeEnd === b.rangeEnd;
  return bytesEqual(a.rangeEnd, b.rangeEnd);
}

function writeUser(w: ByteWriter, u: UserRecord): void {
  w.string(u.name);
  writePasswordRecord(w, u.password);
  w.varint(u.roles.length);
  for (const role of u.roles) w.string(role);
}

function writeRole(w: ByteWriter, r: RoleRecord): void {
  w.string(r.name);
  w.varint(r.permissions.length);
  for (const p of r.permissions) writePermission(w, p);
}

function userBytes(u: UserRecord): number {
  const w = new ByteWriter(128);
  writeUser(w, u);
  return w.pos;
}

function roleBytes(r: RoleRecord): number {
  const w = new ByteWriter(128);
  writeRole(w, r);
  return w.pos;
}

const byName = <T extends { readonly name: string }>(map: Map<string, T>): T[] =>
  [...map.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

export class AuthState implements AuthView {
  private readonly users = new Map<string, UserRecord>();
  private readonly roles = new Map<string, RoleRecord>();
  private enabledFlag = false;
  private revisionCount = 0;
  /** Encoded size of every user and role (the AUTH_STATE_BYTES_MAX budget). */
  private bytes = 0;

  get enabled(): boolean {
    return this.enabledFlag;
  }

  get revision(): number {
    return this.revisionCount;
  }

  /** No auth command ever took effect: the snapshot can be written in format 1 (see snapshot-format.ts). */
  get pristine(): boolean {
    return this.revisionCount === 0;
  }

  /** The stored record; callers must not modify it. */
  user(name: string): UserRecord | undefined {
    return this.users.get(name);
  }

  role(name: string): RoleRecord | undefined {
    return this.roles.get(name);
  }

  status(): AuthStatus {
    return { enabled: this.enabledFlag, revision: this.revisionCount };
  }

  userInfo(name: string): UserInfo {
    const u = this.users.get(name);
    if (u === undefined) throw new UserNotFoundError({ user: name });
    return { name: u.name, roles: [...u.roles], hasPassword: u.password !== null };
  }

  userNames(): string[] {
    return byName(this.users).map((u) => u.name);
  }

  roleInfo(name: string): RoleRecord {
    const r = this.roles.get(name);
    if (r === undefined) throw new RoleNotFoundError({ role: name });
    return { name: r.name, permissions: r.permissions.map(copyPermission) };
  }

  roleNames(): string[] {
    return byName(this.roles).map((r) => r.name);
  }

  // ---------------------------------------------------------------- apply

  /** Applies one auth command (its session, if any, was handled by the caller). */
  execute(command: AuthCommand, keyBytesMax: number): AuthOutcome {
    const problem = authCommandProblem(command, keyBytesMax);
    if (problem !== null) return problem;
    switch (command.kind) {
      case AuthCommandKind.UserAdd: {
        if (this.users.has(command.name)) return new UserExistsError({ user: command.name });
        return this.putUser(undefined, { name: command.name, password: copyPassword(command.password), roles: [] });
      }
      case AuthCommandKind.UserDelete: {
        const u = this.users.get(command.name);
        if (u === undefined) return new UserNotFoundError({ user: command.name });
        if (u.name === ROOT_USER && this.enabledFlag) return new RootUserRequiredError({ operation: 'user delete' });
        this.users.delete(u.name);
        this.bytes -= userBytes(u);
        return this.changed();
      }
      case AuthCommandKind.UserChangePassword: {
        const u = this.users.get(command.name);
        if (u === undefined) return new UserNotFoundError({ user: command.name });
        return this.putUser(u, { name: u.name, password: copyPassword(command.password), roles: u.roles });
      }
      case AuthCommandKind.UserGrantRole: {
        const u = this.users.get(command.name);
        if (u === undefined) return new UserNotFoundError({ user: command.name });
        if (!this.roles.has(command.role)) return new RoleNotFoundError({ role: command.role });
        if (u.roles.includes(command.role)) return null;
        if (u.roles.length >= USER_ROLES_MAX) return new AuthLimitError({ limit: 'USER_ROLES_MAX', max: USER_ROLES_MAX });
        const roles = [...u.roles, command.role].sort();
        return this.putUser(u, { name: u.name, password: u.password, roles });
      }
      case AuthCommandKind.UserRevokeRole: {
        const u = this.users.get(command.name);
        if (u === undefined) return new UserNotFoundError({ user: command.name });
        if (!u.roles.includes(command.role)) return new RoleNotGrantedError({ user: command.name, role: command.role });
        return this.putUser(u, { name: u.name, password: u.password, roles: u.roles.filter((r) => r !== command.role) });
      }
      case AuthCommandKind.RoleAdd: {
        if (this.roles.has(command.name)) return new RoleExistsError({ role: command.name });
        return this.putRole(undefined, { name: command.name, permissions: [] });
      }
      case AuthCommandKind.RoleDelete: {
        const r = this.roles.get(command.name);
        if (r === undefined) return new RoleNotFoundError({ role: command.name });
        // As in etcd: the role is revoked from every user holding it.
        for (const u of byName(this.users)) {
          if (u.roles.includes(r.name)) this.putUser(u, { name: u.name, password: u.password, roles: u.roles.filter((x) => x !== r.name) });
        }
        this.roles.delete(r.name);
        this.bytes -= roleBytes(r);
        return this.changed();
      }
      case AuthCommandKind.RoleGrantPermission: {
        const r = this.roles.get(command.name);
        if (r === undefined) return new RoleNotFoundError({ role: command.name });
        const granted = copyPermission(command.permission);
        const at = r.permissions.findIndex((p) => sameRange(p, granted));
        let permissions: Permission[];
        if (at >= 0) {
          // The same range again changes its access (etcd's merge rule).
          if (r.permissions[at]!.access === granted.access) return null;
          permissions = r.permissions.slice();
          permissions[at] = granted;
        } else {
          if (r.permissions.length >= ROLE_PERMISSIONS_MAX) return new AuthLimitError({ limit: 'ROLE_PERMISSIONS_MAX', max: ROLE_PERMISSIONS_MAX });
          permissions = [...r.permissions, granted].sort(comparePermissionRanges);
        }
        return this.putRole(r, { name: r.name, permissions });
      }
      case AuthCommandKind.RoleRevokePermission: {
        const r = this.roles.get(command.name);
        if (r === undefined) return new RoleNotFoundError({ role: command.name });
        const at = r.permissions.findIndex((p) => sameRange(p, command.range));
        if (at < 0) {
          return new PermissionNotGrantedError({ role: r.name, key: copyBytes(command.range.key), rangeEnd: command.range.rangeEnd === undefined ? null : copyBytes(command.range.rangeEnd) });
        }
        return this.putRole(r, { name: r.name, permissions: r.permissions.filter((_, i) => i !== at) });
      }
      case AuthCommandKind.AuthEnable:
        if (!this.users.has(ROOT_USER)) return new RootUserRequiredError({ operation: 'auth enable' });
        if (this.enabledFlag) return null;
        this.enabledFlag = true;
        return this.changed();
      case AuthCommandKind.AuthDisable:
        if (!this.enabledFlag) return null;
        this.enabledFlag = false;
        return this.changed();
    }
  }

  private changed(): null {
    this.revisionCount++;
    return null;
  }

  /** Stores `next` in place of `previous` (undefined: a new user) within the byte budget. */
  private putUser(previous: UserRecord | undefined, next: UserRecord): AuthOutcome {
    const bytes = this.bytes - (previous === undefined ? 0 : userBytes(previous)) + userBytes(next);
    if (bytes > AUTH_STATE_BYTES_MAX) return new AuthLimitError({ limit: 'AUTH_STATE_BYTES_MAX', max: AUTH_STATE_BYTES_MAX });
    this.bytes = bytes;
    this.users.set(next.name, next);
    return this.changed();
  }

  private putRole(previous: RoleRecord | undefined, next: RoleRecord): AuthOutcome {
    const bytes = this.bytes - (previous === undefined ? 0 : roleBytes(previous)) + roleBytes(next);
    if (bytes > AUTH_STATE_BYTES_MAX) return new AuthLimitError({ limit: 'AUTH_STATE_BYTES_MAX', max: AUTH_STATE_BYTES_MAX });
    this.bytes = bytes;
    this.roles.set(next.name, next);
    return this.changed();
  }

  // ---------------------------------------------------------------- snapshot

  /**
   * The AUTH block's body: u8 enabled | varint revision | varint roleCount |
   * roles (name | varint permissionCount | permissions) | varint userCount |
   * users (name | password | varint roleCount | role names), each in name order.
   * Roles come first so that a reader can check every user's roles exist.
   */
  write(w: ByteWriter): void {
    w.u8(this.enabledFlag ? 1 : 0);
    w.varint(this.revisionCount);
    const roles = byName(this.roles);
    w.varint(roles.length);
    for (const r of roles) writeRole(w, r);
    const users = byName(this.users);
    w.varint(users.length);
    for (const u of users) writeUser(w, u);
  }

  /** Reads what `write` wrote, validating every record; a problem calls `fail`. */
  static read(r: ByteReader, fail: (reason: string) => never, keyBytesMax: number): AuthState {
    const state = new AuthState();
    const enabled = r.u8();
    if (enabled > 1) fail(`bad auth enabled byte ${enabled}`);
    state.revisionCount = r.varint();
    const roleCount = r.varint();
    let previous: string | null = null;
    for (let i = 0; i < roleCount; i++) {
      const name = r.string();
      if (roleNameProblem(name) !== null || (previous !== null && name <= previous)) fail('auth roles out of order or badly named');
      const count = r.varint();
      if (count > ROLE_PERMISSIONS_MAX) fail(`role with ${count} permissions`);
      const permissions: Permission[] = [];
      for (let j = 0; j < count; j++) {
        const p = readPermission(r, fail);
        if (permissionProblem(p, keyBytesMax) !== null) fail('bad permission');
        if (j > 0 && comparePermissionRanges(permissions[j - 1]!, p) >= 0) fail('role permissions out of order');
        permissions.push(p);
      }
      const role = { name, permissions };
      state.roles.set(name, role);
      state.bytes += roleBytes(role);
      previous = name;
    }
    const userCount = r.varint();
    previous = null;
    for (let i = 0; i < userCount; i++) {
      const name = r.string();
      if (userNameProblem(name) !== null || (previous !== null && name <= previous)) fail('auth users out of order or badly named');
      const password = readPasswordRecord(r, fail);
      if (passwordRecordProblem(password) !== null) fail('bad password record');
      const count = r.varint();
      if (count > USER_ROLES_MAX) fail(`user with ${count} roles`);
      const roles: string[] = [];
      for (let j = 0; j < count; j++) {
        const role = r.string();
        if (!state.roles.has(role) || (j > 0 && role <= roles[j - 1]!)) fail('user roles unknown or out of order');
        roles.push(role);
      }
      const user = { name, password, roles };
      state.users.set(name, user);
      state.bytes += userBytes(user);
      previous = name;
    }
    if (enabled === 1 && !state.users.has(ROOT_USER)) fail('auth enabled without a root user');
    if (state.bytes > AUTH_STATE_BYTES_MAX) fail('auth state over its byte budget');
    state.enabledFlag = enabled === 1;
    return state;
  }
}
