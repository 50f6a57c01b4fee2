/**
 * The wire form of `kv.txn` (a multi-key transaction, src/kv/txn-types.ts):
 * its request and response (schemas.ts validates them). Ops and op results
 * are flat objects tagged by `type` (msgpack maps); the member checks the
 * fields each type needs.
 */
import type { Consistency, KeyValue, ResponseHeader, SessionRef } from './types.js';

export type CompareTarget = 'value' | 'version' | 'createRevision' | 'modRevision' | 'lease';
export type CompareOp = '=' | '!=' | '<' | '>';
export type TxnOpType = 'get' | 'scan' | 'put' | 'update' | 'delete' | 'txn' | 'incr';

/** `target op operand` on `key`, or on every existing key of [key, rangeEnd) (rangeEnd [0x00]: every key >= key). */
export interface WireCompare {
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  readonly target: CompareTarget;
  readonly op: CompareOp;
  /** The operand, in the field named after the target. */
  readonly value?: Uint8Array;
  readonly version?: number;
  readonly createRevision?: number;
  readonly modRevision?: number;
  readonly lease?: number;
}

/**
 * One op: get { key }, scan { key, rangeEnd?, limit? }, put / update { key,
 * value }, delete { key, rangeEnd? }, txn { compare, success, failure },
 * incr { key, by, float? } (Redis's INCRBY / INCRBYFLOAT, src/kv/incr.ts).
 */
export interface WireTxnOp {
  readonly type: TxnOpType;
  readonly key?: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  readonly value?: Uint8Array;
  readonly limit?: number;
  /** put / update: the key's expiry, as for kv.put (at most one of lease, ttlMs, expiresAtMs, keepTtl); update also keepValue. */
  readonly lease?: number;
  readonly ttlMs?: number;
  readonly expiresAtMs?: number;
  readonly keepTtl?: boolean;
  readonly keepValue?: boolean;
  /** incr: the delta's text (a decimal int64, or with `float` a float). */
  readonly by?: Uint8Array;
  readonly float?: boolean;
  readonly compare?: readonly WireCompare[];
  readonly success?: readonly WireTxnOp[];
  readonly failure?: readonly WireTxnOp[];
}

export interface TxnRequest {
  readonly compare: readonly WireCompare[];
  readonly success: readonly WireTxnOp[];
  readonly failure: readonly WireTxnOp[];
  /** Required when a branch writes (exactly-once); a read-only transaction is served without the log and needs none. */
  readonly session?: SessionRef;
  /** Read-only transactions only: 'stale' reads the contacted member's state without a ReadIndex. Default linearizable. */
  readonly consistency?: Consistency;
}

/**
 * One op's result: get { kv }, scan { kvs, more }, put / update { version,
 * createRevision, modRevision }, delete { deleted }, txn { succeeded, results },
 * incr { value, version, createRevision, modRevision }.
 */
export interface WireTxnOpResult {
  readonly type: TxnOpType;
  /** incr: the new value. */
  readonly value?: Uint8Array;
  readonly kv?: KeyValue | null;
  readonly kvs?: readonly KeyValue[];
  readonly more?: boolean;
  readonly version?: number;
  readonly createRevision?: number;
  readonly modRevision?: number;
  readonly deleted?: number;
  readonly succeeded?: boolean;
  readonly results?: readonly WireTxnOpResult[];
}

export interface TxnResponse {
  readonly header: ResponseHeader;
  /** Whether every compare held (the success ops ran). */
  readonly succeeded: boolean;
  /** The transaction's revision when it changed a key, else the revision it read. */
  readonly revision: number;
  readonly results: readonly WireTxnOpResult[];
}
