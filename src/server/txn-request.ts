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

function required(op: WireTxnOp, field: 'key' | 'value', where: string): Uint8Array {
  const value = op[field];
  if (value === undefined) throw invalidRequest(`txn: a ${op.type} op needs ${field} (${where})`, `missing ${field}`);
  return plainBytes(value);
}

function range(op: { key?: Uint8Array; rangeEnd?: Uint8Array }): { key: Uint8Array; rangeEnd?: Uint8Array } {
  const key = plainBytes(op.key!);
  return op.rangeEnd === undefined ? { key } : { key, rangeEnd: plainBytes(op.rangeEnd) };
}

function compareFromWire(c: WireCompare): TxnCompare {
  const out: Record<string, unknown> = { ...range(c), target: c.target, op: c.op };
  for (const field of ['version', 'createRevision', 'modRevision', 'lease'] as const) if (c[field] !== undefined) out[field] = c[field];
  if (c.value !== undefined) out.value = plainBytes(c.value);
  return out as unknown as TxnCompare;
}

function opFromWire(op: WireTxnOp, where: string): TxnOp {
  switch (op.type) {
    case TxnOpType.Get:
      return { type: op.type, key: required(op, 'key', where) };
    case TxnOpType.Scan:
      required(op, 'key', where);
      return { type: op.type, ...range(op), ...(op.limit !== undefined ? { limit: op.limit } : {}) };
    case TxnOpType.Put:
    case TxnOpType.Update:
      return { type: op.type, key: required(op, 'key', where), value: required(op, 'value', where) };
    case TxnOpType.Delete:
      required(op, 'key', where);
      return { type: op.type, ...range(op) };
    case TxnOpType.Txn:
      return { type: op.type, ...bodyFromWire({ compare: op.compare ?? [], success: op.success ?? [], failure: op.failure ?? [] }, where) };
  }
}

function bodyFromWire(body: { compare: readonly WireCompare[]; success: readonly WireTxnOp[]; failure: readonly WireTxnOp[] }, where: string): TxnBody {
  return {
    compare: body.compare.map(compareFromWire),
    success: body.success.map((op, i) => opFromWire(op, `${where}.success[${i}]`)),
    failure: body.failure.map((op, i) => opFromWire(op, `${where}.failure[${i}]`)),
  };
}

/** The request's transaction as the state machine takes it; InvalidRequest for an op missing a field its type needs. */
export function txnFromWire(request: TxnRequest): TxnBody {
  return bodyFromWire(request, 'txn');
}

export function toKeyValue(entry: KvEntry): KeyValue {
  return {
    key: entry.key,
    value: entry.value,
    version: entry.version,
    createRevision: entry.createRevision,
    modRevision: entry.modRevision,
  };
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
    case TxnOpType.Txn:
      return { type: result.type, succeeded: result.succeeded, results: result.results.map(resultToWire) };
  }
}

export function txnResponse(header: ResponseHeader, result: TxnResult): TxnResponse {
  return { header, succeeded: result.succeeded, revision: result.revision, results: result.results.map(resultToWire) };
}
