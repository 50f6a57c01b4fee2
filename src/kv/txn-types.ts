/**
 * The data model of multi-key transactions (etcd's Txn): compares, the ops of
 * the success and failure branches, and their results. A transaction is one
 * log entry and takes one store revision, whatever its number of writes.
 *
 * Key ranges follow etcd's (and the permissions') key/rangeEnd convention:
 * `rangeEnd` absent is the key alone; `rangeEnd` [0x00] is every key >= key;
 * otherwise the keys in [key, rangeEnd). `prefixPermissionRange` turns a
 * prefix into such a range.
 */
import type { PermissionRange } from './auth-types.js';
import type { KvEntry, SessionRef } from './types.js';

/** What a compare reads from each key. */
export const CompareTarget = {
  Value: 'value',
  Version: 'version',
  CreateRevision: 'createRevision',
  ModRevision: 'modRevision',
  Lease: 'lease',
} as const;
export type CompareTarget = (typeof CompareTarget)[keyof typeof CompareTarget];

export const CompareOp = { Equal: '=', NotEqual: '!=', Less: '<', Greater: '>' } as const;
export type CompareOp = (typeof CompareOp)[keyof typeof CompareOp];

/**
 * `target op operand` on one key, or on every existing key of a range (all
 * must hold). The operand is the field named after the target (etcd's
 * Compare): `value` (bytes, unsigned byte order) for target 'value', else the
 * number. A missing key (or a range without keys) compares as version 0,
 * createRevision 0, modRevision 0, lease 0; a `value` compare on it is false.
 */
export interface TxnCompare extends PermissionRange {
  readonly target: CompareTarget;
  readonly op: CompareOp;
  readonly value?: Uint8Array;
  readonly version?: number;
  readonly createRevision?: number;
  readonly modRevision?: number;
  readonly lease?: number;
}

export const TxnOpType = { Get: 'get', Scan: 'scan', Put: 'put', Update: 'update', Delete: 'delete', Txn: 'txn', Incr: 'incr' } as const;
export type TxnOpType = (typeof TxnOpType)[keyof typeof TxnOpType];

export interface TxnGetOp {
  readonly type: typeof TxnOpType.Get;
  readonly key: Uint8Array;
}
/** Keys of a range in key order, at most `limit` (default and cap: scanLimitMax) and scanBytesMax bytes. */
export interface TxnScanOp extends PermissionRange {
  readonly type: typeof TxnOpType.Scan;
  readonly limit?: number;
}
/**
 * A put's or update's expiry (as a single write's, types.ts ExpiryOptions): none of them detaches
 * the key from its lease and clears its TTL; at most one may be given. An unknown lease fails the
 * whole transaction (LeaseNotFoundError, nothing applied).
 */
export interface TxnExpiry {
  readonly lease?: number;
  readonly ttlMs?: number;
  readonly expiresAtMs?: number;
  readonly keepTtl?: boolean;
}
export interface TxnPutOp extends TxnExpiry {
  readonly type: typeof TxnOpType.Put;
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}
/** Overwrites an existing key; a missing key fails the whole transaction (KeyNotFoundError, nothing applied). */
export interface TxnUpdateOp extends TxnExpiry {
  readonly type: typeof TxnOpType.Update;
  readonly key: Uint8Array;
  /** Empty with `keepValue`: the key keeps its value and only its expiry changes. */
  readonly value: Uint8Array;
  readonly keepValue?: boolean;
}
/** Deletes a key or every key of a range. */
export interface TxnDeleteOp extends PermissionRange {
  readonly type: typeof TxnOpType.Delete;
}
/**
 * Adds `by` to the number the key holds (Redis's INCRBY, or with `float`
 * INCRBYFLOAT; incr.ts has the rules), decided when the entry applies: a
 * missing key counts as 0; the key keeps its lease and TTL. `by` is the
 * delta's text (an int64 in Redis's form, or a float). A value that is not a
 * number, or a result out of range, fails the whole transaction.
 */
export interface TxnIncrOp {
  readonly type: typeof TxnOpType.Incr;
  readonly key: Uint8Array;
  readonly by: Uint8Array;
  readonly float?: boolean;
}
/** A nested transaction: its compares are evaluated when it is reached, against the state at that point. */
export interface TxnNestedOp extends TxnBody {
  readonly type: typeof TxnOpType.Txn;
}
export type TxnOp = TxnGetOp | TxnScanOp | TxnPutOp | TxnUpdateOp | TxnDeleteOp | TxnNestedOp | TxnIncrOp;

/** If every compare holds, the success ops run in order; else the failure ops. */
export interface TxnBody {
  readonly compare: readonly TxnCompare[];
  readonly success: readonly TxnOp[];
  readonly failure: readonly TxnOp[];
}

/** The command of one transaction, as it travels through the log. */
export interface TxnCommand extends TxnBody {
  readonly kind: 'txn';
  /** Absent: no exactly-once guarantee (a read-only transaction never needs one). */
  readonly session?: SessionRef;
}

export type TxnOpResult =
  | { readonly type: typeof TxnOpType.Get; readonly kv: KvEntry | null }
  | { readonly type: typeof TxnOpType.Scan; readonly kvs: readonly KvEntry[]; readonly more: boolean }
  | {
      readonly type: typeof TxnOpType.Put | typeof TxnOpType.Update;
      readonly version: number;
      readonly createRevision: number;
      readonly modRevision: number;
    }
  | { readonly type: typeof TxnOpType.Delete; readonly deleted: number }
  | {
      readonly type: typeof TxnOpType.Incr;
      /** The new value (its text). */
      readonly value: Uint8Array;
      readonly version: number;
      readonly createRevision: number;
      readonly modRevision: number;
    }
  | { readonly type: typeof TxnOpType.Txn; readonly succeeded: boolean; readonly results: readonly TxnOpResult[] };

/** The outcome of a transaction. */
export interface TxnResult {
  readonly kind: 'txn';
  /** Whether every compare held (the success branch ran). */
  readonly succeeded: boolean;
  /** One per op of the branch that ran, in order. */
  readonly results: readonly TxnOpResult[];
  /** The transaction's store revision when it changed a key; else the current revision it read. */
  readonly revision: number;
}

/** Whether a transaction body (its branches, nested ones included) holds no write: it may be served as a read. */
export function isReadOnlyTxn(body: TxnBody): boolean {
  const readOnly = (ops: readonly TxnOp[]): boolean =>
    ops.every((op) => op.type === TxnOpType.Get || op.type === TxnOpType.Scan || (op.type === TxnOpType.Txn && isReadOnlyTxn(op)));
  return readOnly(body.success) && readOnly(body.failure);
}
