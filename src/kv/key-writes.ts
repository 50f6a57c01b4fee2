/**
 * The write path of the state machine: a put, update or delete of one key,
 * with its optional version/modRevision condition, applied to the key tree.
 * It is the hot path of every replica (one call per committed write), so it
 * works on one reused PendingWrite and allocates nothing but the new entry.
 */
import { binaryStringFromBytes, bytesFromBinaryString, copyBytes, type BinaryString } from './bytes.js';
import type { CommandFields } from './command-codec.js';
import { KeyNotFoundError, VersionMismatchError, type KvError } from './errors.js';
import { StoredEntry, type KeyTree } from './key-tree.js';
import type { KvOptions } from './options.js';
import type { LeaseTable } from './leases.js';
import { CommandKind, ResultKind, type ApplyResult, type ErrorResult, type WriteCommand } from './types.js';
import { expiryProblem, keepValueProblem, keyLengthProblem, sessionFieldsProblem, valueLengthProblem } from './validate.js';

/** The value of every empty put: a view of length 0 would still pin its entry's buffer. */
export const EMPTY_VALUE = new Uint8Array(0);

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
export class PendingWrite {
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
  /** Put and update: the lease to attach and the key's own TTL (0: none); the state machine sets expiresAtMs from the TTL. */
  lease = 0;
  keyTtlMs = 0;
  /** The absolute expiry the command gave (0: none); `expiresAtMs` is what the entry gets. */
  keyExpiresAtMs = 0;
  expiresAtMs = 0;
  /** Keep an existing key's lease and expiry (KEEPTTL) / its value (an update that changes only the expiry). */
  keepTtl = false;
  keepValue = false;
  /** The entry's time: a key whose own TTL has passed by then is written as if absent (see liveAt). */
  nowMs = 0;
}

/**
 * The entry as a write at entry time `nowMs` sees it: a key whose own TTL has
 * passed is absent (reads already hide it; the leader's expiry entry deletes
 * it later), so a conditional write or an update treats it as missing and a
 * put re-creates it at version 1, as Redis does with an expired key.
 */
function liveAt(existing: StoredEntry | undefined, nowMs: number): StoredEntry | undefined {
  return existing !== undefined && existing.expiresAtMs !== 0 && existing.expiresAtMs <= nowMs ? undefined : existing;
}

export function errorResult(error: KvError): ErrorResult {
  return { kind: ResultKind.Error, error };
}

/** Turns decoded writes into PendingWrites and applies them to a key tree. */
export class KeyWrites {
  private readonly pending = new PendingWrite();
  /** State of the overwrite in progress, for overwriteExisting (reused: applying is synchronous). */
  private readonly overwrite: {
    revision: number;
    write: PendingWrite | null;
    result: ApplyResult | null;
    /** What editRange is told to store (it reads `value` and keeps only the entry). */
    readonly edit: { value: StoredEntry | undefined };
  } = { revision: 0, write: null, result: null, edit: { value: undefined } };

  constructor(
    private readonly options: KvOptions,
    /** The live lease table (the state machine replaces it on restore). */
    private readonly leases: () => LeaseTable,
  ) {}

  /** A decoded write as a PendingWrite (the reused instance). */
  fromFields(f: CommandFields): PendingWrite {
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
    w.lease = f.lease;
    w.keyTtlMs = f.keyTtlMs;
    w.keyExpiresAtMs = f.keyExpiresAtMs;
    w.expiresAtMs = 0;
    w.keepTtl = f.keepTtl;
    w.keepValue = f.keepValue;
    // Decoded integers are non-negative safe integers, so the conditions are always valid here.
    const isDelete = w.kind === CommandKind.Delete;
    const valueBytes = f.valueEnd - f.valueStart;
    w.problem =
      keyLengthProblem(f.keyEnd - f.keyStart, this.options) ??
      (isDelete ? null : valueLengthProblem(valueBytes, this.options)) ??
      expiryProblem(f.lease, f.keyTtlMs, f.keyExpiresAtMs, f.keepTtl) ??
      keepValueProblem(f.kind, f.keepValue, valueBytes);
    if (w.problem !== null) return w;
    w.key = binaryStringFromBytes(f.bytes, f.keyStart, f.keyEnd);
    w.value = isDelete || valueBytes === 0 ? EMPTY_VALUE : storedValue(f.bytes, f.valueStart, f.valueEnd);
    return w;
  }

  /** Drops the reused write's value, so that it does not keep an entry's buffer alive until the next apply. */
  release(): void {
    this.pending.value = EMPTY_VALUE;
  }

  /**
   * Applies `w` (its session checks already passed). `revision` is the store
   * revision the write takes if it changes the key space (the current one + 1);
   * a failed write or a delete of a missing key changes nothing and reports
   * the current revision, `revision - 1` (see changedKeySpace).
   */
  execute(tree: KeyTree, revision: number, w: PendingWrite): ApplyResult {
    if (w.problem !== null) return errorResult(w.problem);
    const leases = this.leases();
    if (w.kind !== CommandKind.Delete) {
      const leaseProblem = leases.attachProblem(w.lease);
      if (leaseProblem !== null) return errorResult(leaseProblem);
      // An existing key (the common case) is overwritten in one descent of the tree.
      this.overwrite.revision = revision;
      this.overwrite.write = w;
      this.overwrite.result = null;
      tree.editRange(w.key, w.key, true, this.overwriteExisting);
      const result = this.overwrite.result;
      this.overwrite.write = null;
      this.overwrite.edit.value = undefined;
      if (result !== null) return result;
      if (w.kind === CommandKind.Update) return errorResult(new KeyNotFoundError({ key: bytesFromBinaryString(w.key) }));
      if (conditionFails(w, undefined)) return errorResult(versionMismatch(w, undefined));
      const created = new StoredEntry(w.key, w.value, 1, revision, revision, w.lease, w.expiresAtMs);
      tree.set(w.key, created, false);
      leases.replaced(undefined, created);
      return { kind: ResultKind.Write, version: 1, createRevision: revision, modRevision: revision };
    }
    const existing = liveAt(tree.get(w.key), w.nowMs);
    if (conditionFails(w, existing)) return errorResult(versionMismatch(w, existing));
    if (existing === undefined) return { kind: ResultKind.Delete, deleted: false, revision: revision - 1 };
    tree.delete(existing.keyString);
    leases.replaced(existing, undefined);
    return { kind: ResultKind.Delete, deleted: true, revision };
  }

  /**
   * editRange's callback for a put or update of a key that exists: decides the
   * outcome from the existing entry and replaces it. Entries are replaced,
   * never changed in place: a snapshot's clone may still share the old one
   * (editRange copies shared tree nodes on the way down, like set).
   */
  private readonly overwriteExisting = (_key: BinaryString, stored: StoredEntry): { value?: StoredEntry } | undefined => {
    const { write: w, revision } = this.overwrite;
    const existing = liveAt(stored, w!.nowMs);
    if (conditionFails(w!, existing)) {
      this.overwrite.result = errorResult(versionMismatch(w!, existing));
      return undefined;
    }
    if (existing === undefined) {
      // An expired key: an update finds nothing; a put replaces it with a new key.
      if (w!.kind === CommandKind.Update) {
        this.overwrite.result = errorResult(new KeyNotFoundError({ key: bytesFromBinaryString(w!.key) }));
        return undefined;
      }
      const created = new StoredEntry(stored.keyString, w!.value, 1, revision, revision, w!.lease, w!.expiresAtMs);
      this.leases().replaced(stored, created);
      this.overwrite.result = { kind: ResultKind.Write, version: 1, createRevision: revision, modRevision: revision };
      this.overwrite.edit.value = created;
      return this.overwrite.edit;
    }
    // A write without a lease detaches the key from its lease, and one without a TTL clears it (etcd, Redis),
    // unless it keeps them (KEEPTTL); an update that keeps the value changes only the expiry (EXPIRE, PERSIST).
    const keep = w!.keepTtl;
    const entry = new StoredEntry(
      existing.keyString,
      w!.keepValue ? existing.value : w!.value,
      existing.version + 1,
      existing.createRevision,
      revision,
      keep ? existing.lease : w!.lease,
      keep ? existing.expiresAtMs : w!.expiresAtMs,
    );
    this.leases().replaced(existing, entry);
    this.overwrite.result = { kind: ResultKind.Write, version: entry.version, createRevision: entry.createRevision, modRevision: revision };
    this.overwrite.edit.value = entry;
    return this.overwrite.edit;
  };
}

/** Whether a write's result changed the key space (and so took a new store revision). */
export function changedKeySpace(result: ApplyResult): boolean {
  return result.kind === ResultKind.Write || (result.kind === ResultKind.Delete && result.deleted);
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
