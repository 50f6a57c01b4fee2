/**
 * The replicated key-value state machine: every member applies the same
 * committed entries in the same order and so holds the same state (Raft §5).
 *
 * Determinism is the rule everything here follows. Nothing reads a clock, a
 * random source or the environment; time comes from the leader inside each
 * entry (the clock is the largest time seen, so it never goes back); failures
 * of applied commands are results, not exceptions; iteration orders are fixed
 * (sessions by id, saved results by apply order). Two members fed the same
 * entries produce byte-identical snapshots.
 */
import { assert } from '../common/errors.js';
import {
  binaryStringFromBytes,
  bytesFromBinaryString,
  compareBinaryStrings,
  copyBytes,
  prefixEnd,
  type BinaryString,
} from './bytes.js';
import { CommandFields, readCommand } from './command-codec.js';
import {
  InvalidScanError,
  KeyNotFoundError,
  KvError,
  SessionExpiredError,
  SessionResultsFullError,
  SessionsFullError,
  StaleSequenceError,
  VersionMismatchError,
} from './errors.js';
import { newKeyTree, StoredEntry, type KeyTree } from './key-tree.js';
import { resolveKvOptions, type KvOptions } from './options.js';
import { SessionTable, type Session } from './sessions.js';
import { AuthState } from './auth-state.js';
import { isAuthCommand, type AuthCommand, type AuthStatus, type AuthView, type RoleRecord, type UserInfo } from './auth-types.js';
import { SnapshotReader } from './snapshot-reader.js';
import { KvSnapshot } from './snapshot-writer.js';
import {
  CommandKind,
  ResultKind,
  okResult,
  type ApplyResult,
  type Command,
  type ErrorResult,
  type KvEntry,
  type ScanPage,
  type ScanRequest,
  type WriteCommand,
} from './types.js';
import {
  commandProblem,
  keyLengthProblem,
  sessionFieldsProblem,
  sessionProblem,
  valueLengthProblem,
  writeProblem,
} from './validate.js';

/** The value of every empty put: a view of length 0 would still pin its entry's buffer. */
const EMPTY_VALUE = new Uint8Array(0);

/**
 * A stored value may be a view into its log entry's buffer (instead of a
 * copy) when that buffer holds at most this many bytes besides the value.
 * A copy costs an ArrayBuffer, its backing store and their headers (well over
 * 100 bytes on V8, plus malloc/free and sweeping work), so keeping up to this
 * much of the entry (its header and key) alive costs about the same memory
 * and saves the allocation. The leader's own entries (one buffer per
 * proposal) qualify; an entry that is a window on a larger buffer (a network
 * frame, a batch read from disk, Node's 8 KiB Buffer pool) never does, so a
 * value never pins a buffer shared with anything else.
 */
export const VALUE_VIEW_EXTRA_BYTES_MAX = 256;

/** No condition given (conditions are non-negative integers). */
const ABSENT = -1;

/**
 * One write being applied, in the form the apply path works on: the key as a
 * binary string, the value as it will be stored, and the outcome of the field
 * checks. The state machine reuses one instance (applying is synchronous and
 * nothing keeps a reference to it), so a put allocates no command objects.
 */
class PendingWrite {
  kind: WriteCommand['kind'] = CommandKind.Put;
  /** Valid only when `problem` is null. */
  key: BinaryString = '';
  value: Uint8Array = EMPTY_VALUE;
  /** The first problem with the key, value or conditions (returned after the session checks). */
  problem: KvError | null = null;
  hasSession = false;
  /** The problem with the session fields, when there is a session. */
  sessionProblem: KvError | null = null;
  sessionId = 0;
  seq = 0;
  ackedSeq = 0;
  expectedVersion = ABSENT;
  expectedModRevision = ABSENT;
}

function errorResult(error: KvError): ErrorResult {
  return { kind: ResultKind.Error, error };
}

/** Incremental restore: push the snapshot's chunks, then `finish()` swaps the new state in. */
export interface KvRestore {
  push(chunk: Uint8Array): void;
  /** Validates the end of the stream and replaces the state machine's state; throws CorruptSnapshotError. */
  finish(): void;
}

export class KvStateMachine {
  readonly options: KvOptions;
  private tree: KeyTree = newKeyTree();
  private sessions = new SessionTable();
  private authState = new AuthState();
  private applied = 0;
  private clock = 0;
  /** Scratch for the apply path (see PendingWrite). */
  private readonly fields = new CommandFields();
  private readonly pending = new PendingWrite();
  /** State of the overwrite in progress, for overwriteExisting (reused: applying is synchronous). */
  private readonly overwrite: {
    index: number;
    write: PendingWrite | null;
    result: ApplyResult | null;
    /** What editRange is told to store (it reads `value` and keeps only the entry). */
    readonly edit: { value: StoredEntry | undefined };
  } = { index: 0, write: null, result: null, edit: { value: undefined } };

  constructor(options: Partial<KvOptions> = {}) {
    this.options = resolveKvOptions(options);
  }

  /** Index of the last entry applied (or of the restored snapshot). */
  get appliedIndex(): number {
    return this.applied;
  }

  /** The state machine's clock: the largest leader time seen in the log. */
  get clockMs(): number {
    return this.clock;
  }

  /** Number of keys. */
  get keyCount(): number {
    return this.tree.size;
  }

  /** Number of live sessions. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Whether a session is live now (for the server: refuse a write before proposing it). */
  hasSession(sessionId: number): boolean {
    return this.sessions.get(sessionId) !== undefined;
  }

  // ------------------------------------------------------------------ apply

  /**
   * Applies the committed entry at `index` (which must be appliedIndex + 1)
   * holding `data` from `encodeCommand`. Empty data (the empty entry a new
   * leader appends, Raft §8) is a no-op. Undecodable data is an error result:
   * it is the same on every member, so the replicas stay equal.
   *
   * A stored value may be a view into `data` (see VALUE_VIEW_EXTRA_BYTES_MAX):
   * like every log entry, it must not be modified afterwards.
   */
  apply(index: number, data: Uint8Array): ApplyResult {
    this.checkIndex(index);
    if (data.length === 0) {
      this.applied = index;
      return okResult;
    }
    const f = this.fields;
    try {
      readCommand(data, f);
    } catch (err) {
      f.bytes = EMPTY_VALUE;
      if (!(err instanceof KvError)) throw err;
      this.applied = index;
      return errorResult(err);
    }
    this.advanceClock(f.leaderTimeMs);
    let result: ApplyResult;
    switch (f.kind) {
      case CommandKind.Put:
      case CommandKind.Update:
      case CommandKind.Delete:
        result = this.executeWrite(index, this.pendingFromFields(f));
        break;
      case CommandKind.OpenSession:
        result = this.openSession(index, f.ttlMs);
        break;
      case CommandKind.CloseSession:
        result = this.closeSession(f.sessionId);
        break;
      case CommandKind.KeepAlive:
        result = this.keepAlive(f.sessionId);
        break;
      case CommandKind.Noop:
        result = okResult;
        break;
      default:
        result = this.executeAuth(f.auth!);
        f.auth = null;
    }
    // The scratch must not keep this entry's buffer (possibly a whole frame) alive until the next apply.
    f.bytes = EMPTY_VALUE;
    this.pending.value = EMPTY_VALUE;
    this.applied = index;
    return result;
  }

  /**
   * Applies an already decoded command (tests, simulators). The key and value
   * are copied, so the caller may reuse its arrays.
   */
  applyCommand(index: number, command: Command, leaderTimeMs: number): ApplyResult {
    this.checkIndex(index);
    assert(Number.isSafeInteger(leaderTimeMs) && leaderTimeMs >= 0, 'leaderTimeMs must be a non-negative integer');
    this.advanceClock(leaderTimeMs);
    let result: ApplyResult;
    switch (command.kind) {
      case CommandKind.Put:
      case CommandKind.Update:
      case CommandKind.Delete:
        result = this.executeWrite(index, this.pendingFromCommand(command));
        this.pending.value = EMPTY_VALUE;
        break;
      case CommandKind.OpenSession:
        result = this.openSession(index, command.ttlMs);
        break;
      case CommandKind.CloseSession:
        result = this.closeSession(command.sessionId);
        break;
      case CommandKind.KeepAlive:
        result = this.keepAlive(command.sessionId);
        break;
      case CommandKind.Noop:
        result = okResult;
        break;
      default: {
        if (isAuthCommand(command)) {
          result = this.executeAuth(command);
          break;
        }
        const problem = commandProblem(command, this.options);
        assert(problem !== null, 'an unknown command kind must be a problem');
        result = errorResult(problem);
      }
    }
    this.applied = index;
    return result;
  }

  /** Marks a committed entry that carries no command (a membership change) as applied. */
  skip(index: number): void {
    this.checkIndex(index);
    this.applied = index;
  }

  private checkIndex(index: number): void {
    assert(index === this.applied + 1, `entries must be applied in order: expected index ${this.applied + 1}, got ${index}`);
  }

  private advanceClock(leaderTimeMs: number): void {
    if (leaderTimeMs > this.clock) {
      this.clock = leaderTimeMs;
      // A session is expired when an entry's time passes its deadline; before the entry is executed,
      // so that a late write of an expired session fails on every member alike.
      this.sessions.expire(this.clock);
    }
  }

  /** A decoded write as a PendingWrite (the reused instance). */
  private pendingFromFields(f: CommandFields): PendingWrite {
    const w = this.pending;
    w.kind = f.kind as WriteCommand['kind'];
    w.hasSession = f.hasSession;
    if (f.hasSession) {
      w.sessionProblem = sessionFieldsProblem(f.sessionId, f.seq, f.ackedSeq);
      w.sessionId = f.sessionId;
      w.seq = f.seq;
      w.ackedSeq = f.ackedSeq;
    }
    w.expectedVersion = f.hasExpectedVersion ? f.expectedVersion : ABSENT;
    w.expectedModRevision = f.hasExpectedModRevision ? f.expectedModRevision : ABSENT;
    // Decoded integers are non-negative safe integers, so the conditions are always valid here.
    const isDelete = w.kind === CommandKind.Delete;
    const valueBytes = f.valueEnd - f.valueStart;
    w.problem = keyLengthProblem(f.keyEnd - f.keyStart, this.options) ?? (isDelete ? null : valueLengthProblem(valueBytes, this.options));
    if (w.problem !== null) return w;
    w.key = binaryStringFromBytes(f.bytes, f.keyStart, f.keyEnd);
    w.value = isDelete || valueBytes === 0 ? EMPTY_VALUE : storedValue(f.bytes, f.valueStart, f.valueEnd);
    return w;
  }

  /** A caller's command as a PendingWrite (the reused instance); key and value are copied. */
  private pendingFromCommand(command: WriteCommand): PendingWrite {
    const w = this.pending;
    w.kind = command.kind;
    const ref = command.session;
    w.hasSession = ref !== undefined;
    if (ref !== undefined) {
      w.sessionProblem = sessionProblem(ref);
      if (w.sessionProblem === null) {
        w.sessionId = ref.sessionId;
        w.seq = ref.seq;
        w.ackedSeq = ref.ackedSeq;
      }
    }
    // Validate before copying: a non-byte key or value must become an error result, not a TypeError.
    w.problem = writeProblem(command, this.options);
    if (w.problem !== null) return w;
    w.expectedVersion = command.expectedVersion ?? ABSENT;
    w.expectedModRevision = command.expectedModRevision ?? ABSENT;
    w.key = binaryStringFromBytes(command.key);
    w.value = command.kind === CommandKind.Delete || command.value.length === 0 ? EMPTY_VALUE : copyBytes(command.value);
    return w;
  }

  private closeSession(sessionId: number): ApplyResult {
    return { kind: ResultKind.SessionClosed, closed: this.sessions.remove(sessionId) };
  }

  private keepAlive(sessionId: number): ApplyResult {
    const session = this.sessions.get(sessionId);
    if (session === undefined) return errorResult(new SessionExpiredError({ sessionId }));
    this.sessions.touch(session, this.clock);
    return okResult;
  }

  private openSession(index: number, ttlMsRequested: number): ApplyResult {
    const problem = commandProblem({ kind: CommandKind.OpenSession, ttlMs: ttlMsRequested }, this.options);
    if (problem) return errorResult(problem);
    if (this.sessions.size >= this.options.sessionsMax) {
      // Live sessions are never evicted: that would silently drop a client's exactly-once guarantee.
      return errorResult(new SessionsFullError({ sessionsMax: this.options.sessionsMax }));
    }
    const { sessionTtlMs, sessionTtlMinMs, sessionTtlMaxMs } = this.options;
    const ttlMs = ttlMsRequested === 0 ? sessionTtlMs : Math.min(Math.max(ttlMsRequested, sessionTtlMinMs), sessionTtlMaxMs);
    // The id is this entry's index: unique, and the same on every member.
    this.sessions.add(index, ttlMs, this.clock + ttlMs);
    return { kind: ResultKind.SessionOpened, sessionId: index, ttlMs };
  }

  private executeWrite(index: number, w: PendingWrite): ApplyResult {
    return w.hasSession ? this.executeSessionWrite(index, w) : this.executeWriteChecked(index, w);
  }

  /**
   * Exactly-once (thesis §6.3): a retried (sessionId, seq) gets its saved
   * result; results the client acknowledged are discarded; only a write the
   * session has not seen is executed, and its result (success or error) saved.
   */
  private executeSessionWrite(index: number, w: PendingWrite): ApplyResult {
    if (w.sessionProblem !== null) return errorResult(w.sessionProblem);
    const admitted = this.admitSessionCommand(w.sessionId, w.seq, w.ackedSeq);
    if ('kind' in admitted) return admitted;
    const result = this.executeWriteChecked(index, w);
    admitted.results.set(w.seq, result);
    return result;
  }

  /**
   * The session checks of every exactly-once command (writes and auth
   * commands): the session, to save the result in, when the command is new;
   * otherwise the answer to give without executing it (its saved result, or
   * the error that stops it).
   */
  private admitSessionCommand(sessionId: number, seq: number, ackedSeq: number): Session | ApplyResult {
    const session = this.sessions.get(sessionId);
    if (session === undefined) return errorResult(new SessionExpiredError({ sessionId }));
    this.sessions.touch(session, this.clock);
    if (seq <= session.ackedSeq) {
      return errorResult(new StaleSequenceError({ sessionId, seq, ackedSeq: session.ackedSeq }));
    }
    const saved = session.results.get(seq);
    if (saved !== undefined) return saved;
    this.sessions.acknowledge(session, ackedSeq);
    if (session.results.size >= this.options.sessionResultsMax) {
      return errorResult(new SessionResultsFullError({ sessionId, sessionResultsMax: this.options.sessionResultsMax }));
    }
    return session;
  }

  /** An auth command, exactly-once when it carries a session (like a write). */
  private executeAuth(command: AuthCommand): ApplyResult {
    const ref = command.session;
    let session: Session | null = null;
    if (ref !== undefined) {
      const problem = sessionProblem(ref);
      if (problem !== null) return errorResult(problem);
      const admitted = this.admitSessionCommand(ref.sessionId, ref.seq, ref.ackedSeq);
      if ('kind' in admitted) return admitted;
      session = admitted;
    }
    const error = this.authState.execute(command, this.options.keyBytesMax);
    const result = error === null ? okResult : errorResult(error);
    session?.results.set(ref!.seq, result);
    return result;
  }

  private executeWriteChecked(index: number, w: PendingWrite): ApplyResult {
    if (w.problem !== null) return errorResult(w.problem);
    if (w.kind !== CommandKind.Delete) {
      // An existing key (the common case) is overwritten in one descent of the tree.
      this.overwrite.index = index;
      this.overwrite.write = w;
      this.overwrite.result = null;
      this.tree.editRange(w.key, w.key, true, this.overwriteExisting);
      const result = this.overwrite.result;
      this.overwrite.write = null;
      this.overwrite.edit.value = undefined;
      if (result !== null) return result;
      if (w.kind === CommandKind.Update) return errorResult(new KeyNotFoundError({ key: bytesFromBinaryString(w.key) }));
      if (conditionFails(w, undefined)) return errorResult(versionMismatch(w, undefined));
      this.tree.set(w.key, new StoredEntry(w.key, w.value, 1, index, index), false);
      return { kind: ResultKind.Write, version: 1, createRevision: index, modRevision: index };
    }
    const existing = this.tree.get(w.key);
    if (conditionFails(w, existing)) return errorResult(versionMismatch(w, existing));
    if (existing === undefined) return { kind: ResultKind.Delete, deleted: false, revision: index };
    this.tree.delete(existing.keyString);
    return { kind: ResultKind.Delete, deleted: true, revision: index };
  }

  /**
   * editRange's callback for a put or update of a key that exists: decides the
   * outcome from the existing entry and replaces it. Entries are replaced,
   * never changed in place: a snapshot's clone may still share the old one
   * (editRange copies shared tree nodes on the way down, like set).
   */
  private readonly overwriteExisting = (_key: BinaryString, existing: StoredEntry): { value?: StoredEntry } | undefined => {
    const { write: w, index } = this.overwrite;
    if (conditionFails(w!, existing)) {
      this.overwrite.result = errorResult(versionMismatch(w!, existing));
      return undefined;
    }
    const entry = new StoredEntry(existing.keyString, w!.value, existing.version + 1, existing.createRevision, index);
    this.overwrite.result = { kind: ResultKind.Write, version: entry.version, createRevision: entry.createRevision, modRevision: index };
    this.overwrite.edit.value = entry;
    return this.overwrite.edit;
  };

  // ------------------------------------------------------------------ reads

  /** The replicated users, roles and auth switch, read-only (src/auth authorizes against it). Changes as entries apply. */
  get auth(): AuthView {
    return this.authState;
  }

  /** `auth status`. */
  authStatus(): AuthStatus {
    return this.authState.status();
  }

  /** `user get`: the user's roles, never its password record; throws UserNotFoundError. */
  getUser(name: string): UserInfo {
    return this.authState.userInfo(name);
  }

  /** `user list`, in name order. */
  listUsers(): string[] {
    return this.authState.userNames();
  }

  /** `role get`: the role's permissions; throws RoleNotFoundError. */
  getRole(name: string): RoleRecord {
    return this.authState.roleInfo(name);
  }

  /** `role list`, in name order. */
  listRoles(): string[] {
    return this.authState.roleNames();
  }

  /** The entry for `key`, or null. Reads the local state: linearizability is the server's job (ReadIndex, thesis §6.4). */
  get(key: Uint8Array): KvEntry | null {
    return this.tree.get(binaryStringFromBytes(key)) ?? null;
  }

  /**
   * One page of keys in unsigned byte order. Throws InvalidScanError for a
   * malformed request. `next` is set when keys may remain in range (it is
   * exact: null means the range is exhausted).
   */
  scan(request: ScanRequest): ScanPage {
    const { limit } = request;
    const { scanLimitMax, scanBytesMax } = this.options;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > scanLimitMax) {
      throw new InvalidScanError({ reason: `limit must be an integer in [1, ${scanLimitMax}]` });
    }
    const bytesMax = Math.min(request.bytesMax ?? scanBytesMax, scanBytesMax);
    if (!(bytesMax >= 1)) throw new InvalidScanError({ reason: 'bytesMax must be >= 1' });
    let low: BinaryString;
    let high: BinaryString | null;
    if (request.prefix !== undefined) {
      if (request.start !== undefined || request.end !== undefined) {
        throw new InvalidScanError({ reason: 'give either a prefix or a start/end range, not both' });
      }
      low = binaryStringFromBytes(request.prefix);
      const end = prefixEnd(request.prefix);
      high = end === null ? null : binaryStringFromBytes(end);
    } else {
      low = request.start === undefined ? '' : binaryStringFromBytes(request.start);
      high = request.end === undefined ? null : binaryStringFromBytes(request.end);
      if (high !== null && compareBinaryStrings(low, high) > 0) throw new InvalidScanError({ reason: 'start is after end' });
    }
    let exclusive: BinaryString | null = null;
    if (request.after !== undefined) {
      const after = binaryStringFromBytes(request.after);
      if (compareBinaryStrings(after, low) >= 0) {
        low = after;
        exclusive = after;
      }
    }

    const entries: KvEntry[] = [];
    let bytes = 0;
    let full = false;
    for (const entry of this.tree.values(low)) {
      if (exclusive !== null) {
        const skip = entry.keyString === exclusive;
        exclusive = null;
        if (skip) continue;
      }
      if (high !== null && compareBinaryStrings(entry.keyString, high) >= 0) break;
      if (full) return { entries, next: entries[entries.length - 1]!.key };
      entries.push(entry);
      bytes += entry.keyString.length + entry.value.length;
      full = entries.length >= limit || bytes >= bytesMax;
    }
    return { entries, next: null };
  }

  // ------------------------------------------------------------------ snapshots

  /**
   * A snapshot of the state at the current appliedIndex. Taking it is cheap
   * (an O(1) clone of the key tree plus the encoding of the sessions); its
   * chunks are produced while the caller iterates, and applies may continue
   * meanwhile without affecting it.
   */
  snapshot(): KvSnapshot {
    return new KvSnapshot(this.applied, this.clock, this.tree.clone(), this.sessions, this.options.snapshotChunkBytes, this.authState);
  }

  /** Starts an incremental restore; the state changes only when `finish()` succeeds. */
  beginRestore(): KvRestore {
    const reader = new SnapshotReader(this.options.keyBytesMax);
    return {
      push: (chunk) => reader.push(chunk),
      finish: () => {
        const state = reader.finish();
        this.tree = state.tree;
        this.sessions = state.sessions;
        this.authState = state.auth;
        this.applied = state.appliedIndex;
        this.clock = state.clockMs;
      },
    };
  }

  /** Replaces the state with the snapshot in `chunks`; throws CorruptSnapshotError (state unchanged). */
  restore(chunks: Iterable<Uint8Array>): void {
    const restore = this.beginRestore();
    for (const chunk of chunks) restore.push(chunk);
    restore.finish();
  }

  /** `restore` from an async source (a file or network stream); stops with the signal's reason when aborted. */
  async restoreAsync(
    chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    const { signal } = options;
    signal?.throwIfAborted();
    const restore = this.beginRestore();
    for await (const chunk of chunks) {
      signal?.throwIfAborted();
      restore.push(chunk);
    }
    signal?.throwIfAborted();
    restore.finish();
  }
}

function versionMismatch(w: PendingWrite, existing: StoredEntry | undefined): VersionMismatchError {
  return new VersionMismatchError({
    key: bytesFromBinaryString(w.key),
    expectedVersion: w.expectedVersion === ABSENT ? null : w.expectedVersion,
    expectedModRevision: w.expectedModRevision === ABSENT ? null : w.expectedModRevision,
    actualVersion: existing?.version ?? 0,
    actualModRevision: existing?.modRevision ?? 0,
  });
}

function conditionFails(w: PendingWrite, existing: StoredEntry | undefined): boolean {
  if (w.expectedVersion !== ABSENT && w.expectedVersion !== (existing?.version ?? 0)) return true;
  if (w.expectedModRevision !== ABSENT && w.expectedModRevision !== (existing?.modRevision ?? 0)) return true;
  return false;
}

/**
 * The value at `bytes[start, end)` as it will be stored: a view when the
 * entry's buffer holds little else (VALUE_VIEW_EXTRA_BYTES_MAX), else a copy.
 * A view needs a plain ArrayBuffer: a SharedArrayBuffer may be written by
 * another thread, a resizable one may grow.
 */
function storedValue(bytes: Uint8Array, start: number, end: number): Uint8Array {
  const buffer = bytes.buffer;
  if (
    buffer.byteLength - (end - start) <= VALUE_VIEW_EXTRA_BYTES_MAX &&
    buffer instanceof ArrayBuffer &&
    (buffer as { resizable?: boolean }).resizable !== true
  ) {
    // Not bytes.subarray: on a Node Buffer that would make the stored value a Buffer too.
    return new Uint8Array(buffer, bytes.byteOffset + start, end - start);
  }
  return copyBytes(bytes, start, end);
}
