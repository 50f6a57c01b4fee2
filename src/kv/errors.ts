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
import { ConcordError, ConcordErrorCode } from '../common/errors.js';

/** A value that may appear in an error's details. */
export type KvErrorDetailValue = number | string | Uint8Array | null;
export type KvErrorDetails = Readonly<Record<string, KvErrorDetailValue>>;

/** The codes of the key-value layer's errors: the subset of the common table (src/common/error-codes.ts) that KvError carries. */
export const KvErrorCode = {
  EmptyKey: ConcordErrorCode.EmptyKey,
  KeyTooLarge: ConcordErrorCode.KeyTooLarge,
  ValueTooLarge: ConcordErrorCode.ValueTooLarge,
  KeyNotFound: ConcordErrorCode.KeyNotFound,
  VersionMismatch: ConcordErrorCode.VersionMismatch,
  SessionExpired: ConcordErrorCode.SessionExpired,
  StaleSequence: ConcordErrorCode.StaleSequence,
  SessionResultsFull: ConcordErrorCode.SessionResultsFull,
  SessionsFull: ConcordErrorCode.SessionsFull,
  InvalidCommand: ConcordErrorCode.InvalidCommand,
  InvalidScan: ConcordErrorCode.InvalidScan,
  TxnTooLarge: ConcordErrorCode.TxnTooLarge,
  NotANumber: ConcordErrorCode.NotANumber,
  IncrementOverflow: ConcordErrorCode.IncrementOverflow,
  CorruptSnapshot: ConcordErrorCode.CorruptSnapshot,
  // Users, roles and permissions (auth-state.ts, src/auth).
  UserNotFound: ConcordErrorCode.UserNotFound,
  UserExists: ConcordErrorCode.UserExists,
  RoleNotFound: ConcordErrorCode.RoleNotFound,
  RoleExists: ConcordErrorCode.RoleExists,
  RoleNotGranted: ConcordErrorCode.RoleNotGranted,
  PermissionNotGranted: ConcordErrorCode.PermissionNotGranted,
  RootUserRequired: ConcordErrorCode.RootUserRequired,
  AuthLimit: ConcordErrorCode.AuthLimit,
  PermissionDenied: ConcordErrorCode.PermissionDenied,
  AuthenticationFailed: ConcordErrorCode.AuthenticationFailed,
  UserQuotaExceeded: ConcordErrorCode.UserQuotaExceeded,
  SessionTableFull: ConcordErrorCode.SessionTableFull,
  AuthOldRevision: ConcordErrorCode.AuthOldRevision,
  // Leases and key TTLs (leases.ts).
  LeaseNotFound: ConcordErrorCode.LeaseNotFound,
  LeaseExists: ConcordErrorCode.LeaseExists,
  LeasesFull: ConcordErrorCode.LeasesFull,
  // History and watch (history.ts).
  Compacted: ConcordErrorCode.Compacted,
  FutureRevision: ConcordErrorCode.FutureRevision,
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

/**
 * A transaction exceeds one of its bounds: `limit` names the option
 * (txnOpsMax: compares and ops, nested ones included; txnBytesMax: the bytes
 * of its log entry; sessionResultBytesMax: the bytes of read results its
 * session would hold unacknowledged), `max` its value, `actual` what the
 * transaction needed. Nothing was applied.
 */
export class TxnTooLargeError extends KvError {
  override readonly code = KvErrorCode.TxnTooLarge;
  constructor(readonly details: { readonly limit: string; readonly max: number; readonly actual: number }) {
    super(KvErrorCode.TxnTooLarge, `transaction too large: ${details.actual} over ${details.limit} ${details.max}`);
  }
}

/**
 * An `incr` op found a value (or was given a delta) that is not a number of
 * its `kind` ('integer': an int64 in Redis's form; 'float'). Nothing was applied.
 */
export class NotANumberError extends KvError {
  override readonly code = KvErrorCode.NotANumber;
  constructor(readonly details: { readonly key: Uint8Array; readonly kind: string }) {
    super(KvErrorCode.NotANumber, `value of key ${showKey(details.key)} is not ${details.kind === 'float' ? 'a valid float' : 'an integer or out of range'}`);
  }
}

/** An `incr` op's result would leave int64 ('integer') or be NaN or infinite ('float'). Nothing was applied. */
export class IncrementOverflowError extends KvError {
  override readonly code = KvErrorCode.IncrementOverflow;
  constructor(readonly details: { readonly key: Uint8Array; readonly kind: string }) {
    super(KvErrorCode.IncrementOverflow, `increment of key ${showKey(details.key)} would ${details.kind === 'float' ? 'produce NaN or Infinity' : 'overflow'}`);
  }
}

/**
 * The revision asked for (a watch's start, a compaction) is at or below the
 * compaction point: its history is gone. A watcher gets it when it starts
 * there or falls behind it; start again from `compactRevision + 1` (after
 * reading the current state) to go on.
 */
export class CompactedError extends KvError {
  override readonly code = KvErrorCode.Compacted;
  constructor(
    readonly details: {
      readonly compactRevision: number;
      /**
       * Set when the answering member's history starts above the cluster's compaction point (it
       * restarted or was restored from a snapshot): revisions above this one may still be on
       * other members, and the client library tries them before giving up.
       */
      readonly clusterCompactRevision?: number;
    },
  ) {
    super(KvErrorCode.Compacted, `required revision has been compacted (compaction revision ${details.compactRevision})`);
  }
}

/** A compaction asked for a revision the store has not reached. */
export class FutureRevisionError extends KvError {
  override readonly code = KvErrorCode.FutureRevision;
  constructor(readonly details: { readonly revision: number; readonly currentRevision: number }) {
    super(KvErrorCode.FutureRevision, `revision ${details.revision} is above the current revision ${details.currentRevision}`);
  }
}

/**
 * Key-value snapshot bytes failed validation (bad magic/version, checksum,
 * framing, ordering or counts) while the state machine restored them; the
 * state was left unchanged. Not the storage layer's CorruptSnapshotFileError,
 * which says a snapshot *file* on this member's disk is damaged.
 */
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

/**
 * A per-user quota (live sessions, saved-result bytes) is used up; other users are not affected.
 * `user` is '' for anonymous clients (auth disabled), who share one quota.
 */
export class UserQuotaExceededError extends KvError {
  override readonly code = KvErrorCode.UserQuotaExceeded;
  constructor(readonly details: { readonly user: string; readonly quota: string; readonly limit: number }) {
    const who = details.user === '' ? 'anonymous clients (auth disabled) reached their' : `user ${JSON.stringify(details.user)} reached its`;
    super(KvErrorCode.UserQuotaExceeded, `${who} quota ${details.quota} (${details.limit}); close sessions or acknowledge results`);
  }
}

/**
 * The whole session table holds `sessionTableBytesMax` bytes (sessions and
 * their saved results, as session-quotas.ts counts them): no session was
 * opened, or the write was not applied. Other users' sessions free room as
 * they acknowledge results, close or expire.
 */
export class SessionTableFullError extends KvError {
  override readonly code = KvErrorCode.SessionTableFull;
  constructor(readonly details: { readonly sessionTableBytesMax: number }) {
    super(KvErrorCode.SessionTableFull, `the session table holds ${details.sessionTableBytesMax} bytes (sessionTableBytesMax); nothing was applied`);
  }
}

/**
 * The command was authorized against auth revision `authRevision`, and an
 * auth change (a revoke, a deleted user, auth enabled) committed before it:
 * it was not applied. The leader checks it again and proposes it once more
 * (a client sees this only after repeated races). etcd's ErrAuthOldRevision.
 */
export class AuthOldRevisionError extends KvError {
  override readonly code = KvErrorCode.AuthOldRevision;
  constructor(readonly details: { readonly authRevision: number; readonly currentAuthRevision: number }) {
    super(
      KvErrorCode.AuthOldRevision,
      `authorized at auth revision ${details.authRevision}, but the auth state is at revision ${details.currentAuthRevision}: not applied, check again`,
    );
  }
}

/** No lease with that id: never granted, revoked, or expired (its keys are gone with it). */
export class LeaseNotFoundError extends KvError {
  override readonly code = KvErrorCode.LeaseNotFound;
  constructor(readonly details: { readonly leaseId: number }) {
    super(KvErrorCode.LeaseNotFound, `lease ${details.leaseId} not found (never granted, revoked or expired)`);
  }
}

/** A grant named a lease id that a live lease already has. */
export class LeaseExistsError extends KvError {
  override readonly code = KvErrorCode.LeaseExists;
  constructor(readonly details: { readonly leaseId: number }) {
    super(KvErrorCode.LeaseExists, `lease ${details.leaseId} already exists`);
  }
}

/** The lease table holds leasesMax leases: revoke some, or let them expire, before granting more. */
export class LeasesFullError extends KvError {
  override readonly code = KvErrorCode.LeasesFull;
  constructor(readonly details: { readonly leasesMax: number }) {
    super(KvErrorCode.LeasesFull, `the cluster holds its limit of ${details.leasesMax} leases`);
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

/**
 * Reads one detail field. Strict: a missing or mistyped field throws
 * TypeError (a saved result or a peer that sent nonsense). Lenient: it reads
 * as 0, empty bytes, '' or null, so the class is still right when a member of
 * another version sends details of another shape.
 */
interface FieldReader {
  num(d: KvErrorDetails, name: string): number;
  numOrNull(d: KvErrorDetails, name: string): number | null;
  bytes(d: KvErrorDetails, name: string): Uint8Array;
  bytesOrNull(d: KvErrorDetails, name: string): Uint8Array | null;
  str(d: KvErrorDetails, name: string): string;
  strOrNull(d: KvErrorDetails, name: string): string | null;
}

function fieldReader(lenient: boolean): FieldReader {
  const bad = <T>(fallback: T, message: string): T => {
    if (lenient) return fallback;
    throw new TypeError(message);
  };
  const reader: FieldReader = {
    num(d, name) {
      const v = d[name];
      return typeof v === 'number' && Number.isSafeInteger(v) ? v : bad(0, `error detail ${name} must be an integer`);
    },
    numOrNull: (d, name) => (d[name] === null ? null : lenient && d[name] === undefined ? null : reader.num(d, name)),
    bytes(d, name) {
      const v = d[name];
      return v instanceof Uint8Array ? v : bad(new Uint8Array(0), `error detail ${name} must be bytes`);
    },
    bytesOrNull: (d, name) => (d[name] === null ? null : lenient && d[name] === undefined ? null : reader.bytes(d, name)),
    str(d, name) {
      const v = d[name];
      return typeof v === 'string' ? v : bad('', `error detail ${name} must be a string`);
    },
    strOrNull: (d, name) => (d[name] === null ? null : lenient && d[name] === undefined ? null : reader.str(d, name)),
  };
  return reader;
}
const strictFields = fieldReader(false);
const lenientFields = fieldReader(true);

const rebuilders: Record<KvErrorCode, (d: KvErrorDetails, f: FieldReader) => KvError> = {
  [KvErrorCode.EmptyKey]: () => new EmptyKeyError(),
  [KvErrorCode.KeyTooLarge]: (d, f) => new KeyTooLargeError({ keyBytes: f.num(d, 'keyBytes'), keyBytesMax: f.num(d, 'keyBytesMax') }),
  [KvErrorCode.ValueTooLarge]: (d, f) => new ValueTooLargeError({ valueBytes: f.num(d, 'valueBytes'), valueBytesMax: f.num(d, 'valueBytesMax') }),
  [KvErrorCode.KeyNotFound]: (d, f) => new KeyNotFoundError({ key: f.bytes(d, 'key') }),
  [KvErrorCode.VersionMismatch]: (d, f) =>
    new VersionMismatchError({
      key: f.bytes(d, 'key'),
      expectedVersion: f.numOrNull(d, 'expectedVersion'),
      expectedModRevision: f.numOrNull(d, 'expectedModRevision'),
      actualVersion: f.num(d, 'actualVersion'),
      actualModRevision: f.num(d, 'actualModRevision'),
    }),
  [KvErrorCode.SessionExpired]: (d, f) => new SessionExpiredError({ sessionId: f.num(d, 'sessionId') }),
  [KvErrorCode.StaleSequence]: (d, f) =>
    new StaleSequenceError({ sessionId: f.num(d, 'sessionId'), seq: f.num(d, 'seq'), ackedSeq: f.num(d, 'ackedSeq') }),
  [KvErrorCode.SessionResultsFull]: (d, f) =>
    new SessionResultsFullError({ sessionId: f.num(d, 'sessionId'), sessionResultsMax: f.num(d, 'sessionResultsMax') }),
  [KvErrorCode.SessionsFull]: (d, f) => new SessionsFullError({ sessionsMax: f.num(d, 'sessionsMax') }),
  [KvErrorCode.InvalidCommand]: (d, f) => new InvalidCommandError({ reason: f.str(d, 'reason') }),
  [KvErrorCode.InvalidScan]: (d, f) => new InvalidScanError({ reason: f.str(d, 'reason') }),
  [KvErrorCode.TxnTooLarge]: (d, f) => new TxnTooLargeError({ limit: f.str(d, 'limit'), max: f.num(d, 'max'), actual: f.num(d, 'actual') }),
  [KvErrorCode.NotANumber]: (d, f) => new NotANumberError({ key: f.bytes(d, 'key'), kind: f.str(d, 'kind') }),
  [KvErrorCode.IncrementOverflow]: (d, f) => new IncrementOverflowError({ key: f.bytes(d, 'key'), kind: f.str(d, 'kind') }),
  [KvErrorCode.CorruptSnapshot]: (d, f) => new CorruptSnapshotError({ reason: f.str(d, 'reason') }),
  [KvErrorCode.UserNotFound]: (d, f) => new UserNotFoundError({ user: f.str(d, 'user') }),
  [KvErrorCode.UserExists]: (d, f) => new UserExistsError({ user: f.str(d, 'user') }),
  [KvErrorCode.RoleNotFound]: (d, f) => new RoleNotFoundError({ role: f.str(d, 'role') }),
  [KvErrorCode.RoleExists]: (d, f) => new RoleExistsError({ role: f.str(d, 'role') }),
  [KvErrorCode.RoleNotGranted]: (d, f) => new RoleNotGrantedError({ user: f.str(d, 'user'), role: f.str(d, 'role') }),
  [KvErrorCode.PermissionNotGranted]: (d, f) =>
    new PermissionNotGrantedError({ role: f.str(d, 'role'), key: f.bytes(d, 'key'), rangeEnd: f.bytesOrNull(d, 'rangeEnd') }),
  [KvErrorCode.RootUserRequired]: (d, f) => new RootUserRequiredError({ operation: f.str(d, 'operation') }),
  [KvErrorCode.AuthLimit]: (d, f) => new AuthLimitError({ limit: f.str(d, 'limit'), max: f.num(d, 'max') }),
  [KvErrorCode.PermissionDenied]: (d, f) =>
    new PermissionDeniedError({ user: f.str(d, 'user'), operation: f.str(d, 'operation'), key: f.bytes(d, 'key'), rangeEnd: f.bytesOrNull(d, 'rangeEnd') }),
  [KvErrorCode.AuthenticationFailed]: (d, f) => new AuthenticationFailedError({ user: f.strOrNull(d, 'user') }),
  [KvErrorCode.UserQuotaExceeded]: (d, f) => new UserQuotaExceededError({ user: f.str(d, 'user'), quota: f.str(d, 'quota'), limit: f.num(d, 'limit') }),
  [KvErrorCode.SessionTableFull]: (d, f) => new SessionTableFullError({ sessionTableBytesMax: f.num(d, 'sessionTableBytesMax') }),
  [KvErrorCode.AuthOldRevision]: (d, f) =>
    new AuthOldRevisionError({ authRevision: f.num(d, 'authRevision'), currentAuthRevision: f.num(d, 'currentAuthRevision') }),
  [KvErrorCode.LeaseNotFound]: (d, f) => new LeaseNotFoundError({ leaseId: f.num(d, 'leaseId') }),
  [KvErrorCode.LeaseExists]: (d, f) => new LeaseExistsError({ leaseId: f.num(d, 'leaseId') }),
  [KvErrorCode.LeasesFull]: (d, f) => new LeasesFullError({ leasesMax: f.num(d, 'leasesMax') }),
  [KvErrorCode.Compacted]: (d, f) => new CompactedError({ compactRevision: f.num(d, 'compactRevision'), ...(typeof d['clusterCompactRevision'] === 'number' ? { clusterCompactRevision: d['clusterCompactRevision'] } : {}) }),
  [KvErrorCode.FutureRevision]: (d, f) => new FutureRevisionError({ revision: f.num(d, 'revision'), currentRevision: f.num(d, 'currentRevision') }),
};

export function isKvErrorCode(code: string): code is KvErrorCode {
  return Object.prototype.hasOwnProperty.call(rebuilders, code);
}

/**
 * Rebuilds the typed error from its plain form: the one decoder of kv errors.
 * Throws TypeError when the code is unknown or (unless `lenient`) a detail has
 * the wrong type (the caller decides how to report a peer that sent nonsense).
 * `lenient` is for a client facing members of other versions: the class stays
 * right and fields it cannot read become 0, empty, '' or null.
 */
export function kvErrorFromWire(wire: { readonly code: string; readonly details: KvErrorDetails }, options?: { lenient?: boolean }): KvError {
  if (!isKvErrorCode(wire.code)) throw new TypeError(`unknown key-value error code ${wire.code}`);
  return rebuilders[wire.code](wire.details, options?.lenient === true ? lenientFields : strictFields);
}
