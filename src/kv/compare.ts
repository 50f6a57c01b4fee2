/**
 * Transaction compares, with etcd's semantics: a compare on one key reads
 * that key; a compare on a range holds when it holds for every key that
 * exists in the range. A missing key, and a range without keys, compare as a
 * key whose version, createRevision, modRevision and lease are 0, except
 * that a `value` compare on them is false (a missing value is not the empty
 * value). Values compare in unsigned byte order.
 */
import { binaryStringFromBytes, compareBinaryStrings, compareBytes, type BinaryString } from './bytes.js';
import type { KeyTree, StoredEntry } from './key-tree.js';
import { isFromKey } from './auth-validate.js';
import { CompareOp, CompareTarget, type TxnCompare } from './txn-types.js';
import type { PermissionRange } from './auth-types.js';

/** A range as binary-string bounds: [low, high), high null for "no upper bound"; `single` for the key alone. */
export interface KeyBounds {
  readonly low: BinaryString;
  readonly high: BinaryString | null;
  readonly single: boolean;
}

export function boundsOf(range: PermissionRange): KeyBounds {
  const low = binaryStringFromBytes(range.key);
  if (range.rangeEnd === undefined) return { low, high: null, single: true };
  if (isFromKey(range.rangeEnd)) return { low, high: null, single: false };
  return { low, high: binaryStringFromBytes(range.rangeEnd), single: false };
}

/** Calls `visit` for each existing key of `bounds` in key order until it returns false. */
export function forEachInBounds(tree: KeyTree, bounds: KeyBounds, visit: (entry: StoredEntry) => boolean): void {
  if (bounds.single) {
    const entry = tree.get(bounds.low);
    if (entry !== undefined) visit(entry);
    return;
  }
  const { low, high } = bounds;
  if (high !== null && compareBinaryStrings(low, high) >= 0) return;
  for (const entry of tree.values(low)) {
    if (high !== null && compareBinaryStrings(entry.keyString, high) >= 0) return;
    if (!visit(entry)) return;
  }
}

function holds(op: CompareOp, order: number): boolean {
  switch (op) {
    case CompareOp.Equal:
      return order === 0;
    case CompareOp.NotEqual:
      return order !== 0;
    case CompareOp.Less:
      return order < 0;
    case CompareOp.Greater:
      return order > 0;
  }
}

/** The number a compare of `target` reads from `entry` (undefined: a missing key, all zero). */
function numberOf(target: CompareTarget, entry: StoredEntry | undefined): number {
  if (entry === undefined) return 0;
  switch (target) {
    case CompareTarget.Version:
      return entry.version;
    case CompareTarget.CreateRevision:
      return entry.createRevision;
    case CompareTarget.ModRevision:
      return entry.modRevision;
    default:
      return entry.lease;
  }
}

/** The operand of a (validated) compare: the field named after its target. */
export function compareOperand(c: TxnCompare): number | Uint8Array {
  switch (c.target) {
    case CompareTarget.Value:
      return c.value!;
    case CompareTarget.Version:
      return c.version!;
    case CompareTarget.CreateRevision:
      return c.createRevision!;
    case CompareTarget.ModRevision:
      return c.modRevision!;
    default:
      return c.lease!;
  }
}

/** Whether `c` holds for one key's entry (undefined: the key is missing). */
export function compareEntry(c: TxnCompare, entry: StoredEntry | undefined): boolean {
  if (c.target === CompareTarget.Value) {
    if (entry === undefined) return false;
    return holds(c.op, compareBytes(entry.value, c.value!));
  }
  const actual = numberOf(c.target, entry);
  const wanted = compareOperand(c) as number;
  return holds(c.op, actual < wanted ? -1 : actual > wanted ? 1 : 0);
}

/** Whether a key's own TTL has passed by entry time `nowMs` (0: no time given, nothing has). */
export function ownTtlPassed(entry: StoredEntry, nowMs: number): boolean {
  return nowMs > 0 && entry.expiresAtMs !== 0 && entry.expiresAtMs <= nowMs;
}

/**
 * Whether `c` holds in `tree` (every existing key of its range; a missing key or an empty range as
 * described above). An entry `hidden` says is gone (its own TTL passed by the transaction's entry
 * time; on the read path, its lease or TTL by the reader's clock) is missing, as reads and writes see it.
 */
export function compareHolds(tree: KeyTree, c: TxnCompare, hidden: (entry: StoredEntry) => boolean = () => false): boolean {
  let seen = false;
  let ok = true;
  forEachInBounds(tree, boundsOf(c), (entry) => {
    if (hidden(entry)) return true;
    seen = true;
    ok = compareEntry(c, entry);
    return ok;
  });
  return seen ? ok : compareEntry(c, undefined);
}
