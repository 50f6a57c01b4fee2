/**
 * Bytes of a transaction: its body inside a log entry (command-codec.ts frames
 * it), and its result, saved in a session and so in snapshots.
 *
 *   body    := varint n, n x compare | varint n, n x op (success) | varint n, n x op (failure)
 *   compare := u8 target | u8 op | u8 flags (bit 0 rangeEnd) | bytes key | [bytes rangeEnd]
 *              | operand (bytes for target value, else varint)
 *   op      := u8 type, then get: bytes key; scan: u8 flags (bit 0 rangeEnd, bit 1 limit),
 *              bytes key, [bytes rangeEnd], [varint limit]; put, update: bytes key, bytes value
 *              (type + EXPIRY_TYPE_BIT: u8 flags (bit 0 ttlMs, bit 1 expiresAtMs, bit 2 keepTtl,
 *              bit 3 keepValue, bit 4 lease), [varint ttlMs], [varint expiresAtMs], [varint lease]
 *              before the key);
 *              delete: u8 flags (bit 0 rangeEnd), bytes key, [bytes rangeEnd]; txn: body;
 *              incr: u8 flags (bit 0 float), bytes key, bytes by
 *   result  := u8 succeeded | varint revision | results
 *   results := varint n, n x (u8 type, then get: u8 present, [kv]; scan: u8 more, varint n,
 *              n x kv; put, update: varint version, createRevision, modRevision;
 *              delete: varint deleted; txn: u8 succeeded, results;
 *              incr: bytes value, varint version, createRevision, modRevision)
 *   kv      := bytes key, bytes value, varint version, createRevision, modRevision, lease
 *
 * Decoded put and update values are copies, except in a small entry that is
 * its own buffer (TXN_VALUE_VIEW_ENTRY_BYTES_MAX, typically the leader's own
 * proposal): a stored value must never pin a network frame or a large entry. Keys, range ends and compare
 * operands are views into the entry (no copy on the apply path): they only
 * live while the entry is applied (the state machine keeps keys as binary
 * strings, and copies a key it puts in an error). Nesting is bounded by
 * TXN_DEPTH_MAX while decoding, so a hostile entry cannot exhaust the stack.
 */
import { varintBytes } from '../common/varint.js';
import { ByteReader, ByteWriter, copyBytes } from './bytes.js';
import type { KvEntry } from './types.js';
import { CompareOp, CompareTarget, TxnOpType, type TxnBody, type TxnCompare, type TxnOp, type TxnOpResult, type TxnPutOp, type TxnResult, type TxnUpdateOp } from './txn-types.js';

/**
 * A put value is a view into its entry (not a copy) when the entry's whole
 * buffer is at most this big: an ArrayBuffer per copied value costs more
 * than the bytes a small shared entry keeps alive (see key-writes.ts's
 * VALUE_VIEW_EXTRA_BYTES_MAX for the same trade for single puts). A window
 * on a larger buffer (a network frame, a batch read from disk) is copied.
 */
export const TXN_VALUE_VIEW_ENTRY_BYTES_MAX = 2048;

/** Deepest nesting of transactions inside transactions (the top level is depth 1). */
export const TXN_DEPTH_MAX = 32;

const targets: readonly CompareTarget[] = [CompareTarget.Value, CompareTarget.Version, CompareTarget.CreateRevision, CompareTarget.ModRevision, CompareTarget.Lease];
const ops: readonly CompareOp[] = [CompareOp.Equal, CompareOp.NotEqual, CompareOp.Less, CompareOp.Greater];
const types: readonly TxnOpType[] = [TxnOpType.Get, TxnOpType.Scan, TxnOpType.Put, TxnOpType.Update, TxnOpType.Delete, TxnOpType.Txn, TxnOpType.Incr];
const RANGE_END = 1;
const LIMIT = 2;
/** Set in a put's or update's type byte when an expiry follows (older entries never carry it). */
const EXPIRY_TYPE_BIT = 0x80;
const TTL = 1;
const EXPIRES_AT = 2;
const KEEP_TTL = 4;
const KEEP_VALUE = 8;
const LEASE = 16;
/** An incr op's flag: `by` is a float (INCRBYFLOAT). */
const FLOAT = 1;

function expiryFlags(op: TxnPutOp | TxnUpdateOp): number {
  return (
    ((op.ttlMs ?? 0) !== 0 ? TTL : 0) |
    ((op.expiresAtMs ?? 0) !== 0 ? EXPIRES_AT : 0) |
    (op.keepTtl === true ? KEEP_TTL : 0) |
    ((op.lease ?? 0) !== 0 ? LEASE : 0) |
    (op.type === TxnOpType.Update && op.keepValue === true ? KEEP_VALUE : 0)
  );
}

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
    const expiry = op.type === TxnOpType.Put || op.type === TxnOpType.Update ? expiryFlags(op) : 0;
    w.u8((types.indexOf(op.type) + 1) | (expiry !== 0 ? EXPIRY_TYPE_BIT : 0));
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
        if (expiry !== 0) {
          w.u8(expiry);
          if ((expiry & TTL) !== 0) uint(w, op.ttlMs);
          if ((expiry & EXPIRES_AT) !== 0) uint(w, op.expiresAtMs);
          if ((expiry & LEASE) !== 0) uint(w, op.lease);
        }
        w.bytes(op.key);
        w.bytes(op.value);
        break;
      case TxnOpType.Incr:
        w.u8(op.float === true ? FLOAT : 0);
        w.bytes(op.key);
        w.bytes(op.by);
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

const EMPTY_KEY = new Uint8Array(0);

/** A present TTL or expiry time is never 0 (absent is the encoding of "none"). */
function nonZero(n: number, fail: Fail): number {
  if (n === 0) fail('an expiry field of 0');
  return n;
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

/** Length-prefixed bytes as a view into the entry (see the header comment). */
function view(r: ByteReader): Uint8Array {
  return r.raw(r.varint());
}

/** A put value as it will be stored: a view of a small entry that is its own plain buffer, else a copy. */
function storedValue(r: ByteReader): Uint8Array {
  const raw = r.raw(r.varint());
  const buffer = raw.buffer;
  if (
    buffer.byteLength <= TXN_VALUE_VIEW_ENTRY_BYTES_MAX &&
    buffer instanceof ArrayBuffer &&
    (buffer as { resizable?: boolean }).resizable !== true
  ) {
    // Not raw.subarray: on a Node Buffer that would make the stored value a Buffer too.
    return new Uint8Array(buffer, raw.byteOffset, raw.length);
  }
  return copyBytes(raw);
}

function readCompare(r: ByteReader, fail: Fail): TxnCompare {
  const target = targets[r.u8()];
  if (target === undefined) fail('unknown compare target');
  const op = ops[r.u8()];
  if (op === undefined) fail('unknown compare op');
  const f = flags(r, RANGE_END, fail);
  const key = view(r);
  const rangeEnd = (f & RANGE_END) !== 0 ? view(r) : undefined;
  // Object literals of one shape per target (no spreads: this is the apply path).
  let c: { key: Uint8Array; rangeEnd?: Uint8Array; target: CompareTarget; op: CompareOp; [operand: string]: unknown };
  switch (target) {
    case CompareTarget.Value:
      c = { key, target, op, value: view(r) };
      break;
    case CompareTarget.Version:
      c = { key, target, op, version: r.varint() };
      break;
    case CompareTarget.CreateRevision:
      c = { key, target, op, createRevision: r.varint() };
      break;
    case CompareTarget.ModRevision:
      c = { key, target, op, modRevision: r.varint() };
      break;
    default:
      c = { key, target, op, lease: r.varint() };
  }
  if (rangeEnd !== undefined) c.rangeEnd = rangeEnd;
  return c as unknown as TxnCompare;
}

function readOps(r: ByteReader, fail: Fail, depth: number): TxnOp[] {
  const out: TxnOp[] = [];
  for (let i = count(r, fail); i > 0; i--) {
    const typeByte = r.u8();
    const type = types[(typeByte & ~EXPIRY_TYPE_BIT) - 1];
    if ((typeByte & EXPIRY_TYPE_BIT) !== 0 && type !== TxnOpType.Put && type !== TxnOpType.Update) fail('only a put or update carries an expiry');
    switch (type) {
      case TxnOpType.Get:
        out.push({ type, key: view(r) });
        break;
      case TxnOpType.Scan: {
        const f = flags(r, RANGE_END | LIMIT, fail);
        const op: { type: typeof type; key: Uint8Array; rangeEnd?: Uint8Array; limit?: number } = { type, key: view(r) };
        if ((f & RANGE_END) !== 0) op.rangeEnd = view(r);
        if ((f & LIMIT) !== 0) op.limit = r.varint();
        out.push(op);
        break;
      }
      case TxnOpType.Put:
      case TxnOpType.Update: {
        if ((typeByte & EXPIRY_TYPE_BIT) === 0) {
          const key = view(r);
          out.push({ type, key, value: storedValue(r) });
          break;
        }
        const f = flags(r, TTL | EXPIRES_AT | KEEP_TTL | KEEP_VALUE | LEASE, fail);
        // One encoding per op: the bit is set only when a flag is.
        if (f === 0) fail('expiry bit without an expiry');
        const op: { type: typeof type; key: Uint8Array; value: Uint8Array; lease?: number; ttlMs?: number; expiresAtMs?: number; keepTtl?: boolean; keepValue?: boolean } = {
          type,
          key: EMPTY_KEY,
          value: EMPTY_KEY,
        };
        if ((f & TTL) !== 0) op.ttlMs = nonZero(r.varint(), fail);
        if ((f & EXPIRES_AT) !== 0) op.expiresAtMs = nonZero(r.varint(), fail);
        if ((f & LEASE) !== 0) op.lease = nonZero(r.varint(), fail);
        if ((f & KEEP_TTL) !== 0) op.keepTtl = true;
        if ((f & KEEP_VALUE) !== 0) op.keepValue = true;
        op.key = view(r);
        op.value = storedValue(r);
        out.push(op);
        break;
      }
      case TxnOpType.Delete: {
        const f = flags(r, RANGE_END, fail);
        const key = view(r);
        out.push((f & RANGE_END) !== 0 ? { type, key, rangeEnd: view(r) } : { type, key });
        break;
      }
      case TxnOpType.Txn:
        out.push({ type, ...readTxnBody(r, fail, depth + 1) });
        break;
      case TxnOpType.Incr: {
        const f = flags(r, FLOAT, fail);
        const key = view(r);
        const by = view(r);
        out.push((f & FLOAT) !== 0 ? { type, key, by, float: true } : { type, key, by });
        break;
      }
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
      case TxnOpType.Incr:
        w.bytes(res.value);
        w.varint(res.version);
        w.varint(res.createRevision);
        w.varint(res.modRevision);
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
      case TxnOpType.Incr:
        out.push({ type, value: r.bytesCopy(), version: r.varint(), createRevision: r.varint(), modRevision: r.varint() });
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

const bytesLen = (b: Uint8Array): number => varintBytes(b.length) + b.length;

function compareBytes(c: TxnCompare): number {
  let n = 3 + bytesLen(c.key) + (c.rangeEnd !== undefined ? bytesLen(c.rangeEnd) : 0);
  switch (c.target) {
    case CompareTarget.Value:
      return n + bytesLen(c.value!);
    case CompareTarget.Version:
      return n + varintBytes(c.version!);
    case CompareTarget.CreateRevision:
      return n + varintBytes(c.createRevision!);
    case CompareTarget.ModRevision:
      return n + varintBytes(c.modRevision!);
    default:
      return n + varintBytes(c.lease!);
  }
}

function opsBytes(list: readonly TxnOp[]): number {
  let n = varintBytes(list.length);
  for (const op of list) {
    n += 1;
    switch (op.type) {
      case TxnOpType.Get:
        n += bytesLen(op.key);
        break;
      case TxnOpType.Scan:
        n += 1 + bytesLen(op.key) + (op.rangeEnd !== undefined ? bytesLen(op.rangeEnd) : 0) + (op.limit !== undefined ? varintBytes(op.limit) : 0);
        break;
      case TxnOpType.Put:
      case TxnOpType.Update: {
        const expiry = expiryFlags(op);
        if (expiry !== 0) {
          n += 1 + ((expiry & TTL) !== 0 ? varintBytes(op.ttlMs!) : 0) + ((expiry & EXPIRES_AT) !== 0 ? varintBytes(op.expiresAtMs!) : 0);
          n += (expiry & LEASE) !== 0 ? varintBytes(op.lease!) : 0;
        }
        n += bytesLen(op.key) + bytesLen(op.value);
        break;
      }
      case TxnOpType.Delete:
        n += 1 + bytesLen(op.key) + (op.rangeEnd !== undefined ? bytesLen(op.rangeEnd) : 0);
        break;
      case TxnOpType.Txn:
        n += txnBodyBytes(op);
        break;
      case TxnOpType.Incr:
        n += 1 + bytesLen(op.key) + bytesLen(op.by);
        break;
    }
  }
  return n;
}

/** The exact encoded size of a (well-formed) body: the encoder allocates its buffer once. */
export function txnBodyBytes(body: TxnBody): number {
  let n = varintBytes(body.compare.length);
  for (const c of body.compare) n += compareBytes(c);
  return n + opsBytes(body.success) + opsBytes(body.failure);
}

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
      case TxnOpType.Incr:
        n += bytesLen(res.value) + varintBytes(res.version) + varintBytes(res.createRevision) + varintBytes(res.modRevision);
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
