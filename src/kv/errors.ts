/**
 * Errors of the key-value state machine.
 *
 * Every class has a stable `code` and a `details` object of plain values
 * (numbers, strings, bytes, null) so that the protocol layer can carry it to a
 * client and rebuild the same typed error there (`kvErrorFromWire`), and so
 * that a saved result of an exactly-once write can be stored in a snapshot and
 * replayed byte for byte. Messages are derived from `details` only, which makes
 * a rebuilt error indistinguishable from the original.
 */
import { ConcordError } from '../common/errors.js';

/** A value that may appear in an error's details. */
export type KvErrorDetailValue = number | string | Uint8Array | null;
export type KvErrorDetails = Readonly<Record<string, KvErrorDetailValue>>;

export const KvErrorCode = {
  EmptyKey: 'CONCORD_ERR_EMPTY_KEY',
  KeyTooLarge: 'CONCORD_ERR_KEY_TOO_LARGE',
  ValueTooLarge: 'CONCORD_ERR_VALUE_TOO_LARGE',
  KeyNotFound: 'CONCORD_ERR_KEY_NOT_FOUND',
  VersionMismatch: 'CONCORD_ERR_VERSION_MISMATCH',
  SessionExpired: 'CONCORD_ERR_SESSION_EXPIRED',
  StaleSequence: 'CONCORD_ERR_STALE_SEQUENCE',
  SessionResultsFull: 'CONCORD_ERR_SESSION_RESULTS_FULL',
  SessionsFull: 'CONCORD_ERR_SESSIONS_FULL',
  InvalidCommand: 'CONCORD_ERR_INVALID_COMMAND',
  InvalidScan: 'CONCORD_ERR_INVALID_SCAN',
  CorruptSnapshot: 'CONCORD_ERR_CORRUPT_SNAPSHOT',
  // Users, roles and permissions (auth-state.ts, src/auth).
  UserNotFound: 'CONCORD_ERR_USER_NOT_FOUND',
  UserExists: 'CONCORD_ERR_USER_EXISTS',
  RoleNotFound: 'CONCORD_ERR_ROLE_NOT_FOUND',
  RoleExists: 'CONCORD_ERR_ROLE_EXISTS',
  RoleNotGranted: 'CONCORD_ERR_ROLE_NOT_GRANTED',
  PermissionNotGranted: 'CONCORD_ERR_PERMISSION_NOT_GRANTED',
  RootUserRequired: 'CONCORD_ERR_ROOT_USER_REQUIRED',
  AuthLimit: 'CONCORD_ERR_AUTH_LIMIT',
  PermissionDenied: 'CONCORD_ERR_PERMISSION_DENIED',
  AuthenticationFailed: 'CONCORD_ERR_AUTHENTICATION_FAILED',
  UserQuotaExceeded: 'CONCORD_ERR_USER_QUOTA_EXCEEDED',
} as const;
export type KvErrorCode = (typeof KvErrorCode)[keyof typeof KvErrorCode];

/** Base class of every error the key-value layer raises or returns as a result. */
export abstract class KvError extends ConcordError {
  abstract override readonly code: KvErrorCode;
  abstract readonly details: KvErrorDetails;
}

/** Renders key bytes for a message: UTF-8 when printable, else hex (bounded length). */
function showKey(key: Uint8Array): string {
  const shown = key.length > 64 ? key.subarray(0, 64) : key;
  let printable = true;
  for (const byte of shown) {
    if (byte < 0x20 || byte > 0x7e) {
      printable = false;
      break;
    }
  }
  let text: string;
  if (printable) text = JSON.stringify(String.fromCharCode(...shown));
  else text = '0x' + Array.from(shown, (b) => b.toString(16).padStart(2, '0')).join('');
  return key.length > 64 ? `${text}... (${key.length} bytes)` : text;
}

/** Keys must be at least one byte long (an empty key cannot be told apart from "no bound" in a scan). */
export class EmptyKeyError extends KvError {
  override readonly code = KvErrorCode.EmptyKey;
  constructor(readonly details: Readonly<Record<string, never>> = {}) {
    super(KvErrorCode.EmptyKey, 'key must not be empty');
  }
}

export class KeyTooLargeError extends KvError {
  override readonly code = KvErrorCode.KeyTooLarge;
  constructor(readonly details: { readonly keyBytes: number; readonly keyBytesMax: number }) {
    super(KvErrorCode.KeyTooLarge, `key is ${details.keyBytes} bytes, the limit is ${details.keyBytesMax}`);
  }
}

export class ValueTooLargeError extends KvError {
  override readonly code = KvErrorCode.ValueTooLarge;
  constructor(readonly details: { readonly valueBytes: number; readonly valueBytesMax: number }) {
    super(KvErrorCode.ValueTooLarge, `value is ${details.valueBytes} bytes, the limit is ${details.valueBytesMax}`);
  }
}

/** `update` of a missing key (and, in the server, `get` of one). */
export class KeyNotFoundError extends KvError {
  override readonly code = KvErrorCode.KeyNotFound;
  constructor(readonly details: { readonly key: Uint8Array }) {
    super(KvErrorCode.KeyNotFound, `key ${showKey(details.key)} not found`);
  }
}

/**
 * A compare-and-set condition failed; nothing was changed. `actualVersion` and
 * `actualModRevision` are 0 when the key does not exist; an expectation that
 * was not given is null.
 */
export class VersionMismatchError extends KvError {
  override readonly code = KvErrorCode.VersionMismatch;
  constructor(
    readonly details: {
      readonly key: Uint8Array;
      readonly expectedVersion: number | null;
      readonly expectedModRevision: number | null;
      readonly actualVersion: number;
      readonly actualModRevision: number;
    },
  ) {
    const expected: string[] = [];
    if (details.expectedVersion !== null) expected.push(`version ${details.expectedVersion}`);
    if (details.expectedModRevision !== null) expected.push(`modRevision ${details.expectedModRevision}`);
    super(
      KvErrorCode.VersionMismatch,
      `key ${showKey(details.key)}: expected ${expected.join(' and ')}, found version ${details.actualVersion} modRevision ${details.actualModRevision}` +
        (details.actualVersion === 0 ? ' (key does not exist)' : ''),
    );
  }
}

/** The session is unknown: it expired (no write or keep-alive within its TTL), was closed, or never existed. Open a new one. */
export class SessionExpiredError extends KvError {
  override readonly code = KvErrorCode.SessionExpired;
  constructor(readonly details: { readonly sessionId: number }) {
    super(KvErrorCode.SessionExpired, `session ${details.sessionId} expired or does not exist`);
  }
}

/**
 * The client retried a write whose result it had already acknowledged
 * (seq <= ackedSeq), so the saved result is gone. A correct client never sees this.
 */
export class StaleSequenceError extends KvError {
  override readonly code = KvErrorCode.StaleSequence;
  constructor(readonly details: { readonly sessionId: number; readonly seq: number; readonly ackedSeq: number }) {
    super(
      KvErrorCode.StaleSequence,
      `session ${details.sessionId}: seq ${details.seq} was already acknowledged (acknowledged up to ${details.ackedSeq}); its result was discarded`,
    );
  }
}

/** The session holds `sessionResultsMax` unacknowledged results; the write was not applied. Acknowledge results (advance ackedSeq) and retry. */
export class SessionResultsFullError extends KvError {
  override readonly code = KvErrorCode.SessionResultsFull;
  constructor(readonly details: { readonly sessionId: number; readonly sessionResultsMax: number }) {
    super(
      KvErrorCode.SessionResultsFull,
      `session ${details.sessionId} has ${details.sessionResultsMax} unacknowledged results (the limit); the write was not applied`,
    );
  }
}

/** `sessionsMax` live sessions exist; no new session was opened. */
export class SessionsFullError extends KvError {
  override readonly code = KvErrorCode.SessionsFull;
  constructor(readonly details: { readonly sessionsMax: number }) {
    super(KvErrorCode.SessionsFull, `${details.sessionsMax} sessions are open (the limit); close or let some expire`);
  }
}

/** Command bytes could not be decoded, or a command's fields are out of range. */
export class InvalidCommandError extends KvError {
  override readonly code = KvErrorCode.InvalidCommand;
  constructor(readonly details: { readonly reason: string }) {
    super(KvErrorCode.InvalidCommand, `invalid command: ${details.reason}`);
  }
}

/** A scan request is malformed (bad limit, start after end, prefix combined with a range). */
export class InvalidScanError extends KvError {
  override readonly code = KvErrorCode.InvalidScan;
  constructor(readonly details: { readonly reason: string }) {
    super(KvErrorCode.InvalidScan, `invalid scan: ${details.reason}`);
  }
}

/** Snapshot bytes failed validation (bad magic/version, checksum, framing, ordering or counts). The state was left unchanged. */
export class CorruptSnapshotError extends KvError {
  override readonly code = KvErrorCode.CorruptSnapshot;
  constructor(readonly details: { readonly reason: string }) {
    super(KvErrorCode.CorruptSnapshot, `corrupt key-value snapshot: ${details.reason}`);
  }
}

/** `user get/delete/passwd/grant-role/revoke-role` of a user that does not exist. */
export class UserNotFoundError extends KvError {
  override readonly code = KvErrorCode.UserNotFound;
  constructor(readonly details: { readonly user: string }) {
    super(KvErrorCode.UserNotFound, `user ${JSON.stringify(details.user)} not found`);
  }
}

export class UserExistsError extends KvError {
  override readonly code = KvErrorCode.UserExists;
  constructor(readonly details: { readonly user: string }) {
    super(KvErrorCode.UserExists, `user ${JSON.stringify(details.user)} already exists`);
  }
}

export class RoleNotFoundError extends KvError {
  override readonly code = KvErrorCode.RoleNotFound;
  constructor(readonly details: { readonly role: string }) {
    super(KvErrorCode.RoleNotFound, `role ${JSON.stringify(details.role)} not found`);
  }
}

export class RoleExistsError extends KvError {
  override readonly code = KvErrorCode.RoleExists;
  constructor(readonly details: { readonly role: string }) {
    super(KvErrorCode.RoleExists, `role ${JSON.stringify(details.role)} already exists`);
  }
}

/** `user revoke-role` of a role the user does not hold. */
export class RoleNotGrantedError extends KvError {
  override readonly code = KvErrorCode.RoleNotGranted;
  constructor(readonly details: { readonly user: string; readonly role: string }) {
    super(KvErrorCode.RoleNotGranted, `user ${JSON.stringify(details.user)} does not have role ${JSON.stringify(details.role)}`);
  }
}

/** `role revoke-permission` of a (key, rangeEnd) the role was not granted. rangeEnd null: a single key. */
export class PermissionNotGrantedError extends KvError {
  override readonly code = KvErrorCode.PermissionNotGranted;
  constructor(readonly details: { readonly role: string; readonly key: Uint8Array; readonly rangeEnd: Uint8Array | null }) {
    super(
      KvErrorCode.PermissionNotGranted,
      `role ${JSON.stringify(details.role)} has no permission on ${showKey(details.key)}` +
        (details.rangeEnd === null ? '' : ` .. ${showKey(details.rangeEnd)}`),
    );
  }
}

/** Auth cannot be enabled without a `root` user, and the `root` user cannot be deleted while auth is enabled. */
export class RootUserRequiredError extends KvError {
  override readonly code = KvErrorCode.RootUserRequired;
  constructor(readonly details: { readonly operation: string }) {
    super(KvErrorCode.RootUserRequired, `${details.operation}: auth needs a "root" user while it is enabled`);
  }
}

/** A bound of the replicated auth state (its byte budget, roles per user, permissions per role) would be exceeded; nothing changed. */
export class AuthLimitError extends KvError {
  override readonly code = KvErrorCode.AuthLimit;
  constructor(readonly details: { readonly limit: string; readonly max: number }) {
    super(KvErrorCode.AuthLimit, `auth limit ${details.limit} (${details.max}) reached; nothing was changed`);
  }
}

/**
 * The authenticated user may not do this (src/auth's authorize). `key` and
 * `rangeEnd` name what was asked for (empty key and null for an operation on
 * no key, such as user administration).
 */
export class PermissionDeniedError extends KvError {
  override readonly code = KvErrorCode.PermissionDenied;
  constructor(
    readonly details: { readonly user: string; readonly operation: string; readonly key: Uint8Array; readonly rangeEnd: Uint8Array | null },
  ) {
    const what =
      details.key.length === 0 && details.rangeEnd === null
        ? ''
        : ` on ${showKey(details.key)}` + (details.rangeEnd === null ? '' : ` .. ${details.rangeEnd.length === 0 ? 'the end' : showKey(details.rangeEnd)}`);
    super(KvErrorCode.PermissionDenied, `permission denied: user ${JSON.stringify(details.user)} may not ${details.operation}${what}`);
  }
}

/** Unknown user, wrong password, or no credentials while auth is enabled. Deliberately does not say which. */
export class AuthenticationFailedError extends KvError {
  override readonly code = KvErrorCode.AuthenticationFailed;
  constructor(readonly details: { readonly user: string | null }) {
    super(
      KvErrorCode.AuthenticationFailed,
      details.user === null ? 'authentication required: auth is enabled' : `authentication failed for user ${JSON.stringify(details.user)}`,
    );
  }
}

/** A per-user quota (live sessions, saved-result bytes) is used up; other users are not affected. */
export class UserQuotaExceededError extends KvError {
  override readonly code = KvErrorCode.UserQuotaExceeded;
  constructor(readonly details: { readonly user: string; readonly quota: string; readonly limit: number }) {
    super(KvErrorCode.UserQuotaExceeded, `user ${JSON.stringify(details.user)} reached its quota ${details.quota} (${details.limit})`);
  }
}

/** The plain form of a KvError, for a wire protocol or a saved result. */
export interface KvErrorWire {
  readonly code: KvErrorCode;
  readonly details: KvErrorDetails;
}

export function kvErrorToWire(error: KvError): KvErrorWire {
  return { code: error.code, details: error.details };
}

const num = (d: KvErrorDetails, name: string): number => {
  const v = d[name];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new TypeError(`error detail ${name} must be an integer`);
  return v;
};
const numOrNull = (d: KvErrorDetails, name: string): number | null => (d[name] === null ? null : num(d, name));
const bytes = (d: KvErrorDetails, name: string): Uint8Array => {
  const v = d[name];
  if (!(v instanceof Uint8Array)) throw new TypeError(`error detail ${name} must be bytes`);
  return v;
};
const bytesOrNull = (d: KvErrorDetails, name: string): Uint8Array | null => (d[name] === null ? null : bytes(d, name));
const strOrNull = (d: KvErrorDetails, name: string): string | null => (d[name] === null ? null : str(d, name));
function str(d: KvErrorDetails, name: string): string {
  const v = d[name];
  if (typeof v !== 'string') throw new TypeError(`error detail ${name} must be a string`);
  return v;
}

const rebuilders: Record<KvErrorCode, (d: KvErrorDetails) => KvError> = {
  [KvErrorCode.EmptyKey]: () => new EmptyKeyError(),
  [KvErrorCode.KeyTooLarge]: (d) => new KeyTooLargeError({ keyBytes: num(d, 'keyBytes'), keyBytesMax: num(d, 'keyBytesMax') }),
  [KvErrorCode.ValueTooLarge]: (d) => new ValueTooLargeError({ valueBytes: num(d, 'valueBytes'), valueBytesMax: num(d, 'valueBytesMax') }),
  [KvErrorCode.KeyNotFound]: (d) => new KeyNotFoundError({ key: bytes(d, 'key') }),
  [KvErrorCode.VersionMismatch]: (d) =>
    new VersionMismatchError({
      key: bytes(d, 'key'),
      expectedVersion: numOrNull(d, 'expectedVersion'),
      expectedModRevision: numOrNull(d, 'expectedModRevision'),
      actualVersion: num(d, 'actualVersion'),
      actualModRevision: num(d, 'actualModRevision'),
    }),
  [KvErrorCode.SessionExpired]: (d) => new SessionExpiredError({ sessionId: num(d, 'sessionId') }),
  [KvErrorCode.StaleSequence]: (d) =>
    new StaleSequenceError({ sessionId: num(d, 'sessionId'), seq: num(d, 'seq'), ackedSeq: num(d, 'ackedSeq') }),
  [KvErrorCode.SessionResultsFull]: (d) =>
    new SessionResultsFullError({ sessionId: num(d, 'sessionId'), sessionResultsMax: num(d, 'sessionResultsMax') }),
  [KvErrorCode.SessionsFull]: (d) => new SessionsFullError({ sessionsMax: num(d, 'sessionsMax') }),
  [KvErrorCode.InvalidCommand]: (d) => new InvalidCommandError({ reason: str(d, 'reason') }),
  [KvErrorCode.InvalidScan]: (d) => new InvalidScanError({ reason: str(d, 'reason') }),
  [KvErrorCode.CorruptSnapshot]: (d) => new CorruptSnapshotError({ reason: str(d, 'reason') }),
  [KvErrorCode.UserNotFound]: (d) => new UserNotFoundError({ user: str(d, 'user') }),
  [KvErrorCode.UserExists]: (d) => new UserExistsError({ user: str(d, 'user') }),
  [KvErrorCode.RoleNotFound]: (d) => new RoleNotFoundError({ role: str(d, 'role') }),
  [KvErrorCode.RoleExists]: (d) => new RoleExistsError({ role: str(d, 'role') }),
  [KvErrorCode.RoleNotGranted]: (d) => new RoleNotGrantedError({ user: str(d, 'user'), role: str(d, 'role') }),
  [KvErrorCode.PermissionNotGranted]: (d) =>
    new PermissionNotGrantedError({ role: str(d, 'role'), key: bytes(d, 'key'), rangeEnd: bytesOrNull(d, 'rangeEnd') }),
  [KvErrorCode.RootUserRequired]: (d) => new RootUserRequiredError({ operation: str(d, 'operation') }),
  [KvErrorCode.AuthLimit]: (d) => new AuthLimitError({ limit: str(d, 'limit'), max: num(d, 'max') }),
  [KvErrorCode.PermissionDenied]: (d) =>
    new PermissionDeniedError({ user: str(d, 'user'), operation: str(d, 'operation'), key: bytes(d, 'key'), rangeEnd: bytesOrNull(d, 'rangeEnd') }),
  [KvErrorCode.AuthenticationFailed]: (d) => new AuthenticationFailedError({ user: strOrNull(d, 'user') }),
  [KvErrorCode.UserQuotaExceeded]: (d) => new UserQuotaExceededError({ user: str(d, 'user'), quota: str(d, 'quota'), limit: num(d, 'limit') }),
};

export function isKvErrorCode(code: string): code is KvErrorCode {
  return Object.prototype.hasOwnProperty.call(rebuilders, code);
}

/**
 * Rebuilds the typed error from its plain form. Throws TypeError when the code
 * is unknown or a detail has the wrong type (the caller decides how to report
 * a peer that sent nonsense).
 */
export function kvErrorFromWire(wire: { readonly code: string; readonly details: KvErrorDetails }): KvError {
  if (!isKvErrorCode(wire.code)) throw new TypeError(`unknown key-value error code ${wire.code}`);
  return rebuilders[wire.code](wire.details);
}
