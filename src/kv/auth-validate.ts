/**
 * Checks of auth commands and records against the auth bounds. The server
 * runs them before proposing (through validateCommand); the state machine
 * runs them again on apply and when reading a snapshot, so no replica ever
 * stores a record the bounds forbid.
 */
import { compareBytes, utf8Encoder } from './bytes.js';
import { InvalidCommandError, type KvError } from './errors.js';
import {
  AUTH_NAME_BYTES_MAX,
  AuthCommandKind,
  PASSWORD_ALGORITHM_BYTES_MAX,
  PASSWORD_HASH_BYTES_MAX,
  PASSWORD_PARAM_NAME_PATTERN,
  PASSWORD_PARAMS_MAX,
  PASSWORD_SALT_BYTES_MAX,
  PermissionAccess,
  type AuthCommand,
  type PasswordRecord,
  type Permission,
  type PermissionRange,
} from './auth-types.js';
import { sessionProblem } from './validate.js';

const invalid = (reason: string): KvError => new InvalidCommandError({ reason });

/** A control character (C0, DEL, C1): names are shown in logs and terminals. */
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

function nameProblem(what: 'user' | 'role', name: unknown): KvError | null {
  if (typeof name !== 'string') return invalid(`${what} name must be a string`);
  const bytes = utf8Encoder.encode(name).length;
  if (bytes === 0 || bytes > AUTH_NAME_BYTES_MAX) return invalid(`${what} name must be 1..${AUTH_NAME_BYTES_MAX} bytes of UTF-8`);
  if (CONTROL_CHARACTER.test(name)) return invalid(`${what} name must not contain control characters`);
  if (name.trim() !== name) return invalid(`${what} name must not start or end with white space`);
  // NAME:PASSWORD on the command line (etcdctl's --user) splits at the first ':'.
  if (what === 'user' && name.includes(':')) return invalid("user name must not contain ':'");
  return null;
}

export function userNameProblem(name: unknown): KvError | null {
  return nameProblem('user', name);
}

export function roleNameProblem(name: unknown): KvError | null {
  return nameProblem('role', name);
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

export function passwordRecordProblem(record: unknown): KvError | null {
  if (record === null) return null;
  if (typeof record !== 'object') return invalid('password must be a record or null');
  const r = record as PasswordRecord;
  if (typeof r.algorithm !== 'string' || r.algorithm.length === 0 || utf8Encoder.encode(r.algorithm).length > PASSWORD_ALGORITHM_BYTES_MAX) {
    return invalid(`password algorithm must be 1..${PASSWORD_ALGORITHM_BYTES_MAX} bytes`);
  }
  if (typeof r.params !== 'object' || r.params === null) return invalid('password params must be an object');
  const names = Object.keys(r.params);
  if (names.length > PASSWORD_PARAMS_MAX) return invalid(`at most ${PASSWORD_PARAMS_MAX} password params`);
  for (const name of names) {
    if (!PASSWORD_PARAM_NAME_PATTERN.test(name)) return invalid(`bad password param name ${JSON.stringify(name)}`);
    if (!isCount(r.params[name])) return invalid(`password param ${name} must be an integer >= 0`);
  }
  if (!(r.salt instanceof Uint8Array) || r.salt.length === 0 || r.salt.length > PASSWORD_SALT_BYTES_MAX) {
    return invalid(`password salt must be 1..${PASSWORD_SALT_BYTES_MAX} bytes`);
  }
  if (!(r.hash instanceof Uint8Array) || r.hash.length === 0 || r.hash.length > PASSWORD_HASH_BYTES_MAX) {
    return invalid(`password hash must be 1..${PASSWORD_HASH_BYTES_MAX} bytes`);
  }
  return null;
}

/** rangeEnd [0x00]: every key from `key` on (etcd's --from-key). */
export function isFromKey(rangeEnd: Uint8Array): boolean {
  return rangeEnd.length === 1 && rangeEnd[0] === 0;
}

export function permissionRangeProblem(range: PermissionRange, keyBytesMax: number): KvError | null {
  if (typeof range !== 'object' || range === null) return invalid('permission range must be an object');
  const { key, rangeEnd } = range;
  if (!(key instanceof Uint8Array)) return invalid('permission key must be bytes');
  if (key.length > keyBytesMax) return invalid(`permission key is longer than ${keyBytesMax} bytes`);
  if (rangeEnd === undefined) return key.length === 0 ? invalid('a single-key permission needs a non-empty key') : null;
  if (!(rangeEnd instanceof Uint8Array)) return invalid('permission rangeEnd must be bytes');
  if (rangeEnd.length > keyBytesMax) return invalid(`permission rangeEnd is longer than ${keyBytesMax} bytes`);
  if (!isFromKey(rangeEnd) && compareBytes(key, rangeEnd) >= 0) return invalid('permission rangeEnd must be after its key');
  return null;
}

const accesses: ReadonlySet<unknown> = new Set(Object.values(PermissionAccess));

export function permissionProblem(permission: Permission, keyBytesMax: number): KvError | null {
  if (typeof permission !== 'object' || permission === null) return invalid('permission must be an object');
  if (!accesses.has(permission.access)) return invalid('permission access must be read, write or readwrite');
  return permissionRangeProblem(permission, keyBytesMax);
}

/** The first problem with an auth command's fields, or null. */
export function authCommandProblem(command: AuthCommand, keyBytesMax: number): KvError | null {
  const session = sessionProblem(command.session);
  if (session !== null) return session;
  switch (command.kind) {
    case AuthCommandKind.UserAdd:
    case AuthCommandKind.UserChangePassword:
      return userNameProblem(command.name) ?? passwordRecordProblem(command.password);
    case AuthCommandKind.UserDelete:
      return userNameProblem(command.name);
    case AuthCommandKind.UserGrantRole:
    case AuthCommandKind.UserRevokeRole:
      return userNameProblem(command.name) ?? roleNameProblem(command.role);
    case AuthCommandKind.RoleAdd:
    case AuthCommandKind.RoleDelete:
      return roleNameProblem(command.name);
    case AuthCommandKind.RoleGrantPermission:
      return roleNameProblem(command.name) ?? permissionProblem(command.permission, keyBytesMax);
    case AuthCommandKind.RoleRevokePermission:
      return roleNameProblem(command.name) ?? permissionRangeProblem(command.range, keyBytesMax);
    case AuthCommandKind.AuthEnable:
    case AuthCommandKind.AuthDisable:
      return null;
    default:
      return invalid(`unknown auth command kind ${String((command as { kind: unknown }).kind)}`);
  }
}
