/**
 * The data model of replicated users, roles and permissions (etcd's auth
 * model): the commands that change it, the records it holds, and its bounds.
 * The state machine only stores what the server proposes: it never hashes a
 * password and never sees one (the server computes the PasswordRecord before
 * proposing, see src/auth/password.ts), so applying stays pure and cheap.
 */
import type { SessionRef } from './types.js';

/** How a password is stored: the KDF, its parameters, the salt and the derived key. Never the password. */
export interface PasswordRecord {
  /** The KDF's name, e.g. "scrypt". */
  readonly algorithm: string;
  /** The KDF's parameters by name (e.g. N, r, p, keyBytes); non-negative integers. */
  readonly params: Readonly<Record<string, number>>;
  readonly salt: Uint8Array;
  readonly hash: Uint8Array;
}

export const PermissionAccess = {
  Read: 'read',
  Write: 'write',
  ReadWrite: 'readwrite',
} as const;
export type PermissionAccess = (typeof PermissionAccess)[keyof typeof PermissionAccess];

/**
 * Keys a permission covers, as etcd writes them: `rangeEnd` absent is the one
 * key `key`; `rangeEnd` = [0x00] is every key >= `key` (with an empty `key`:
 * every key); otherwise the keys in [key, rangeEnd). `prefixPermissionRange`
 * turns a prefix into such a range. Only a range may have an empty `key`.
 */
export interface PermissionRange {
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
}

export interface Permission extends PermissionRange {
  readonly access: PermissionAccess;
}

/**
 * The names that are special: the user `root` may do everything (including
 * user, role and membership administration), and so may any user holding the
 * role `root`. Auth can only be enabled while the user `root` exists.
 */
export const ROOT_USER = 'root';
export const ROOT_ROLE = 'root';

export interface UserRecord {
  readonly name: string;
  /** null: the user cannot log in with a password (a client-certificate user, etcd's --no-password). */
  readonly password: PasswordRecord | null;
  /** Role names, sorted, no repeats; every one exists. */
  readonly roles: readonly string[];
}

export interface RoleRecord {
  readonly name: string;
  /** Sorted by (key, rangeEnd); at most one permission per (key, rangeEnd). */
  readonly permissions: readonly Permission[];
}

/** What `user get` shows: never the password record. */
export interface UserInfo {
  readonly name: string;
  readonly roles: readonly string[];
  readonly hasPassword: boolean;
}

export interface AuthStatus {
  readonly enabled: boolean;
  /** Counts every change to users, roles, permissions or the enabled flag; 0 for a store that never had one. */
  readonly revision: number;
}

/** Read-only view of the replicated auth state (for src/auth's Authorizer and Authenticator, and the auth queries). */
export interface AuthView extends AuthStatus {
  /** The stored record (with its password record), for src/auth; callers must not modify it. */
  user(name: string): UserRecord | undefined;
  role(name: string): RoleRecord | undefined;
  /** `auth status`. */
  status(): AuthStatus;
  /** `user get`: roles, never the password record; throws UserNotFoundError. */
  getUser(name: string): UserInfo;
  /** `user list`, in name order. */
  listUsers(): string[];
  /** `role get` (a copy); throws RoleNotFoundError. */
  getRole(name: string): RoleRecord;
  /** `role list`, in name order. */
  listRoles(): string[];
}

// ----------------------------------------------------------------- bounds

/** User and role names: 1..AUTH_NAME_BYTES_MAX bytes of UTF-8, no control characters; user names have no ':' (the CLI's NAME:PASSWORD). */
export const AUTH_NAME_BYTES_MAX = 256;
export const PASSWORD_ALGORITHM_BYTES_MAX = 32;
export const PASSWORD_PARAMS_MAX = 8;
/** Parameter names: 1..16 ASCII letters or digits, starting with a letter. */
export const PASSWORD_PARAM_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9]{0,15}$/;
export const PASSWORD_SALT_BYTES_MAX = 64;
export const PASSWORD_HASH_BYTES_MAX = 128;
export const USER_ROLES_MAX = 64;
export const ROLE_PERMISSIONS_MAX = 256;
/**
 * The whole auth state's encoded size (users and roles as they appear in a
 * snapshot). Bounds the memory of every replica and keeps the snapshot's AUTH
 * block far below SNAPSHOT_BLOCK_BYTES_MAX.
 */
export const AUTH_STATE_BYTES_MAX = 16 * 1024 * 1024;

// ----------------------------------------------------------------- commands

export const AuthCommandKind = {
  UserAdd: 'userAdd',
  UserDelete: 'userDelete',
  UserChangePassword: 'userChangePassword',
  UserGrantRole: 'userGrantRole',
  UserRevokeRole: 'userRevokeRole',
  RoleAdd: 'roleAdd',
  RoleDelete: 'roleDelete',
  RoleGrantPermission: 'roleGrantPermission',
  RoleRevokePermission: 'roleRevokePermission',
  AuthEnable: 'authEnable',
  AuthDisable: 'authDisable',
} as const;
export type AuthCommandKind = (typeof AuthCommandKind)[keyof typeof AuthCommandKind];

/**
 * Every auth command may carry a session, which makes it exactly-once like a
 * write: a retried `user add` gets its first answer, not UserExistsError.
 */
interface AuthCommandBase {
  readonly session?: SessionRef;
}

export interface UserAddCommand extends AuthCommandBase {
  readonly kind: typeof AuthCommandKind.UserAdd;
  readonly name: string;
  readonly password: PasswordRecord | null;
}

/** Deletes the user; refused for `root` while auth is enabled. */
export interface UserDeleteCommand extends AuthCommandBase {
  readonly kind: typeof AuthCommandKind.UserDelete;
  readonly name: string;
}

export interface UserChangePasswordCommand extends AuthCommandBase {
  readonly kind: typeof AuthCommandKind.UserChangePassword;
  readonly name: string;
  readonly password: PasswordRecord | null;
}

/** Granting a role the user already holds changes nothing and succeeds (as in etcd). */
export interface UserGrantRoleCommand extends AuthCommandBase {
  readonly kind: typeof AuthCommandKind.UserGrantRole;
  readonly name: string;
  readonly role: string;
}

export interface UserRevokeRoleCommand extends AuthCommandBase {
  readonly kind: typeof AuthCommandKind.UserRevokeRole;
  readonly name: string;
  readonly role: string;
}

export interface RoleAddCommand extends AuthCommandBase {
  readonly kind: typeof AuthCommandKind.RoleAdd;
  readonly name: string;
}

/** Deletes the role and revokes it from every user holding it. */
export interface RoleDeleteCommand extends AuthCommandBase {
  readonly kind: typeof AuthCommandKind.RoleDelete;
  readonly name: string;
}

/** Adds the permission, or changes the access of the role's permission on the same range (as in etcd). */
export interface RoleGrantPermissionCommand extends AuthCommandBase {
  readonly kind: typeof AuthCommandKind.RoleGrantPermission;
  readonly name: string;
  readonly permission: Permission;
}

/** Removes the role's permission on exactly this range. */
export interface RoleRevokePermissionCommand extends AuthCommandBase {
  readonly kind: typeof AuthCommandKind.RoleRevokePermission;
  readonly name: string;
  readonly range: PermissionRange;
}

/** Refused (RootUserRequiredError) unless the user `root` exists; enabling an enabled store succeeds. */
export interface AuthEnableCommand extends AuthCommandBase {
  readonly kind: typeof AuthCommandKind.AuthEnable;
}

export interface AuthDisableCommand extends AuthCommandBase {
  readonly kind: typeof AuthCommandKind.AuthDisable;
}

export type AuthCommand =
  | UserAddCommand
  | UserDeleteCommand
  | UserChangePasswordCommand
  | UserGrantRoleCommand
  | UserRevokeRoleCommand
  | RoleAddCommand
  | RoleDeleteCommand
  | RoleGrantPermissionCommand
  | RoleRevokePermissionCommand
  | AuthEnableCommand
  | AuthDisableCommand;

const authKinds: ReadonlySet<string> = new Set(Object.values(AuthCommandKind));

export function isAuthCommand(command: { readonly kind: string }): command is AuthCommand {
  return authKinds.has(command.kind);
}

/** The range of every key starting with `prefix` (etcd's --prefix). */
export function prefixPermissionRange(prefix: Uint8Array): PermissionRange {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i] !== 0xff) {
      // A copy even when `prefix` is a Buffer (whose slice() is a view: incrementing it would change the caller's prefix).
      const end = new Uint8Array(prefix.subarray(0, i + 1));
      end[i]!++;
      return { key: prefix, rangeEnd: end };
    }
  }
  // Empty or all 0xff: every key from the prefix on.
  return { key: prefix, rangeEnd: Uint8Array.of(0) };
}
