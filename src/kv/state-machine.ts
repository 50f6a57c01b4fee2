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
import { CommandFields, readCommand } from './command-codec.js';
import { KvError, SessionExpiredError, TxnTooLargeError, SessionResultsFullError, SessionsFullError, StaleSequenceError } from './errors.js';
import { newKeyTree, type KeyTree, type StoredEntry } from './key-tree.js';
import { changedKeySpace, EMPTY_VALUE, errorResult, KeyWrites, type PendingWrite } from './key-writes.js';
import { resolveKvOptions, type KvOptions } from './options.js';
import { scanKeys } from './scan.js';
import { SessionTable, type Session, type SessionInfo } from './sessions.js';
import { ANONYMOUS_OWNER, openSessionProblem, saveResultProblem, txnResultBudget } from './session-quotas.js';
import { compactResult, expandResult } from './saved-result.js';
import { authRevisionProblem } from './auth-revision.js';
import { AuthState } from './auth-state.js';
import type { AuthCommand, AuthView } from './auth-types.js';
import { SnapshotReader } from './snapshot-reader.js';
import { KvSnapshot } from './snapshot-writer.js';
import { binaryStringFromBytes, bytesFromBinaryString } from './bytes.js';
import { LeaseTable } from './leases.js';
import { type LeaseCommand, type LeaseInfo } from './lease-types.js';
import { CommandKind, ResultKind, okResult, type ApplyResult, type KvEntry, type ScanPage, type ScanRequest } from './types.js';
import { commandProblem, sessionProblem } from './validate.js';
import { TxnExecutor, txnBytesProblem, txnProblem } from './txn.js';
import { isReadOnlyTxn, type TxnBody, type TxnCommand, type TxnResult } from './txn-types.js';
import { CompactedError, FutureRevisionError, InvalidCommandError } from './errors.js';
import { ChangeRecorder, RevisionHistory } from './history.js';

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
  private readonly authState = new AuthState();
  private leases = new LeaseTable();
  private applied = 0;
  /** The store revision: +1 per applied entry that changed the key space (see `revision`). */
  private rev = 0;
  private clock = 0;
  /** Scratch for the apply path (see PendingWrite). */
  private readonly fields = new CommandFields();
  private readonly writes: KeyWrites;
  private readonly txns: TxnExecutor;
  /** Past revisions' events, for watches (history.ts); local to this member (not in snapshots). */
  readonly history: RevisionHistory;
  private readonly recorder = new ChangeRecorder();
  /** The replicated compaction revision (compact commands); the history's own floor may be higher. */
  private compacted = 0;

  constructor(options: Partial<KvOptions> = {}) {
    this.options = resolveKvOptions(options);
    this.history = new RevisionHistory(this.options);
    this.recorder.attach(this.tree);
    this.writes = new KeyWrites(this.options, () => this.leases);
    // A transaction's puts detach keys from their leases and clear their TTLs; its deletes drop them (leases.ts).
    this.txns = new TxnExecutor(
      this.options,
      (previous, next) => this.leases.replaced(previous, next),
      (leaseId) => this.leases.attachProblem(leaseId),
    );
  }

  /** Index of the last entry applied (or of the restored snapshot). */
  get appliedIndex(): number {
    return this.applied;
  }

  /**
   * The store revision (etcd's model): the number of applied entries that
   * changed the key space. Each write or transaction that changes a key takes
   * the next revision, whatever number of keys it touches; failed writes,
   * deletes of missing keys, session and auth entries take none. Keys record
   * the revisions that created and last changed them; response headers, watch
   * and leases read this one getter.
   */
  get revision(): number {
    return this.rev;
  }

  /** The state machine's clock: the largest leader time seen in the log. */
  get clockMs(): number {
    return this.clock;
  }

  /** Number of keys. */
  get keyCount(): number {
    return this.tree.size;
  }

  /** Number of keys with a TTL of their own (Redis's INFO `expires`). */
  get keyTtlCount(): number {
    return this.leases.keyTtlCount;
  }

  /** Number of live sessions. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Accounted bytes of the session table (session-quotas.ts), against sessionTableBytesMax. */
  get sessionBytes(): number {
    return this.sessions.bytes;
  }

  /** Live sessions and saved-result bytes of one owner ('' = anonymous), for metrics and tests. */
  sessionUsageOf(owner: string): { readonly sessions: number; readonly resultBytes: number } {
    const usage = this.sessions.usageOf(owner);
    return { sessions: usage?.sessions ?? 0, resultBytes: usage?.resultBytes ?? 0 };
  }

  /** Every live session in id order, as read-only summaries (the `session.list` status). */
  sessionInfos(): Iterable<SessionInfo> {
    return this.sessions.infos();
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
    // A command authorized against an auth state older than this one is refused (auth-revision.ts).
    const stale = authRevisionProblem(this.authState, f.kind, f.authRevision);
    const revisionBefore = this.rev;
    const result = stale === null ? this.executeFields(index, f, data.length) : errorResult(stale);
    // A command that took a revision leaves its events in the history (history.ts).
    if (this.rev !== revisionBefore) this.history.record(this.rev, this.clock, this.recorder.take(this.tree, this.rev));
    else this.recorder.clear();
    f.auth = null;
    f.leaseCommand = null;
    f.txn = null;
    // The scratch must not keep this entry's buffer (possibly a whole frame) alive until the next apply.
    f.bytes = EMPTY_VALUE;
    this.writes.release();
    this.applied = index;
    return result;
  }

  /** The command read into `f`, executed (`entryBytes`: the entry's size, which bounds a transaction's reads). */
  private executeFields(index: number, f: CommandFields, entryBytes: number): ApplyResult {
    switch (f.kind) {
      case CommandKind.Put:
      case CommandKind.Update:
      case CommandKind.Delete:
        return this.executeWrite(index, this.writes.fromFields(f));
      case CommandKind.OpenSession:
        return this.openSession(index, f.ttlMs, f.user);
      case CommandKind.CloseSession:
        return this.closeSession(f.sessionId);
      case CommandKind.KeepAlive:
        return this.keepAlive(f.sessionId);
      case CommandKind.Noop:
        return okResult;
      case CommandKind.Compact:
        return this.compact(f.compactRevision);
      case CommandKind.Txn:
        return this.executeTxn(f.txn!, entryBytes);
      default:
        if (f.leaseCommand !== null) return this.executeLease(index, f.leaseCommand);
        return this.executeAuth(f.auth!);
    }
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

  /** The replicated compaction point: revisions <= it leave the history on every member. */
  get compactRevision(): number {
    return this.compacted;
  }

  private compact(revision: number): ApplyResult {
    if (revision > this.rev) return errorResult(new FutureRevisionError({ revision, currentRevision: this.rev }));
    if (revision <= this.compacted) return errorResult(new CompactedError({ compactRevision: this.compacted }));
    this.compacted = revision;
    this.history.compact(revision);
    return okResult;
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

  private openSession(index: number, ttlMsRequested: number, user: string | null): ApplyResult {
    const problem = commandProblem({ kind: CommandKind.OpenSession, ttlMs: ttlMsRequested }, this.options);
    if (problem) return errorResult(problem);
    if (this.sessions.size >= this.options.sessionsMax) {
      // Live sessions are never evicted: that would silently drop a client's exactly-once guarantee.
      return errorResult(new SessionsFullError({ sessionsMax: this.options.sessionsMax }));
    }
    // While auth is disabled every client is the anonymous owner, whatever it logged in as (session-quotas.ts).
    const owner = this.authState.enabled && user !== null ? user : ANONYMOUS_OWNER;
    const quota = openSessionProblem(this.sessions, this.options, owner);
    if (quota !== null) return errorResult(quota);
    const { sessionTtlMs, sessionTtlMinMs, sessionTtlMaxMs } = this.options;
    const ttlMs = ttlMsRequested === 0 ? sessionTtlMs : Math.min(Math.max(ttlMsRequested, sessionTtlMinMs), sessionTtlMaxMs);
    // The id is this entry's index: unique, and the same on every member.
    this.sessions.add(index, ttlMs, this.clock + ttlMs, owner);
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
    this.sessions.saveResult(admitted, w.seq, compactResult(result));
    return result;
  }

  /**
   * The session checks of every exactly-once command (writes, auth commands): the session to save
   * the result in when the command is new, else the answer to give (its saved result, or an error).
   */
  private admitSessionCommand(sessionId: number, seq: number, ackedSeq: number): Session | ApplyResult {
    const session = this.sessions.get(sessionId);
    if (session === undefined) return errorResult(new SessionExpiredError({ sessionId }));
    this.sessions.touch(session, this.clock);
    if (seq <= session.ackedSeq) {
      return errorResult(new StaleSequenceError({ sessionId, seq, ackedSeq: session.ackedSeq }));
    }
    const saved = session.results.get(seq);
    if (saved !== undefined) return expandResult(saved);
    this.sessions.acknowledge(session, ackedSeq);
    if (session.results.size >= this.options.sessionResultsMax) {
      return errorResult(new SessionResultsFullError({ sessionId, sessionResultsMax: this.options.sessionResultsMax }));
    }
    // Decided before the command runs (with the worst-case result size), so a refused write changes nothing.
    const quota = saveResultProblem(this.sessions, this.options, session.owner, session.usage);
    if (quota !== null) return errorResult(quota);
    return session;
  }

  /** An auth command, exactly-once when it carries a session (like a write). */
  private executeAuth(command: AuthCommand): ApplyResult {
    const ref = command.session;
    const problem = ref === undefined ? null : sessionProblem(ref);
    if (problem !== null) return errorResult(problem);
    const admitted = ref === undefined ? null : this.admitSessionCommand(ref.sessionId, ref.seq, ref.ackedSeq);
    if (admitted !== null && 'kind' in admitted) return admitted;
    const error = this.authState.execute(command, this.options.keyBytesMax);
    const result = error === null ? okResult : errorResult(error);
    if (admitted !== null) this.sessions.saveResult(admitted, ref!.seq, compactResult(result));
    return result;
  }

  /** A transaction: exactly-once when it carries a session; one revision when it changes a key. */
  private executeTxn(command: TxnCommand, entryBytes: number): ApplyResult {
    const ref = command.session;
    const problem = sessionProblem(ref);
    if (problem !== null) return errorResult(problem);
    const admitted = ref === undefined ? null : this.admitSessionCommand(ref.sessionId, ref.seq, ref.ackedSeq);
    if (admitted !== null && 'kind' in admitted) return admitted;
    const invalid = txnProblem(command, this.options) ?? txnBytesProblem(entryBytes, this.options);
    let result: ApplyResult;
    if (invalid !== null) {
      result = errorResult(invalid);
    } else {
      const budget = admitted === null ? null : txnResultBudget(this.sessions, this.options, admitted);
      const run = this.txns.run(this.tree, this.rev + 1, command, budget === null ? Infinity : budget.bytes, false, this.clock);
      if (run.changed) this.rev++;
      result = run.result;
      // Over the user's quota or the table's budget rather than the session's own bound: say which.
      if (budget !== null && budget.refusal !== null && result.kind === ResultKind.Error && result.error instanceof TxnTooLargeError) {
        result = errorResult(budget.refusal);
      }
    }
    if (admitted !== null) this.sessions.saveResult(admitted, ref!.seq, compactResult(result));
    return result;
  }

  private executeWriteChecked(_index: number, w: PendingWrite): ApplyResult {
    // A key's own TTL runs from this entry's time (the same on every member); an absolute one is as given.
    w.expiresAtMs = w.keyTtlMs === 0 ? w.keyExpiresAtMs : this.clock + w.keyTtlMs;
    w.nowMs = this.clock;
    const result = this.writes.execute(this.tree, this.rev + 1, w);
    if (changedKeySpace(result)) this.rev++;
    return result;
  }

  /** A lease command (leases.ts), exactly-once when it carries a session (like a write). */
  private executeLease(index: number, command: LeaseCommand): ApplyResult {
    const ref = 'session' in command ? command.session : undefined;
    const problem = ref === undefined ? null : sessionProblem(ref);
    if (problem !== null) return errorResult(problem);
    const admitted = ref === undefined ? null : this.admitSessionCommand(ref.sessionId, ref.seq, ref.ackedSeq);
    if (admitted !== null && 'kind' in admitted) return admitted;
    const result = this.leases.execute(this.tree, index, this.rev + 1, this.clock, command, this.options);
    // A revoke or expiry that deleted keys is one change of the key space: one store revision for all of them.
    if (result.kind === ResultKind.LeaseDeleted && result.keys > 0) this.rev++;
    if (admitted !== null) this.sessions.saveResult(admitted, ref!.seq, compactResult(result));
    return result;
  }

  // ------------------------------------------------------------------ reads

  /**
   * The replicated users, roles and auth switch: read-only, live, one object for the state machine's
   * life (restores included); src/auth authorizes against it. Serves user/role get/list, auth status.
   */
  get auth(): AuthView {
    return this.authState;
  }

  /**
   * The entry for `key`, or null. Reads the local state: linearizability is the server's job (ReadIndex, thesis §6.4).
   * With `nowMs` (the reader's view of the entry clock), a key whose lease or TTL has expired by then reads as absent
   * even before the expiry entry deletes it.
   */
  get(key: Uint8Array, nowMs?: number): KvEntry | null {
    const entry = this.tree.get(binaryStringFromBytes(key));
    if (entry === undefined || (nowMs !== undefined && this.leases.expired(entry, nowMs))) return null;
    return entry;
  }

  /**
   * One page of keys in unsigned byte order. Throws InvalidScanError for a
   * malformed request. `next` is set when keys may remain in range (it is
   * exact: null means the range is exhausted).
   */
  scan(request: ScanRequest, nowMs?: number): ScanPage {
    const leases = this.leases;
    return scanKeys(this.tree, request, this.options, nowMs === undefined ? undefined : (entry) => leases.expired(entry, nowMs));
  }

  // ------------------------------------------------------------------ leases

  /** A lease's state, or null; with `keys`, the keys attached (in key order). */
  lease(id: number, keys = false): (LeaseInfo & { keys?: Uint8Array[] }) | null {
    const lease = this.leases.get(id);
    if (lease === undefined) return null;
    const info = this.leases.info(lease);
    return keys ? { ...info, keys: this.leases.keysOf(lease).map(bytesFromBinaryString) } : info;
  }

  /** Every lease, in id order. */
  leaseList(): LeaseInfo[] {
    return Array.from(this.leases.values(), (lease) => this.leases.info(lease));
  }

  /** Number of live leases. */
  get leaseCount(): number {
    return this.leases.size;
  }

  /** What an expiry entry proposed at entry time `nowMs` should carry: up to `max` due leases and due keys. */
  dueExpiries(nowMs: number, max: number): { leases: number[]; keys: Uint8Array[] } {
    return { leases: this.leases.dueLeases(nowMs, max), keys: this.leases.dueKeys(nowMs, max).map(bytesFromBinaryString) };
  }

  /**
   * A lower bound of the earliest expiry time of a lease or key TTL (at most 100 ms early, except for a
   * renewed lease whose earlier expiry has not passed yet by the last entry's time), or null when there is none.
   */
  nextExpiryMs(): number | null {
    return this.leases.nextExpiryMs(this.clock);
  }

  /**
   * A read-only transaction (no put, update or delete in any branch) on the
   * local state, without the log: the server serves it after a ReadIndex,
   * like a get. Throws its problem (InvalidCommandError, TxnTooLargeError).
   * With `nowMs` (the reader's view of the entry clock), a key whose lease or TTL
   * has expired by then is absent to its compares and reads, as for get and scan.
   */
  readTxn(body: TxnBody, nowMs?: number): TxnResult {
    const problem = txnProblem({ kind: CommandKind.Txn, compare: body.compare, success: body.success, failure: body.failure }, this.options);
    if (problem !== null) throw problem;
    if (!isReadOnlyTxn(body)) throw new InvalidCommandError({ reason: 'txn: a transaction with writes must go through the log' });
    const leases = this.leases;
    const hidden = nowMs === undefined ? () => false : (entry: StoredEntry) => leases.expired(entry, nowMs);
    const { result } = this.txns.run(this.tree, this.rev + 1, body, Infinity, true, this.clock, hidden);
    if (result.kind === ResultKind.Error) throw result.error;
    return result;
  }

  // ------------------------------------------------------------------ snapshots

  /**
   * A snapshot of the state at the current appliedIndex. Taking it is cheap
   * (an O(1) clone of the key tree plus the encoding of the sessions); its
   * chunks are produced while the caller iterates, and applies may continue
   * meanwhile without affecting it.
   */
  snapshot(): KvSnapshot {
    return new KvSnapshot(this.applied, this.clock, this.tree.clone(), this.sessions, this.options.snapshotChunkBytes, this.authState, this.rev, this.leases, this.compacted);
  }

  /** Starts an incremental restore; the state changes only when `finish()` succeeds. */
  beginRestore(): KvRestore {
    const reader = new SnapshotReader(this.options.keyBytesMax);
    return {
      push: (chunk) => reader.push(chunk),
      finish: () => {
        const state = reader.finish();
        this.tree = state.tree;
        this.recorder.attach(this.tree);
        // History does not travel in snapshots: this member's starts at the snapshot's revision.
        this.compacted = state.compactRevision;
        this.history.reset(Math.max(state.revision, state.compactRevision), state.compactRevision);
        this.sessions = state.sessions;
        this.authState.adopt(state.auth);
        this.leases = state.leases;
        this.applied = state.appliedIndex;
        this.rev = state.revision;
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
