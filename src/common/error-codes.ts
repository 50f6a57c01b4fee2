/**
 * The one table of every error code Concord raises: each `CONCORD_ERR_*`
 * string is spelled here and nowhere else in src/ (layers use these constants,
 * the protocol's wire subset is built from them in src/protocol/error-codes.ts,
 * and docs/errors.md documents each one: a test keeps the two in sync).
 * `ConcordError.code` is typed as `ConcordErrorCode`, so a misspelt code is a
 * compile error rather than an error nobody can match on.
 *
 * A code is stable once released: callers, logs and remote peers match on it.
 * Grouped by the layer that raises it; this module imports nothing.
 */
export const ConcordErrorCode = {
  // common: a broken invariant (a bug), raised by `assert`.
  Assertion: 'CONCORD_ERR_ASSERTION',

  // net: addresses, connections, frames, RPC.
  InvalidAddress: 'CONCORD_ERR_INVALID_ADDRESS',
  Connect: 'CONCORD_ERR_CONNECT',
  Listen: 'CONCORD_ERR_LISTEN',
  ConnectionClosed: 'CONCORD_ERR_CONNECTION_CLOSED',
  FrameTooLarge: 'CONCORD_ERR_FRAME_TOO_LARGE',
  Decode: 'CONCORD_ERR_DECODE',
  UnknownMessage: 'CONCORD_ERR_UNKNOWN_MESSAGE',
  SendQueueFull: 'CONCORD_ERR_SEND_QUEUE_FULL',
  IdleTimeout: 'CONCORD_ERR_IDLE_TIMEOUT',
  /** A connection did not complete its handshake (TLS, then its first frame or auth) in time. */
  HandshakeTimeout: 'CONCORD_ERR_HANDSHAKE_TIMEOUT',
  /** A frame in progress arrived slower than the listener's minimum rate. */
  FrameTooSlow: 'CONCORD_ERR_FRAME_TOO_SLOW',
  /** The process's budget for bytes of partial inbound frames is spent. */
  InboundBudgetExceeded: 'CONCORD_ERR_INBOUND_BUDGET_EXCEEDED',
  /** A listener at its connection cap (or backing off accept after EMFILE) refused a connection. */
  ConnectionRefused: 'CONCORD_ERR_CONNECTION_REFUSED',
  /** One net operation (a connect, an RPC call, a receive) passed its own `timeoutMs`. */
  NetTimeout: 'CONCORD_ERR_NET_TIMEOUT',
  /** One net operation was cancelled through its own AbortSignal. */
  NetAborted: 'CONCORD_ERR_NET_ABORTED',
  TooManyPendingCalls: 'CONCORD_ERR_TOO_MANY_PENDING_CALLS',
  UnknownMethod: 'CONCORD_ERR_UNKNOWN_METHOD',

  // protocol: what a member answers a client or a peer with.
  NotLeader: 'CONCORD_ERR_NOT_LEADER',
  LeaderChanged: 'CONCORD_ERR_LEADER_CHANGED',
  /** A deadline passed: the member's for a request, or the client's for a whole operation. */
  Timeout: 'CONCORD_ERR_TIMEOUT',
  Overloaded: 'CONCORD_ERR_OVERLOADED',
  /** The member ended a watcher that fell behind its bound (a slow consumer), or could not keep it (docs/watch.md). */
  WatchCanceled: 'CONCORD_ERR_WATCH_CANCELED',
  ShuttingDown: 'CONCORD_ERR_SHUTTING_DOWN',
  StorageFailed: 'CONCORD_ERR_STORAGE_FAILED',
  InvalidRequest: 'CONCORD_ERR_INVALID_REQUEST',
  Internal: 'CONCORD_ERR_INTERNAL',

  // kv: the state machine's results (they cross the wire as they are).
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
  /** A transaction over one of its bounds (ops, entry bytes, saved result bytes). */
  TxnTooLarge: 'CONCORD_ERR_TXN_TOO_LARGE',
  /** An incr op on a value that is not a number (Redis's "value is not an integer or out of range" / "not a valid float"). */
  NotANumber: 'CONCORD_ERR_NOT_A_NUMBER',
  /** An incr op whose result leaves int64, or is NaN or infinite. */
  IncrementOverflow: 'CONCORD_ERR_INCREMENT_OVERFLOW',
  /** The key-value snapshot's content does not validate (the storage layer's file check is CorruptSnapshotFile). */
  CorruptSnapshot: 'CONCORD_ERR_CORRUPT_SNAPSHOT',
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
  /** The session table's byte budget (sessionTableBytesMax) is spent: no new session or saved result. */
  SessionTableFull: 'CONCORD_ERR_SESSION_TABLE_FULL',
  /** A command was authorized against auth state older than the state it applies against (etcd's ErrAuthOldRevision). */
  AuthOldRevision: 'CONCORD_ERR_AUTH_OLD_REVISION',
  /** No lease with that id (never granted, revoked, or expired). */
  LeaseNotFound: 'CONCORD_ERR_LEASE_NOT_FOUND',
  /** A grant asked for a lease id that is already taken. */
  LeaseExists: 'CONCORD_ERR_LEASE_EXISTS',
  /** The lease table is at its bound (leasesMax). */
  LeasesFull: 'CONCORD_ERR_LEASES_FULL',
  /** A watch or compaction asked for a revision at or below the compaction point (etcd's ErrCompacted). */
  Compacted: 'CONCORD_ERR_COMPACTED',
  /** A compaction asked for a revision above the store's current one (etcd's ErrFutureRev). */
  FutureRevision: 'CONCORD_ERR_FUTURE_REVISION',

  // raft: the core and its Storage interface.
  ProposalDropped: 'CONCORD_ERR_PROPOSAL_DROPPED',
  InvalidConfChange: 'CONCORD_ERR_INVALID_CONF_CHANGE',
  LogCompacted: 'CONCORD_ERR_LOG_COMPACTED',
  LogUnavailable: 'CONCORD_ERR_LOG_UNAVAILABLE',
  SnapshotUnavailable: 'CONCORD_ERR_SNAPSHOT_UNAVAILABLE',

  // storage: the WAL, snapshots on disk, the data directory.
  CorruptLog: 'CONCORD_ERR_CORRUPT_LOG',
  /** A snapshot file on this member's disk fails its checksum or trailer. */
  CorruptSnapshotFile: 'CONCORD_ERR_CORRUPT_SNAPSHOT_FILE',
  DataDirLocked: 'CONCORD_ERR_DATA_DIR_LOCKED',
  StorageClosed: 'CONCORD_ERR_STORAGE_CLOSED',
  WriteQueueFull: 'CONCORD_ERR_WRITE_QUEUE_FULL',
  SnapshotChunkRejected: 'CONCORD_ERR_SNAPSHOT_CHUNK_REJECTED',
  SnapshotTooLarge: 'CONCORD_ERR_SNAPSHOT_TOO_LARGE',

  // server: one member process.
  CorruptEntry: 'CONCORD_ERR_CORRUPT_ENTRY',
  CorruptMemberFile: 'CONCORD_ERR_CORRUPT_MEMBER_FILE',
  InvalidConfig: 'CONCORD_ERR_INVALID_CONFIG',
  BootstrapRefused: 'CONCORD_ERR_BOOTSTRAP_REFUSED',
  /** Membership changes (member.add/promote/remove, leader.transfer): the cluster refused one, with why. */
  MemberNotFound: 'CONCORD_ERR_MEMBER_NOT_FOUND',
  MemberExists: 'CONCORD_ERR_MEMBER_EXISTS',
  MemberChangePending: 'CONCORD_ERR_MEMBER_CHANGE_PENDING',
  MemberNotLearner: 'CONCORD_ERR_MEMBER_NOT_LEARNER',
  LearnerNotCaughtUp: 'CONCORD_ERR_LEARNER_NOT_CAUGHT_UP',
  QuorumAtRisk: 'CONCORD_ERR_QUORUM_AT_RISK',
  LeaderTransferFailed: 'CONCORD_ERR_LEADER_TRANSFER_FAILED',
  /** This member was removed from the cluster: it stops (it logs this code). */
  MemberRemoved: 'CONCORD_ERR_MEMBER_REMOVED',
  /** A backup file (`concord snapshot save`) is damaged, truncated or not a backup: nothing was restored from it. */
  CorruptBackup: 'CONCORD_ERR_CORRUPT_BACKUP',

  // client: what the library itself concludes.
  Aborted: 'CONCORD_ERR_ABORTED',
  Unavailable: 'CONCORD_ERR_UNAVAILABLE',
  ClientClosed: 'CONCORD_ERR_CLIENT_CLOSED',

  // dashboard: its HTTP API (src/dashboard/api.ts); the member's own errors pass through with their codes.
  /** A dashboard API call with a missing or malformed parameter or body. */
  DashboardBadRequest: 'CONCORD_ERR_DASHBOARD_BAD_REQUEST',
  /** A dashboard API write without the X-Concord-Dashboard header (refused: cross-site request forgery). */
  DashboardCsrf: 'CONCORD_ERR_DASHBOARD_CSRF',
  DashboardNotFound: 'CONCORD_ERR_DASHBOARD_NOT_FOUND',
  DashboardBodyTooLarge: 'CONCORD_ERR_DASHBOARD_BODY_TOO_LARGE',
  /** The dashboard's bound on open load streams is reached. */
  DashboardBusy: 'CONCORD_ERR_DASHBOARD_BUSY',

  // cli: `concord dev` and its TLS material.
  TlsMaterial: 'CONCORD_ERR_TLS_MATERIAL',
  PortInUse: 'CONCORD_ERR_PORT_IN_USE',
  MemberExited: 'CONCORD_ERR_MEMBER_EXITED',
  NoLeader: 'CONCORD_ERR_NO_LEADER',
} as const;
export type ConcordErrorCode = (typeof ConcordErrorCode)[keyof typeof ConcordErrorCode];

const allCodes: ReadonlySet<string> = new Set<string>(Object.values(ConcordErrorCode));

/** True when `code` is one of the table's codes (a remote peer may send one this version does not know). */
export function isConcordErrorCode(code: string): code is ConcordErrorCode {
  return allCodes.has(code);
}
