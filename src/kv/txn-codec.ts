/**
 * Bytes of a transaction: its body inside a log entry (command-codec.ts frames
 * it), and its result, saved in a session and so in snapshots.
 *
 *   body    := varint n, n x compare | varint n, n x op (success) | varint n, n x op (failure)
 *   compare := u8 target | u8 op | u8 flags (bit 0 rangeEnd) | bytes key | [bytes rangeEnd]
 *              | operand (bytes for target value, else varint)
 *   op      := u8 type, then get: bytes key; scan: u8 flags (bit 0 rangeEnd, bit 1 limit),
 *              bytes key, [bytes rangeEnd], [varint limit]; put, update: bytes key, bytes value;
 *              delete: u8 flags (bit 0 rangeEnd), bytes key, [bytes rangeEnd]; txn: body
 *   result  := u8 succeeded | varint revision | results
 *   results := varint n, n x (u8 type, then get: u8 present, [kv]; scan: u8 more, varint n,
 *              n x kv; put, update: varint version, createRevision, modRevision;
 *              delete: varint deleted; txn: u8 succeeded, results)
 *   kv      := bytes key, bytes value, varint version, createRevision, modRevision, lease
 *
 * Decoded keys and values are copies: a stored value must never pin a log
 * entry's or a network frame's buffer. Nesting is bounded by TXN_DEPTH_MAX
 * while decoding, so a hostile entry cannot exhaust the stack.
 */
import { varintBytes } from '../common/varint.js';
import { ByteReader, ByteWriter } from './bytes.js';
import type { KvEntry } from './types.js';
import { CompareOp, CompareTarget, TxnOpType, type TxnBody, type TxnCompare, type TxnOp, type TxnOpResult, type TxnResult } from './txn-types.js';

/** Deepest nesting of transactions inside transactions (the top level is depth 1). */
export const TXN_DEPTH_MAX = 32;

const targets: readonly CompareTarget[] = [CompareTarget.Value, CompareTarget.Version, CompareTarget.CreateRevision, CompareTarget.ModRevision, CompareTarget.Lease];
const ops: readonly CompareOp[] = [CompareOp.Equal, CompareOp.NotEqual, CompareOp.Less, CompareOp.Greater];
const types: readonly TxnOpType[] = [TxnOpType.Get, TxnOpType.Scan, TxnOpType.Put, TxnOpType.Update, TxnOpType.Delete, TxnOpType.Txn];
const RANGE_END = 1;
const LIMIT = 2;

type Fail = (reason: string) => never;

/** An integer field: a non-negative safe integer, or the encoding refuses the command (never writes a wrong number). */
function uint(w: ByteWriter, value: number | undefined): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new TypeError(`integer field ${String(value)} is not a non-negative safe integer`);
  w.varint(value);
}

// ---------------------------------------------------------------- body

export function writeTxnBody(w: ByteWriter, body: TxnBody): void {
  w.varint(body.compare.length);
  for (const c of body.compare) writeCompare(w, c);
  writeOps(w, body.success);
  writeOps(w, body.failure);
}

function writeCompare(w: ByteWriter, c: TxnCompare): void {
  w.u8(targets.indexOf(c.target));
  w.u8(ops.indexOf(c.op));
  w.u8(c.rangeEnd !== undefined ? RANGE_END : 0);
  w.bytes(c.key);
  if (c.rangeEnd !== undefined) w.bytes(c.rangeEnd);
  switch (c.target) {
    case CompareTarget.Value:
      w.bytes(c.value!);
      break;
    case CompareTarget.Version:
      uint(w, c.version);
      break;
    case CompareTarget.CreateRevision:
      uint(w, c.createRevision);
      break;
    case CompareTarget.ModRevision:
      uint(w, c.modRevision);
      break;
    default:
      uint(w, c.lease);
  }
}

function writeOps(w: ByteWriter, list: readonly TxnOp[]): void {
  w.varint(list.length);
  for (const op of list) {
    w.u8(types.indexOf(op.type) + 1);
    switch (op.type) {
      case TxnOpType.Get:
        w.bytes(op.key);
        break;
      case TxnOpType.Scan:
        w.u8((op.rangeEnd !== undefined ? RANGE_END : 0) | (op.limit !== undefined ? LIMIT : 0));
        w.bytes(op.key);
        if (op.rangeEnd !== undefined) w.bytes(op.rangeEnd);
        if (op.limit !== undefined) uint(w, op.limit);
        break;
      case TxnOpType.Put:
      case TxnOpType.Update:
        w.bytes(op.key);
        w.bytes(op.value);
        break;
      case TxnOpType.Delete:
        w.u8(op.rangeEnd !== undefined ? RANGE_END : 0);
        w.bytes(op.key);
        if (op.rangeEnd !== undefined) w.bytes(op.rangeEnd);
        break;
      case TxnOpType.Txn:
        writeTxnBody(w, op);
        break;
    }
  }
}

function flags(r: ByteReader, known: number, fail: Fail): number {
  const f = r.u8();
  if ((f & ~known) !== 0) fail(`unknown txn flags 0x${f.toString(16)}`);
  return f;
}

/** A count of items that take at least one byte each: more than the bytes left is malformed (and bounds allocation). */
function count(r: ByteReader, fail: Fail): number {
  const n = r.varint();
  if (n > r.remaining) fail(`txn count ${n} exceeds the ${r.remaining} bytes left`);
  return n;
}

export function readTxnBody(r: ByteReader, fail: Fail, depth = 1): TxnBody {
  if (depth > TXN_DEPTH_MAX) fail(`transactions nested deeper than ${TXN_DEPTH_MAX}`);
  const compare: TxnCompare[] = [];
  for (let i = count(r, fail); i > 0; i--) compare.push(readCompare(r, fail));
  const success = readOps(r, fail, depth);
  const failure = readOps(r, fail, depth);
  return { compare, success, failure };
}

function readCompare(r: ByteReader, fail: Fail): TxnCompare {
  const target = targets[r.u8()];
  if (target === undefined) fail('unknown compare target');
  const op = ops[r.u8()];
  if (op === undefined) fail('unknown compare op');
  const f = flags(r, RANGE_END, fail);
  const key = r.bytesCopy();
  const range = (f & RANGE_END) !== 0 ? { key, rangeEnd: r.bytesCopy() } : { key };
  switch (target) {
    case CompareTarget.Value:
      return { ...range, target, op, value: r.bytesCopy() };
    case CompareTarget.Version:
      return { ...range, target, op, version: r.varint() };
    case CompareTarget.CreateRevision:
      return { ...range, target, op, createRevision: r.varint() };
    case CompareTarget.ModRevision:
      return { ...range, target, op, modRevision: r.varint() };
    default:
      return { ...range, target, op, lease: r.varint() };
  }
}

function readOps(r: ByteReader, fail: Fail, depth: number): TxnOp[] {
  const out: TxnOp[] = [];
  for (let i = count(r, fail); i > 0; i--) {
    const type = types[r.u8() - 1];
    switch (type) {
      case TxnOpType.Get:
        out.push({ type, key: r.bytesCopy() });
        break;
      case TxnOpType.Scan: {
        const f = flags(r, RANGE_END | LIMIT, fail);
        const key = r.bytesCopy();
        const rangeEnd = (f & RANGE_END) !== 0 ? r.bytesCopy() : undefined;
        const limit = (f & LIMIT) !== 0 ? r.varint() : undefined;
        out.push({ type, key, ...(rangeEnd !== undefined ? { rangeEnd } : {}), ...(limit !== undefined ? { limit } : {}) });
        break;
      }
      case TxnOpType.Put:
      case TxnOpType.Update:
        out.push({ type, key: r.bytesCopy(), value: r.bytesCopy() });
        break;
      case TxnOpType.Delete: {
        const f = flags(r, RANGE_END, fail);
        const key = r.bytesCopy();
        out.push((f & RANGE_END) !== 0 ? { type, key, rangeEnd: r.bytesCopy() } : { type, key });
        break;
      }
      case TxnOpType.Txn:
        out.push({ type, ...readTxnBody(r, fail, depth + 1) });
        break;
      default:
        fail('unknown txn op type');
    }
  }
  return out;
}

// ---------------------------------------------------------------- result

export function writeTxnResult(w: ByteWriter, result: TxnResult): void {
  w.u8(result.succeeded ? 1 : 0);
  w.varint(result.revision);
  writeOpResults(w, result.results);
}

function writeKv(w: ByteWriter, kv: KvEntry): void {
  w.bytes(kv.key);
  w.bytes(kv.value);
  w.varint(kv.version);
  w.varint(kv.createRevision);
  w.varint(kv.modRevision);
  w.varint(kv.lease ?? 0);
}

function writeOpResults(w: ByteWriter, results: readonly TxnOpResult[]): void {
  w.varint(results.length);
  for (const res of results) {
    w.u8(types.indexOf(res.type) + 1);
    switch (res.type) {
      case TxnOpType.Get:
        w.u8(res.kv === null ? 0 : 1);
        if (res.kv !== null) writeKv(w, res.kv);
        break;
      case TxnOpType.Scan:
        w.u8(res.more ? 1 : 0);
        w.varint(res.kvs.length);
        for (const kv of res.kvs) writeKv(w, kv);
        break;
      case TxnOpType.Put:
      case TxnOpType.Update:
        w.varint(res.version);
        w.varint(res.createRevision);
        w.varint(res.modRevision);
        break;
      case TxnOpType.Delete:
        w.varint(res.deleted);
        break;
      case TxnOpType.Txn:
        w.u8(res.succeeded ? 1 : 0);
        writeOpResults(w, res.results);
        break;
    }
  }
}

function bool(r: ByteReader, fail: Fail): boolean {
  const b = r.u8();
  if (b > 1) fail(`bad boolean byte ${b}`);
  return b === 1;
}

export function readTxnResult(r: ByteReader, fail: Fail): TxnResult {
  const succeeded = bool(r, fail);
  const revision = r.varint();
  return { kind: 'txn', succeeded, revision, results: readOpResults(r, fail, 1) };
}

function readKv(r: ByteReader): KvEntry {
  return { key: r.bytesCopy(), value: r.bytesCopy(), version: r.varint(), createRevision: r.varint(), modRevision: r.varint(), lease: r.varint() };
}

function readOpResults(r: ByteReader, fail: Fail, depth: number): TxnOpResult[] {
  if (depth > TXN_DEPTH_MAX) fail(`transaction results nested deeper than ${TXN_DEPTH_MAX}`);
  const out: TxnOpResult[] = [];
  for (let i = count(r, fail); i > 0; i--) {
    const type = types[r.u8() - 1];
    switch (type) {
      case TxnOpType.Get:
        out.push({ type, kv: bool(r, fail) ? readKv(r) : null });
        break;
      case TxnOpType.Scan: {
        const more = bool(r, fail);
        const kvs: KvEntry[] = [];
        for (let n = count(r, fail); n > 0; n--) kvs.push(readKv(r));
        out.push({ type, kvs, more });
        break;
      }
      case TxnOpType.Put:
      case TxnOpType.Update:
        out.push({ type, version: r.varint(), createRevision: r.varint(), modRevision: r.varint() });
        break;
      case TxnOpType.Delete:
        out.push({ type, deleted: r.varint() });
        break;
      case TxnOpType.Txn: {
        const succeeded = bool(r, fail);
        out.push({ type, succeeded, results: readOpResults(r, fail, depth + 1) });
        break;
      }
      default:
        fail('unknown txn result type');
    }
  }
  return out;
}

// ---------------------------------------------------------------- sizes

function kvBytes(kv: KvEntry): number {
  return (
    varintBytes(kv.key.length) +
    kv.key.length +
    varintBytes(kv.value.length) +
    kv.value.length +
    varintBytes(kv.version) +
    varintBytes(kv.createRevision) +
    varintBytes(kv.modRevision) +
    varintBytes(kv.lease ?? 0)
  );
}

function opResultsBytes(results: readonly TxnOpResult[]): number {
  let n = varintBytes(results.length);
  for (const res of results) {
    n += 1;
    switch (res.type) {
      case TxnOpType.Get:
        n += 1 + (res.kv === null ? 0 : kvBytes(res.kv));
        break;
      case TxnOpType.Scan:
        n += 1 + varintBytes(res.kvs.length);
        for (const kv of res.kvs) n += kvBytes(kv);
        break;
      case TxnOpType.Put:
      case TxnOpType.Update:
        n += varintBytes(res.version) + varintBytes(res.createRevision) + varintBytes(res.modRevision);
        break;
      case TxnOpType.Delete:
        n += varintBytes(res.deleted);
        break;
      case TxnOpType.Txn:
        n += 1 + opResultsBytes(res.results);
        break;
    }
  }
  return n;
}

/** The exact encoded size of a transaction result (what saving it in a session costs a snapshot). */
export function txnResultBytes(result: TxnResult): number {
  return 1 + varintBytes(result.revision) + opResultsBytes(result.results);
}
