/**
 * The data model of the key-value state machine: stored entries, the commands
 * that travel through the Raft log, their results, and scan requests.
 */
import type { KvError } from './errors.js';
import { AuthCommandKind, type AuthCommand } from './auth-types.js';
import { LeaseCommandKind, LeaseResultKind, type LeaseCommand, type LeaseResult } from './lease-types.js';
import type { TxnCommand, TxnResult } from './txn-types.js';

/**
 * One stored key. Objects are immutable and shared: the state machine replaces
 * an entry on every write instead of changing it, which is what lets a
 * snapshot read an O(1) copy-on-write clone of the tree while applies go on.
 * Callers must not modify `key` or `value`.
 */
export interface KvEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  /** Writes since the key was (re)created: 1 after creation. A deleted and re-created key starts again at 1. */
  readonly version: number;
  /** Store revision of the change that created the key (this generation of it). */
  readonly createRevision: number;
  /** Store revision of the change that last wrote the key. */
  readonly modRevision: number;
  /**
   * The lease the key is attached to (deleted with it); 0 or absent: none. (Optional on the wire: a
   * member of an older version does not send it. The state machine's own entries always have it.)
   */
  readonly lease?: number;
  /** The key's own expiry time on the entry clock (a put with a TTL); 0 or absent: none. */
  readonly expiresAtMs?: number;
}

/**
 * Identifies one write of one client session (exactly-once, Raft thesis §6.3).
 * A client numbers its writes 1, 2, 3... and reuses a write's `seq` when it
 * retries it. `ackedSeq` says that the client has the answers to every write
 * with seq <= ackedSeq, so their saved results can be discarded; it must be
 * below `seq`.
 */
export interface SessionRef {
  readonly sessionId: number;
  readonly seq: number;
  readonly ackedSeq: number;
}

/**
 * Compare-and-set conditions; a write whose condition fails changes nothing and
 * returns VersionMismatchError. 0 means "the key must not exist" for either.
 * When both are given both must hold.
 */
export interface WriteConditions {
  readonly expectedVersion?: number;
  readonly expectedModRevision?: number;
}

export const CommandKind = {
  Put: 'put',
  Update: 'update',
  Delete: 'delete',
  OpenSession: 'openSession',
  CloseSession: 'closeSession',
  KeepAlive: 'keepAlive',
  Noop: 'noop',
  /** Drops the revision history up to a revision (history.ts). */
  Compact: 'compact',
  /** A multi-key transaction (txn-types.ts). */
  Txn: 'txn',
  /** Users, roles, permissions and the auth switch (auth-types.ts). */
  ...AuthCommandKind,
  /** Leases and key TTLs (lease-types.ts). */
  ...LeaseCommandKind,
} as const;
export type CommandKind = (typeof CommandKind)[keyof typeof CommandKind];

/**
 * Attaching a key to a lease or giving it a TTL of its own (put and update).
 * A write with neither detaches the key from any lease and clears its TTL
 * (etcd's put, Redis's SET). `lease` and `ttlMs` exclude each other.
 */
export interface ExpiryOptions {
  /** A live lease's id: the key is deleted when the lease expires or is revoked. */
  readonly lease?: number;
  /** The key is deleted this many milliseconds (entry clock) after the write, in [1, KEY_TTL_MS_MAX]. */
  readonly ttlMs?: number;
  /**
   * The key is deleted once the entry clock reaches this time (Redis's PXAT, EXPIREAT: an absolute
   * time, so a client's deadline does not move with the entry's). A time already passed hides the
   * key at once (the leader's expiry entry then deletes it).
   */
  readonly expiresAtMs?: number;
  /** Keep the key's current lease and expiry (Redis's KEEPTTL); a new key gets none. */
  readonly keepTtl?: boolean;
}

/** Create or overwrite. */
export interface PutCommand extends WriteConditions, ExpiryOptions {
  readonly kind: typeof CommandKind.Put;
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  /** Absent: no exactly-once guarantee (a retry may apply twice). */
  readonly session?: SessionRef;
}

/** Overwrite an existing key; a missing key is KeyNotFoundError. */
export interface UpdateCommand extends WriteConditions, ExpiryOptions {
  readonly kind: typeof CommandKind.Update;
  readonly key: Uint8Array;
  /** Must be empty with `keepValue`. */
  readonly value: Uint8Array;
  /**
   * The key keeps its value: only its expiry (and version, modRevision) change. Redis's EXPIRE and
   * PERSIST, without sending the value back through the log.
   */
  readonly keepValue?: boolean;
  readonly session?: SessionRef;
}

/** Delete a key; a missing key is `{ deleted: false }` unless a condition says otherwise. */
export interface DeleteCommand extends WriteConditions {
  readonly kind: typeof CommandKind.Delete;
  readonly key: Uint8Array;
  readonly session?: SessionRef;
}

/** Opens a session; its id is the Raft index of this entry (unique and the same on every member). */
export interface OpenSessionCommand {
  readonly kind: typeof CommandKind.OpenSession;
  /** Requested time to live; 0 asks for the default. Clamped to the configured bounds. */
  readonly ttlMs: number;
}

export interface CloseSessionCommand {
  readonly kind: typeof CommandKind.CloseSession;
  readonly sessionId: number;
}

/** Keeps an idle session alive: sessions are only renewed by entries in the log. */
export interface KeepAliveCommand {
  readonly kind: typeof CommandKind.KeepAlive;
  readonly sessionId: number;
}

/** Carries only the leader's time: lets sessions expire without other traffic. */
export interface NoopCommand {
  readonly kind: typeof CommandKind.Noop;
}

/**
 * Compacts the revision history: every revision <= `revision` is dropped on
 * every member (watches from them get CompactedError). Not exactly-once
 * through a session: applying it twice changes nothing more.
 */
export interface CompactCommand {
  readonly kind: typeof CommandKind.Compact;
  readonly revision: number;
}

export type WriteCommand = PutCommand | UpdateCommand | DeleteCommand;
export type Command =
  | WriteCommand
  | OpenSessionCommand
  | CloseSessionCommand
  | KeepAliveCommand
  | NoopCommand
  | CompactCommand
  | TxnCommand
  | AuthCommand
  | LeaseCommand;

/**
 * Who a command was authorized as, and against which auth revision: carried
 * in the entry (command format 2) so that the state machine can charge a
 * session to its user's quota and refuse a command whose authorization an
 * auth change committed before it has made stale (AuthOldRevisionError,
 * etcd's auth revision check). A format-1 entry reads as anonymousPrincipal.
 */
export interface EntryPrincipal {
  /** The authenticated user (or client certificate CN); null: none. */
  readonly user: string | null;
  /** `AuthView.revision` when the request was checked. */
  readonly authRevision: number;
}

export const anonymousPrincipal: EntryPrincipal = Object.freeze({ user: null, authRevision: 0 });

/** A command with the leader's wall-clock time at proposal, as stored in one log entry. */
export interface CommandEnvelope {
  readonly leaderTimeMs: number;
  readonly command: Command;
  /** Present when the entry carries one (format 2). */
  readonly principal?: EntryPrincipal;
}

export const ResultKind = {
  /** put / update succeeded. */
  Write: 'write',
  Delete: 'delete',
  SessionOpened: 'sessionOpened',
  SessionClosed: 'sessionClosed',
  /** keepAlive, noop, empty and skipped entries. */
  Ok: 'ok',
  Error: 'error',
  ...LeaseResultKind,
  Txn: 'txn',
} as const;
export type ResultKind = (typeof ResultKind)[keyof typeof ResultKind];

export interface WriteResult {
  readonly kind: typeof ResultKind.Write;
  /** The key's version after the write. */
  readonly version: number;
  readonly createRevision: number;
  /** The store revision of the write (the key's new modRevision). */
  readonly modRevision: number;
}

export interface DeleteResult {
  readonly kind: typeof ResultKind.Delete;
  /** False when the key did not exist. */
  readonly deleted: boolean;
  /** The store revision of the delete; the unchanged current revision when nothing was deleted. */
  readonly revision: number;
}

export interface SessionOpenedResult {
  readonly kind: typeof ResultKind.SessionOpened;
  readonly sessionId: number;
  /** The TTL granted after clamping. */
  readonly ttlMs: number;
}

export interface SessionClosedResult {
  readonly kind: typeof ResultKind.SessionClosed;
  /** False when the session was already gone. */
  readonly closed: boolean;
}

export interface OkResult {
  readonly kind: typeof ResultKind.Ok;
}

/**
 * A command that failed. Failures of applied commands are results, not
 * exceptions: they are deterministic, identical on every member, and a write's
 * failure is saved and replayed to a retrying client like a success.
 */
export interface ErrorResult {
  readonly kind: typeof ResultKind.Error;
  readonly error: KvError;
}

export type ApplyResult = WriteResult | DeleteResult | SessionOpenedResult | SessionClosedResult | OkResult | ErrorResult | TxnResult | LeaseResult;

export const okResult: OkResult = Object.freeze({ kind: ResultKind.Ok });

/**
 * A page of a range scan. Give `prefix`, or `start` (inclusive) and/or `end`
 * (exclusive), or nothing for the whole key space. `after` continues a previous
 * page: only keys strictly greater than it are returned.
 */
export interface ScanRequest {
  readonly prefix?: Uint8Array;
  readonly start?: Uint8Array;
  readonly end?: Uint8Array;
  readonly after?: Uint8Array;
  /** Page size, 1..scanLimitMax. */
  readonly limit: number;
  /** Stop the page once keys + values reach this many bytes (capped by scanBytesMax; at least one entry is returned). */
  readonly bytesMax?: number;
}

export interface ScanPage {
  readonly entries: readonly KvEntry[];
  /** The continuation token (the last key returned) when more keys may remain in range; null when the range is exhausted. */
  readonly next: Uint8Array | null;
}
