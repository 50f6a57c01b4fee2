/**
 * `kv.txn` between the wire and the state machine: a request's flat, tagged
 * ops become the state machine's typed transaction (each type's fields
 * checked, bytes made plain), and a transaction's result becomes the wire's
 * response shape.
 */
import {
  TxnOpType,
  type KvEntry,
  type TxnBody,
  type TxnCompare,
  type TxnOp,
  type TxnOpResult,
  type TxnResult,
} from '../kv/index.js';
import type { KeyValue, ResponseHeader, TxnRequest, TxnResponse, WireCompare, WireTxnOp, WireTxnOpResult } from '../protocol/index.js';
import { plainBytes } from './bytes.js';
import { invalidRequest } from './errors.js';

function required(op: WireTxnOp, field: 'key' | 'value' | 'by', where: () => string): Uint8Array {
  const value = op[field];
  if (value === undefined) throw invalidRequest(`txn: a ${op.type} op needs ${field} (${where()})`, `missing ${field}`);
  return plainBytes(value);
}

/** One object literal per shape (no spreads): this runs for every transaction. */
function compareFromWire(c: WireCompare): TxnCompare {
  const out: { key: Uint8Array; rangeEnd?: Uint8Array; target: WireCompare['target']; op: WireCompare['op']; [operand: string]: unknown } = {
    key: plainBytes(c.key),
    target: c.target,
    op: c.op,
  };
  if (c.rangeEnd !== undefined) out.rangeEnd = plainBytes(c.rangeEnd);
  if (c.value !== undefined) out.value = plainBytes(c.value);
  if (c.version !== undefined) out.version = c.version;
  if (c.createRevision !== undefined) out.createRevision = c.createRevision;
  if (c.modRevision !== undefined) out.modRevision = c.modRevision;
  if (c.lease !== undefined) out.lease = c.lease;
  return out as unknown as TxnCompare;
}

function opFromWire(op: WireTxnOp, where: () => string): TxnOp {
  switch (op.type) {
    case TxnOpType.Get:
      return { type: op.type, key: required(op, 'key', where) };
    case TxnOpType.Put:
    case TxnOpType.Update: {
      const out: { type: typeof op.type; key: Uint8Array; value: Uint8Array; lease?: number; ttlMs?: number; expiresAtMs?: number; keepTtl?: boolean; keepValue?: boolean } = {
        type: op.type,
        key: required(op, 'key', where),
        value: required(op, 'value', where),
      };
      if (op.lease !== undefined && op.lease !== 0) out.lease = op.lease;
      if (op.ttlMs !== undefined && op.ttlMs !== 0) out.ttlMs = op.ttlMs;
      if (op.expiresAtMs !== undefined && op.expiresAtMs !== 0) out.expiresAtMs = op.expiresAtMs;
      if (op.keepTtl === true) out.keepTtl = true;
      if (op.keepValue === true && op.type === TxnOpType.Update) out.keepValue = true;
      return out;
    }
    case TxnOpType.Scan: {
      const out: { type: typeof op.type; key: Uint8Array; rangeEnd?: Uint8Array; limit?: number } = { type: op.type, key: required(op, 'key', where) };
      if (op.rangeEnd !== undefined) out.rangeEnd = plainBytes(op.rangeEnd);
      if (op.limit !== undefined) out.limit = op.limit;
      return out;
    }
    case TxnOpType.Delete: {
      const key = required(op, 'key', where);
      return op.rangeEnd === undefined ? { type: op.type, key } : { type: op.type, key, rangeEnd: plainBytes(op.rangeEnd) };
    }
    case TxnOpType.Incr: {
      const key = required(op, 'key', where);
      const by = required(op, 'by', where);
      return op.float === true ? { type: op.type, key, by, float: true } : { type: op.type, key, by };
    }
    case TxnOpType.Txn: {
      const body = bodyFromWire({ compare: op.compare ?? [], success: op.success ?? [], failure: op.failure ?? [] }, where);
      return { type: op.type, compare: body.compare, success: body.success, failure: body.failure };
    }
  }
}

function bodyFromWire(body: { compare: readonly WireCompare[]; success: readonly WireTxnOp[]; failure: readonly WireTxnOp[] }, where: () => string): TxnBody {
  return {
    compare: body.compare.map(compareFromWire),
    success: body.success.map((op, i) => opFromWire(op, () => `${where()}.success[${i}]`)),
    failure: body.failure.map((op, i) => opFromWire(op, () => `${where()}.failure[${i}]`)),
  };
}

/** The request's transaction as the state machine takes it; InvalidRequest for an op missing a field its type needs. */
export function txnFromWire(request: TxnRequest): TxnBody {
  return bodyFromWire(request, () => 'txn');
}

export function toKeyValue(entry: KvEntry): KeyValue {
  const lease = entry.lease ?? 0;
  const expiresAtMs = entry.expiresAtMs ?? 0;
  // The lease and expiry only on a key that has one: other keys' answers stay as they were (and as older members send them).
  if (lease === 0 && expiresAtMs === 0) {
    return { key: entry.key, value: entry.value, version: entry.version, createRevision: entry.createRevision, modRevision: entry.modRevision };
  }
  const out: { key: Uint8Array; value: Uint8Array; version: number; createRevision: number; modRevision: number; lease?: number; expiresAtMs?: number } = {
    key: entry.key,
    value: entry.value,
    version: entry.version,
    createRevision: entry.createRevision,
    modRevision: entry.modRevision,
  };
  if (lease !== 0) out.lease = lease;
  if (expiresAtMs !== 0) out.expiresAtMs = expiresAtMs;
  return out;
}

function resultToWire(result: TxnOpResult): WireTxnOpResult {
  switch (result.type) {
    case TxnOpType.Get:
      return { type: result.type, kv: result.kv === null ? null : toKeyValue(result.kv) };
    case TxnOpType.Scan:
      return { type: result.type, kvs: result.kvs.map(toKeyValue), more: result.more };
    case TxnOpType.Put:
    case TxnOpType.Update:
      return { type: result.type, version: result.version, createRevision: result.createRevision, modRevision: result.modRevision };
    case TxnOpType.Delete:
      return { type: result.type, deleted: result.deleted };
    case TxnOpType.Incr:
      return { type: result.type, value: result.value, version: result.version, createRevision: result.createRevision, modRevision: result.modRevision };
    case TxnOpType.Txn:
      return { type: result.type, succeeded: result.succeeded, results: result.results.map(resultToWire) };
  }
}

export function txnResponse(header: ResponseHeader, result: TxnResult): TxnResponse {
  return { header, succeeded: result.succeeded, revision: result.revision, results: result.results.map(resultToWire) };
}
