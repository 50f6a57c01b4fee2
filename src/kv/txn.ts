/**
 * Executes transactions on the key tree: compares, then the ops of the branch
 * they select, in order, each seeing the effects of the ones before it (and a
 * nested transaction's compares see them too). All of a transaction's writes
 * take one store revision. Atomic: the writes are applied to the live tree
 * as they go, with an undo log; if an op fails (an update of a missing key,
 * or the result would not fit in the session's saved-result budget), the
 * undo log restores every replaced entry and the transaction changes nothing.
 * Entries are immutable, so restoring the old objects is exact.
 */
import { assert } from '../common/errors.js';
import { binaryStringFromBytes, copyBytes, type BinaryString } from './bytes.js';
import { boundsOf, compareHolds, forEachInBounds, ownTtlPassed } from './compare.js';
import { incrementedValue, parseInt64, parseRedisFloat, textOf } from './incr.js';
import { InvalidCommandError, KeyNotFoundError, KvError, TxnTooLargeError } from './errors.js';
import { StoredEntry, type KeyTree } from './key-tree.js';
import type { KvOptions } from './options.js';
import { TXN_DEPTH_MAX, txnResultBytes } from './txn-codec.js';
import { CompareTarget, TxnOpType, type TxnBody, type TxnCompare, type TxnOp, type TxnOpResult, type TxnResult } from './txn-types.js';
import { ResultKind, type ErrorResult, type KvEntry } from './types.js';
import { expiryProblem, keepValueProblem, keyProblem, sessionProblem, valueProblem } from './validate.js';
import type { TxnCommand } from './txn-types.js';

const compareTargets: ReadonlySet<string> = new Set(Object.values(CompareTarget));
const compareOps: ReadonlySet<string> = new Set(['=', '!=', '<', '>']);
const operandFields = ['value', 'version', 'createRevision', 'modRevision', 'lease'] as const;

/** Up to this many writes, reportReplaced finds each key's first undo record by a scan (quadratic, but tiny) rather than a Map. */
const UNDO_SCANNED_MAX = 8;

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
const invalid = (reason: string): InvalidCommandError => new InvalidCommandError({ reason: `txn: ${reason}` });

/** A key or range field: a single key must be a valid key; a range's key may be empty (from the first key). */
function rangeProblem(range: { key: unknown; rangeEnd?: unknown }, options: KvOptions): KvError | null {
  if (range.rangeEnd === undefined) return keyProblem(range.key as Uint8Array, options);
  if (!(range.key instanceof Uint8Array)) return invalid('key must be bytes');
  if (range.key.length > 0) {
    const problem = keyProblem(range.key, options);
    if (problem) return problem;
  }
  if (!(range.rangeEnd instanceof Uint8Array)) return invalid('rangeEnd must be bytes');
  if (range.rangeEnd.length === 0) return invalid('rangeEnd must not be empty (use [0x00] for "every key from key on")');
  return range.rangeEnd.length > options.keyBytesMax ? keyProblem(range.rangeEnd, options) : null;
}

function compareProblem(c: TxnCompare, options: KvOptions): KvError | null {
  if (typeof c !== 'object' || c === null) return invalid('a compare must be an object');
  if (!compareTargets.has(c.target)) return invalid(`unknown compare target ${String(c.target)}`);
  if (!compareOps.has(c.op)) return invalid(`unknown compare op ${String(c.op)} (use =, !=, < or >)`);
  for (const field of operandFields) {
    const value = c[field];
    if (field !== c.target) {
      if (value !== undefined) return invalid(`a ${c.target} compare carries ${field}`);
      continue;
    }
    if (field === 'value' ? !(value instanceof Uint8Array) : !isCount(value)) {
      return invalid(`a ${c.target} compare needs ${field === 'value' ? 'value bytes' : `${field}, an integer >= 0`}`);
    }
  }
  if (c.target === CompareTarget.Value) {
    const problem = valueProblem(c.value!, options);
    if (problem) return problem;
  }
  return rangeProblem(c, options);
}

/**
 * The first problem with a transaction (shape, limits, counts), or null. The
 * encoded size (txnBytesMax) is checked on the entry's bytes by the caller.
 */
export function txnProblem(command: TxnCommand, options: KvOptions): KvError | null {
  const counted = { n: 0 };
  return sessionProblem(command.session) ?? bodyProblem(command, options, 1, counted);
}

function bodyProblem(body: TxnBody, options: KvOptions, depth: number, counted: { n: number }): KvError | null {
  if (depth > TXN_DEPTH_MAX) return new TxnTooLargeError({ limit: 'txnDepthMax', max: TXN_DEPTH_MAX, actual: depth });
  if (typeof body !== 'object' || body === null) return invalid('a transaction must be an object');
  const { compare, success, failure } = body;
  if (!Array.isArray(compare) || !Array.isArray(success) || !Array.isArray(failure)) {
    return invalid('compare, success and failure must be arrays');
  }
  counted.n += compare.length + success.length + failure.length;
  if (counted.n > options.txnOpsMax) return new TxnTooLargeError({ limit: 'txnOpsMax', max: options.txnOpsMax, actual: counted.n });
  for (const c of compare) {
    const problem = compareProblem(c, options);
    if (problem) return problem;
  }
  for (const branch of [success, failure]) {
    for (const op of branch) {
      const problem = opProblem(op, options, depth, counted);
      if (problem) return problem;
    }
  }
  return null;
}

function opProblem(op: TxnOp, options: KvOptions, depth: number, counted: { n: number }): KvError | null {
  if (typeof op !== 'object' || op === null) return invalid('an op must be an object');
  switch (op.type) {
    case TxnOpType.Get:
      return keyProblem(op.key, options);
    case TxnOpType.Scan:
      if (op.limit !== undefined && (!isCount(op.limit) || op.limit < 1 || op.limit > options.scanLimitMax)) {
        return invalid(`scan limit must be an integer in [1, ${options.scanLimitMax}]`);
      }
      return rangeProblem(op, options);
    case TxnOpType.Put:
    case TxnOpType.Update:
      return (
        keyProblem(op.key, options) ??
        valueProblem(op.value, options) ??
        expiryProblem(op.lease ?? 0, op.ttlMs ?? 0, op.expiresAtMs ?? 0, op.keepTtl ?? false) ??
        keepValueProblem(op.type, op.type === TxnOpType.Update ? op.keepValue : undefined, op.value.length)
      );
    case TxnOpType.Delete:
      return rangeProblem(op, options);
    case TxnOpType.Txn:
      return bodyProblem(op, options, depth + 1, counted);
    case TxnOpType.Incr:
      if (!(op.by instanceof Uint8Array)) return invalid('an incr op needs by, the delta as bytes');
      if ((op.float === true ? parseRedisFloat(textOf(op.by)) : parseInt64(textOf(op.by))) === null) {
        return invalid(`incr by must be ${op.float === true ? 'a float' : 'a decimal int64'}`);
      }
      return keyProblem(op.key, options);
    default:
      return invalid(`unknown op type ${String((op as { type: unknown }).type)}`);
  }
}

/** The problem with a transaction entry of `entryBytes` bytes, or null. */
export function txnBytesProblem(entryBytes: number, options: KvOptions): KvError | null {
  return entryBytes > options.txnBytesMax ? new TxnTooLargeError({ limit: 'txnBytesMax', max: options.txnBytesMax, actual: entryBytes }) : null;
}

/** Runs validated transactions against a key tree (one instance per state machine; applying is synchronous). */
export class TxnExecutor {
  /** (key, entry it replaced or undefined when it was absent), in the order of the writes. */
  private readonly undo: [BinaryString, StoredEntry | undefined][] = [];
  private tree: KeyTree | null = null;
  private revision = 0;
  /** The entry's time: a put's relative TTL runs from it. */
  private clockMs = 0;
  /** Whether an entry reads as absent (its own TTL passed by the entry's time; on the read path, its lease too). */
  private hidden: (entry: StoredEntry) => boolean = () => false;

  constructor(
    private readonly options: KvOptions,
    /** Told, once per key a committed transaction changed, its entry before and after (the lease table's indexes). */
    private readonly onReplaced: (previous: StoredEntry | undefined, next: StoredEntry | undefined) => void = () => {},
    /** The problem with attaching a write to a lease (LeaseNotFoundError), or null: the lease table's attachProblem. */
    private readonly leaseProblem: (leaseId: number) => KvError | null = () => null,
  ) {}

  /**
   * Runs `body` on `tree`. `revision` is the one its writes take (the current
   * revision + 1). `resultBytesMax` bounds the encoded result (a session's
   * remaining budget; Infinity without one). `clockMs`: the entry's time (a put's
   * ttlMs runs from it; a key whose own TTL has passed by then is absent to every
   * compare, read and write). `hidden`, for a read-only transaction served off the
   * log, says which entries the reader no longer sees (lease or TTL expired by its
   * clock), as plain reads hide them. Returns the result and whether it changed
   * the key space, or an error result with nothing changed.
   */
  run(
    tree: KeyTree,
    revision: number,
    body: TxnBody,
    resultBytesMax: number,
    readOnly = false,
    clockMs = 0,
    hidden: (entry: StoredEntry) => boolean = (entry) => ownTtlPassed(entry, clockMs),
  ): { result: TxnResult | ErrorResult; changed: boolean; resultBytes: number } {
    this.tree = tree;
    this.revision = revision;
    this.clockMs = clockMs;
    this.hidden = hidden;
    try {
      const succeeded = body.compare.every((c) => compareHolds(tree, c, hidden));
      const results = this.runOps(succeeded ? body.success : body.failure, readOnly);
      const changed = this.undo.length > 0;
      const result: TxnResult = { kind: ResultKind.Txn, succeeded, results, revision: changed ? revision : revision - 1 };
      let bytes = 0;
      if (resultBytesMax !== Infinity) {
        bytes = txnResultBytes(result);
        if (bytes > resultBytesMax) {
          this.rollback();
          const { sessionResultBytesMax } = this.options;
          const error = new TxnTooLargeError({ limit: 'sessionResultBytesMax', max: sessionResultBytesMax, actual: sessionResultBytesMax - resultBytesMax + bytes });
          return { result: { kind: ResultKind.Error, error }, changed: false, resultBytes: 0 };
        }
      }
      if (changed) this.reportReplaced(tree);
      this.undo.length = 0;
      return { result, changed, resultBytes: bytes };
    } catch (err) {
      if (!(err instanceof KvError)) throw err;
      this.rollback();
      return { result: { kind: ResultKind.Error, error: err }, changed: false, resultBytes: 0 };
    } finally {
      this.tree = null;
      this.hidden = () => false;
    }
  }

  /** Each changed key's entry before the transaction (its first undo record) and after it. */
  private reportReplaced(tree: KeyTree): void {
    const undo = this.undo;
    if (undo.length <= UNDO_SCANNED_MAX) {
      // A few writes (the common transaction): a key's first record found by a scan, no Map per transaction.
      for (let i = 0; i < undo.length; i++) {
        const [key, previous] = undo[i]!;
        let first = true;
        for (let j = 0; j < i && first; j++) first = undo[j]![0] !== key;
        if (first) this.onReplaced(previous, tree.get(key));
      }
      return;
    }
    const before = new Map<BinaryString, StoredEntry | undefined>();
    for (const [key, previous] of this.undo) if (!before.has(key)) before.set(key, previous);
    for (const [key, previous] of before) this.onReplaced(previous, tree.get(key));
  }

  private rollback(): void {
    const tree = this.tree!;
    for (let i = this.undo.length - 1; i >= 0; i--) {
      const [key, previous] = this.undo[i]!;
      if (previous === undefined) tree.delete(key);
      else tree.set(key, previous);
    }
    this.undo.length = 0;
  }

  private runOps(ops: readonly TxnOp[], readOnly: boolean): TxnOpResult[] {
    const tree = this.tree!;
    const out: TxnOpResult[] = [];
    for (const op of ops) {
      switch (op.type) {
        case TxnOpType.Get: {
          const entry = tree.get(binaryStringFromBytes(op.key));
          out.push({ type: op.type, kv: entry === undefined || this.hidden(entry) ? null : entry });
          break;
        }
        case TxnOpType.Scan:
          out.push(this.scan(op.key, op.rangeEnd, op.limit ?? this.options.scanLimitMax));
          break;
        case TxnOpType.Put:
        case TxnOpType.Update: {
          assert(!readOnly, 'a read-only transaction holds a write');
          const key = binaryStringFromBytes(op.key);
          const stored = tree.get(key);
          // A key whose own TTL has passed by the entry's time is written as if absent (key-writes.ts liveAt).
          const existing = stored !== undefined && this.hidden(stored) ? undefined : stored;
          // A copy: the key may be a view into the entry, and a saved error must not pin it.
          if (existing === undefined && op.type === TxnOpType.Update) throw new KeyNotFoundError({ key: copyBytes(op.key) });
          // Thrown: the undo log takes back the ops before it (a single put with an unknown lease changes nothing either).
          const leaseProblem = this.leaseProblem(op.lease ?? 0);
          if (leaseProblem !== null) throw leaseProblem;
          // No expiry given clears the key's lease and TTL (as a single put); keepTtl keeps both.
          const keep = op.keepTtl === true && existing !== undefined;
          const expiresAtMs = keep ? existing.expiresAtMs : (op.ttlMs ?? 0) !== 0 ? this.clockMs + op.ttlMs! : (op.expiresAtMs ?? 0);
          const lease = keep ? existing.lease : (op.lease ?? 0);
          const value = op.type === TxnOpType.Update && op.keepValue === true ? existing!.value : op.value;
          const entry =
            existing === undefined
              ? new StoredEntry(key, value, 1, this.revision, this.revision, op.lease ?? 0, expiresAtMs)
              : new StoredEntry(key, value, existing.version + 1, existing.createRevision, this.revision, lease, expiresAtMs);
          this.undo.push([key, stored]);
          tree.set(key, entry);
          out.push({ type: op.type, version: entry.version, createRevision: entry.createRevision, modRevision: entry.modRevision });
          break;
        }
        case TxnOpType.Delete: {
          assert(!readOnly, 'a read-only transaction holds a write');
          const doomed: StoredEntry[] = [];
          forEachInBounds(tree, boundsOf(op), (entry) => doomed.push(entry) > 0);
          for (const entry of doomed) {
            this.undo.push([entry.keyString, entry]);
            tree.delete(entry.keyString);
          }
          // Keys whose own TTL had passed are deleted too, but were not there to delete (Redis's DEL count).
          out.push({ type: op.type, deleted: doomed.filter((entry) => !this.hidden(entry)).length });
          break;
        }
        case TxnOpType.Incr:
          assert(!readOnly, 'a read-only transaction holds a write');
          out.push(this.incr(op.key, op.by, op.float === true));
          break;
        case TxnOpType.Txn: {
          const succeeded = op.compare.every((c) => compareHolds(tree, c, this.hidden));
          out.push({ type: op.type, succeeded, results: this.runOps(succeeded ? op.success : op.failure, readOnly) });
          break;
        }
      }
    }
    return out;
  }

  /** The incr op: the new value replaces the old one; the key keeps its lease and TTL (as Redis's INCR keeps the TTL). */
  private incr(keyBytes: Uint8Array, by: Uint8Array, float: boolean): TxnOpResult {
    const tree = this.tree!;
    const key = binaryStringFromBytes(keyBytes);
    const stored = tree.get(key);
    const existing = stored !== undefined && this.hidden(stored) ? undefined : stored;
    const value = incrementedValue(existing?.value, by, float, copyBytes(keyBytes));
    const entry =
      existing === undefined
        ? new StoredEntry(key, value, 1, this.revision, this.revision, 0, 0)
        : new StoredEntry(key, value, existing.version + 1, existing.createRevision, this.revision, existing.lease, existing.expiresAtMs);
    this.undo.push([key, stored]);
    tree.set(key, entry);
    return { type: TxnOpType.Incr, value, version: entry.version, createRevision: entry.createRevision, modRevision: entry.modRevision };
  }

  /** Up to `limit` keys of the range and at most scanBytesMax bytes of them (at least one); `more` when keys remain. */
  private scan(key: Uint8Array, rangeEnd: Uint8Array | undefined, limit: number): TxnOpResult {
    const kvs: KvEntry[] = [];
    let bytes = 0;
    let more = false;
    const bytesMax = this.options.scanBytesMax;
    forEachInBounds(this.tree!, boundsOf(rangeEnd === undefined ? { key } : { key, rangeEnd }), (entry) => {
      // An expired key is not there (as a plain scan skips it); it does not count against the limit.
      if (this.hidden(entry)) return true;
      if (kvs.length >= limit || bytes >= bytesMax) {
        more = true;
        return false;
      }
      kvs.push(entry);
      bytes += entry.keyString.length + entry.value.length;
      return true;
    });
    return { type: TxnOpType.Scan, kvs, more };
  }
}
