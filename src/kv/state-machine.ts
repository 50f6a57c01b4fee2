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
import { compareBytes, copyBytes, prefixEnd } from './bytes.js';
import { decodeCommand } from './command-codec.js';
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
import { newKeyTree, type KeyTree } from './key-tree.js';
import { resolveKvOptions, type KvOptions } from './options.js';
import { SessionTable } from './sessions.js';
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
  type WriteConditions,
} from './types.js';
import { commandProblem, sessionProblem, writeProblem } from './validate.js';

const EMPTY_KEY = new Uint8Array(0);

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
  private applied = 0;
  private clock = 0;

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
   * Stored keys and values may be views into `data` (see decodeCommand): like
   * every log entry, it must not be modified afterwards.
   */
  apply(index: number, data: Uint8Array): ApplyResult {
    this.checkIndex(index);
    if (data.length === 0) {
      this.applied = index;
      return okResult;
    }
    let leaderTimeMs: number;
    let command: Command;
    try {
      ({ leaderTimeMs, command } = decodeCommand(data));
    } catch (err) {
      if (!(err instanceof KvError)) throw err;
      this.applied = index;
      return errorResult(err);
    }
    return this.applyOwned(index, command, leaderTimeMs);
  }

  /**
   * Applies an already decoded command (tests, simulators). The key and value
   * are copied, so the caller may reuse its arrays.
   */
  applyCommand(index: number, command: Command, leaderTimeMs: number): ApplyResult {
    this.checkIndex(index);
    assert(Number.isSafeInteger(leaderTimeMs) && leaderTimeMs >= 0, 'leaderTimeMs must be a non-negative integer');
    if (command.kind === CommandKind.Put || command.kind === CommandKind.Update || command.kind === CommandKind.Delete) {
      // Validate before copying: a non-byte key or value must become an error result, not a TypeError.
      const problem = writeProblem(command, this.options);
      if (problem === null) {
        command =
          command.kind === CommandKind.Delete
            ? { ...command, key: copyBytes(command.key) }
            : { ...command, key: copyBytes(command.key), value: copyBytes(command.value) };
      }
    }
    return this.applyOwned(index, command, leaderTimeMs);
  }

  /** Marks a committed entry that carries no command (a membership change) as applied. */
  skip(index: number): void {
    this.checkIndex(index);
    this.applied = index;
  }

  private checkIndex(index: number): void {
    assert(index === this.applied + 1, `entries must be applied in order: expected index ${this.applied + 1}, got ${index}`);
  }

  private applyOwned(index: number, command: Command, leaderTimeMs: number): ApplyResult {
    if (leaderTimeMs > this.clock) {
      this.clock = leaderTimeMs;
      // A session is expired when an entry's time passes its deadline; before the entry is executed,
      // so that a late write of an expired session fails on every member alike.
      this.sessions.expire(this.clock);
    }
    const result = this.execute(index, command);
    this.applied = index;
    return result;
  }

  private execute(index: number, command: Command): ApplyResult {
    switch (command.kind) {
      case CommandKind.Put:
      case CommandKind.Update:
      case CommandKind.Delete:
        return command.session === undefined ? this.executeWriteChecked(index, command) : this.executeSessionWrite(index, command);
      case CommandKind.OpenSession:
        return this.openSession(index, command.ttlMs);
      case CommandKind.CloseSession:
        return { kind: ResultKind.SessionClosed, closed: this.sessions.remove(command.sessionId) };
      case CommandKind.KeepAlive: {
        const session = this.sessions.get(command.sessionId);
        if (session === undefined) return errorResult(new SessionExpiredError({ sessionId: command.sessionId }));
        this.sessions.touch(session, this.clock);
        return okResult;
      }
      case CommandKind.Noop:
        return okResult;
      default: {
        const problem = commandProblem(command, this.options);
        assert(problem !== null, 'an unknown command kind must be a problem');
        return errorResult(problem);
      }
    }
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

  /**
   * Exactly-once (thesis §6.3): a retried (sessionId, seq) gets its saved
   * result; results the client acknowledged are discarded; only a write the
   * session has not seen is executed, and its result (success or error) saved.
   */
  private executeSessionWrite(index: number, command: WriteCommand): ApplyResult {
    const ref = command.session!;
    const refProblem = sessionProblem(ref);
    if (refProblem) return errorResult(refProblem);
    const session = this.sessions.get(ref.sessionId);
    if (session === undefined) return errorResult(new SessionExpiredError({ sessionId: ref.sessionId }));
    this.sessions.touch(session, this.clock);
    if (ref.seq <= session.ackedSeq) {
      return errorResult(new StaleSequenceError({ sessionId: ref.sessionId, seq: ref.seq, ackedSeq: session.ackedSeq }));
    }
    const saved = session.results.get(ref.seq);
    if (saved !== undefined) return saved;
    this.sessions.acknowledge(session, ref.ackedSeq);
    if (session.results.size >= this.options.sessionResultsMax) {
      return errorResult(new SessionResultsFullError({ sessionId: ref.sessionId, sessionResultsMax: this.options.sessionResultsMax }));
    }
    const result = this.executeWriteChecked(index, command);
    session.results.set(ref.seq, result);
    return result;
  }

  private executeWriteChecked(index: number, command: WriteCommand): ApplyResult {
    const problem = writeProblem(command, this.options);
    if (problem) return errorResult(problem);
    const existing = this.tree.get(command.key);
    if (command.kind === CommandKind.Update && existing === undefined) {
      return errorResult(new KeyNotFoundError({ key: command.key }));
    }
    if (conditionFails(command, existing)) {
      return errorResult(
        new VersionMismatchError({
          key: command.key,
          expectedVersion: command.expectedVersion ?? null,
          expectedModRevision: command.expectedModRevision ?? null,
          actualVersion: existing?.version ?? 0,
          actualModRevision: existing?.modRevision ?? 0,
        }),
      );
    }
    if (command.kind === CommandKind.Delete) {
      if (existing === undefined) return { kind: ResultKind.Delete, deleted: false, revision: index };
      this.tree.delete(existing.key);
      return { kind: ResultKind.Delete, deleted: true, revision: index };
    }
    // Entries are replaced, never changed in place: a snapshot's clone may still share the old one.
    const entry: KvEntry =
      existing === undefined
        ? { key: command.key, value: command.value, version: 1, createRevision: index, modRevision: index }
        : {
            key: existing.key,
            value: command.value,
            version: existing.version + 1,
            createRevision: existing.createRevision,
            modRevision: index,
          };
    this.tree.set(entry.key, entry, true);
    return { kind: ResultKind.Write, version: entry.version, createRevision: entry.createRevision, modRevision: index };
  }

  // ------------------------------------------------------------------ reads

  /** The entry for `key`, or null. Reads the local state: linearizability is the server's job (ReadIndex, thesis §6.4). */
  get(key: Uint8Array): KvEntry | null {
    return this.tree.get(key) ?? null;
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
    let low: Uint8Array;
    let high: Uint8Array | null;
    if (request.prefix !== undefined) {
      if (request.start !== undefined || request.end !== undefined) {
        throw new InvalidScanError({ reason: 'give either a prefix or a start/end range, not both' });
      }
      low = request.prefix;
      high = prefixEnd(request.prefix);
    } else {
      low = request.start ?? EMPTY_KEY;
      high = request.end ?? null;
      if (high !== null && compareBytes(low, high) > 0) throw new InvalidScanError({ reason: 'start is after end' });
    }
    let exclusive: Uint8Array | null = null;
    if (request.after !== undefined && compareBytes(request.after, low) >= 0) {
      low = request.after;
      exclusive = request.after;
    }

    const entries: KvEntry[] = [];
    let bytes = 0;
    let full = false;
    for (const entry of this.tree.values(low)) {
      if (exclusive !== null) {
        const skip = compareBytes(entry.key, exclusive) === 0;
        exclusive = null;
        if (skip) continue;
      }
      if (high !== null && compareBytes(entry.key, high) >= 0) break;
      if (full) return { entries, next: entries[entries.length - 1]!.key };
      entries.push(entry);
      bytes += entry.key.length + entry.value.length;
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
    return new KvSnapshot(this.applied, this.clock, this.tree.clone(), this.sessions, this.options.snapshotChunkBytes);
  }

  /** Starts an incremental restore; the state changes only when `finish()` succeeds. */
  beginRestore(): KvRestore {
    const reader = new SnapshotReader();
    return {
      push: (chunk) => reader.push(chunk),
      finish: () => {
        const state = reader.finish();
        this.tree = state.tree;
        this.sessions = state.sessions;
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

function conditionFails(c: WriteConditions, existing: KvEntry | undefined): boolean {
  if (c.expectedVersion !== undefined && c.expectedVersion !== (existing?.version ?? 0)) return true;
  if (c.expectedModRevision !== undefined && c.expectedModRevision !== (existing?.modRevision ?? 0)) return true;
  return false;
}
