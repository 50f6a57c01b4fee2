/**
 * Transactions in the client: the request forms a caller writes (keys and
 * values as strings or bytes, ranges by `rangeEnd` or `prefix: true`), the
 * `Compare` and `Op` helpers, the fluent `TxnBuilder`
 * (`kv.txn().if(...).then(...).else(...).commit()`), and the conversions to
 * and from the wire (src/protocol/txn.ts).
 *
 * Semantics (etcd's): if every compare holds, the success ops run in order,
 * else the failure ops; all of it atomically, in one log entry and one store
 * revision. A missing key compares as version, createRevision, modRevision
 * and lease 0; a value compare on a missing key is false. A range compare
 * must hold for every key that exists in the range. See docs/client.md.
 */
import type { CompareOp, CompareTarget, Consistency, TxnRequest, TxnResponse, WireCompare, WireTxnOp, WireTxnOpResult } from '../protocol/index.js';
import { toBytes, type BytesLike } from './bytes.js';
import { InvalidRequestError } from './errors.js';
import { KeyValueResult } from './key-value.js';
import type { CallOptions } from './options.js';

export type { CompareOp, CompareTarget };

/**
 * A key, or a range: `rangeEnd` (exclusive; [0x00] or '\0' for "every key
 * from `key` on"), or `prefix: true` for every key starting with `key`.
 */
export interface TxnKeyRange {
  readonly key: BytesLike;
  readonly rangeEnd?: BytesLike;
  readonly prefix?: boolean;
}

/**
 * `target op operand`. The operand is `value` (bytes or a string for target
 * 'value', a number for the others), or the field named after the target
 * (etcd's form: `{ target: 'version', version: 3 }`).
 */
export interface TxnCompareSpec extends TxnKeyRange {
  readonly target: CompareTarget;
  readonly op: CompareOp;
  readonly value?: BytesLike | number;
  readonly version?: number;
  readonly createRevision?: number;
  readonly modRevision?: number;
  readonly lease?: number;
}

/**
 * A put's or update's expiry, as kv.put takes it: attach the key to a lease (`client.lease.grant`;
 * an unknown lease fails the whole transaction with LeaseNotFoundError, nothing applied), give it a
 * TTL of its own (`ttlMs` from the entry's time, or an absolute `expiresAtMs`), or `keepTtl` (keep
 * its current lease and TTL). At most one; none detaches the key from its lease and clears its TTL.
 */
export interface TxnWriteExpiry {
  readonly lease?: number;
  readonly ttlMs?: number;
  readonly expiresAtMs?: number;
  readonly keepTtl?: boolean;
}

export type TxnOpSpec =
  | { readonly type: 'get'; readonly key: BytesLike }
  | ({ readonly type: 'scan'; readonly limit?: number } & TxnKeyRange)
  | ({ readonly type: 'put' | 'update'; readonly key: BytesLike; readonly value: BytesLike } & TxnWriteExpiry)
  | ({ readonly type: 'delete' } & TxnKeyRange)
  | ({ readonly type: 'txn' } & TxnSpec);

/** A transaction as `kv.txn(...)` takes it. Missing branches are empty. */
export interface TxnSpec {
  readonly compare?: readonly TxnCompareSpec[];
  readonly success?: readonly TxnOpSpec[];
  readonly failure?: readonly TxnOpSpec[];
}

export interface TxnOptions extends CallOptions {
  /** Read-only transactions only: 'stale' serves from the contacted member without a ReadIndex. */
  readonly consistency?: Consistency;
}

export type TxnOpResult =
  | { readonly type: 'get'; readonly kv: KeyValueResult | null }
  | { readonly type: 'scan'; readonly kvs: readonly KeyValueResult[]; readonly more: boolean }
  | { readonly type: 'put' | 'update'; readonly version: number; readonly createRevision: number; readonly modRevision: number }
  | { readonly type: 'delete'; readonly deleted: number }
  | { readonly type: 'txn'; readonly succeeded: boolean; readonly results: readonly TxnOpResult[] };

export interface TxnResult {
  /** Whether every compare held (the success ops ran). */
  readonly succeeded: boolean;
  /** The transaction's store revision when it changed a key, else the revision it read at. */
  readonly revision: number;
  /** One per op of the branch that ran. */
  readonly results: readonly TxnOpResult[];
}

/** A compare on a key given as bytes or a string (the common case: one object literal, no spreads), or on a range. */
function compareOn(key: BytesLike | TxnKeyRange, target: CompareTarget, op: CompareOp, field: keyof TxnCompareSpec, operand: BytesLike | number): TxnCompareSpec {
  const c: Record<string, unknown> =
    typeof key === 'string' || key instanceof Uint8Array ? { key, target, op } : { key: key.key, rangeEnd: key.rangeEnd, prefix: key.prefix, target, op };
  c[field] = operand;
  return c as unknown as TxnCompareSpec;
}

/** Compare helpers: `Compare.version('k', '=', 0)`, `Compare.value({ key: 'cfg/', prefix: true }, '!=', 'x')`. */
export const Compare = {
  value: (key: BytesLike | TxnKeyRange, op: CompareOp, value: BytesLike): TxnCompareSpec => compareOn(key, 'value', op, 'value', value),
  version: (key: BytesLike | TxnKeyRange, op: CompareOp, version: number): TxnCompareSpec => compareOn(key, 'version', op, 'version', version),
  createRevision: (key: BytesLike | TxnKeyRange, op: CompareOp, revision: number): TxnCompareSpec => compareOn(key, 'createRevision', op, 'createRevision', revision),
  modRevision: (key: BytesLike | TxnKeyRange, op: CompareOp, revision: number): TxnCompareSpec => compareOn(key, 'modRevision', op, 'modRevision', revision),
  lease: (key: BytesLike | TxnKeyRange, op: CompareOp, lease: number): TxnCompareSpec => compareOn(key, 'lease', op, 'lease', lease),
};

/** Op helpers: `Op.put('k', 'v')`, `Op.delete({ key: 'tmp/', prefix: true })`, `Op.txn({ compare, success, failure })`. */
export const Op = {
  get: (key: BytesLike): TxnOpSpec => ({ type: 'get', key }),
  scan: (range: TxnKeyRange, options: { limit?: number } = {}): TxnOpSpec => ({ type: 'scan', key: range.key, rangeEnd: range.rangeEnd, prefix: range.prefix, limit: options.limit }),
  put: (key: BytesLike, value: BytesLike, expiry: TxnWriteExpiry = {}): TxnOpSpec => ({ type: 'put', key, value, ...expiry }),
  update: (key: BytesLike, value: BytesLike, expiry: TxnWriteExpiry = {}): TxnOpSpec => ({ type: 'update', key, value, ...expiry }),
  delete: (key: BytesLike | TxnKeyRange): TxnOpSpec =>
    typeof key === 'string' || key instanceof Uint8Array ? { type: 'delete', key } : { type: 'delete', key: key.key, rangeEnd: key.rangeEnd, prefix: key.prefix },
  txn: (spec: TxnSpec): TxnOpSpec => ({ type: 'txn', compare: spec.compare, success: spec.success, failure: spec.failure }),
};

/** The fluent form: `kv.txn().if(c1, c2).then(op1, op2).else(op3).commit()`. */
export class TxnBuilder {
  private readonly compares: TxnCompareSpec[] = [];
  private readonly successOps: TxnOpSpec[] = [];
  private readonly failureOps: TxnOpSpec[] = [];

  constructor(private readonly send: (spec: TxnSpec, options: TxnOptions) => Promise<TxnResult>) {}

  if(...compares: TxnCompareSpec[]): this {
    this.compares.push(...compares);
    return this;
  }

  then(...ops: TxnOpSpec[]): this {
    this.successOps.push(...ops);
    return this;
  }

  else(...ops: TxnOpSpec[]): this {
    this.failureOps.push(...ops);
    return this;
  }

  /** The transaction as a plain spec (e.g. to nest it with `Op.txn`). */
  spec(): TxnSpec {
    return { compare: [...this.compares], success: [...this.successOps], failure: [...this.failureOps] };
  }

  commit(options: TxnOptions = {}): Promise<TxnResult> {
    return this.send(this.spec(), options);
  }
}

// ---------------------------------------------------------------- to the wire

const bad = (where: string, what: string): InvalidRequestError => new InvalidRequestError(`txn: ${where}: ${what}`, what);

/** Where in the transaction a spec sits (for error messages), built only when one is needed. */
type Where = () => string;

function bytesField(value: unknown, where: Where, name: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value !== 'string') throw bad(where(), `${name} must be a string or bytes`);
  return toBytes(value);
}

/** The smallest key after every key that starts with `prefix` ([0x00] when there is none: every key from `prefix` on). */
function prefixEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i] !== 0xff) {
      const end = prefix.slice(0, i + 1);
      end[i]!++;
      return end;
    }
  }
  return Uint8Array.of(0);
}

/** The wire form of a key or range: `key`, and `rangeEnd` when it is a range (set on `out`). */
function wireRange(r: TxnKeyRange, where: Where, out: { key?: Uint8Array; rangeEnd?: Uint8Array }): void {
  const key = bytesField(r.key, where, 'key');
  out.key = key;
  if (r.prefix === true) {
    if (r.rangeEnd !== undefined) throw bad(where(), 'give prefix or rangeEnd, not both');
    // An empty prefix is every key.
    out.rangeEnd = key.length === 0 ? Uint8Array.of(0) : prefixEnd(key);
  } else if (r.rangeEnd !== undefined) {
    out.rangeEnd = bytesField(r.rangeEnd, where, 'rangeEnd');
  }
}

function wireCompare(c: TxnCompareSpec, where: Where): WireCompare {
  if (typeof c !== 'object' || c === null) throw bad(where(), 'a compare must be an object');
  const out: { key?: Uint8Array; rangeEnd?: Uint8Array; target: CompareTarget; op: CompareOp; [operand: string]: unknown } = { target: c.target, op: c.op };
  wireRange(c, where, out);
  if (c.target === 'value') {
    if (typeof c.value === 'number') throw bad(where(), 'a value compare needs a string or bytes');
    out.value = bytesField(c.value, where, 'value');
    return out as unknown as WireCompare;
  }
  if (c.target !== 'version' && c.target !== 'createRevision' && c.target !== 'modRevision' && c.target !== 'lease') {
    throw bad(where(), `unknown compare target ${String(c.target)}`);
  }
  const operand = c[c.target] ?? c.value;
  if (typeof operand !== 'number') throw bad(where(), `a ${c.target} compare needs a number`);
  out[c.target] = operand;
  return out as unknown as WireCompare;
}

function wireOp(op: TxnOpSpec, where: Where): WireTxnOp {
  if (typeof op !== 'object' || op === null) throw bad(where(), 'an op must be an object');
  switch (op.type) {
    case 'get':
      return { type: op.type, key: bytesField(op.key, where, 'key') };
    case 'put':
    case 'update': {
      const out: { -readonly [F in keyof WireTxnOp]: WireTxnOp[F] } = { type: op.type, key: bytesField(op.key, where, 'key'), value: bytesField(op.value, where, 'value') };
      // Checked here for a clear message; the server checks them again (at most one, as for kv.put).
      for (const field of ['lease', 'ttlMs', 'expiresAtMs'] as const) {
        const n = op[field];
        if (n === undefined) continue;
        if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw bad(where(), `${field} must be an integer >= 0`);
        if (n !== 0) out[field] = n;
      }
      if (op.keepTtl !== undefined) {
        if (typeof op.keepTtl !== 'boolean') throw bad(where(), 'keepTtl must be a boolean');
        if (op.keepTtl) out.keepTtl = true;
      }
      return out;
    }
    case 'scan': {
      const out: { type: 'scan'; key?: Uint8Array; rangeEnd?: Uint8Array; limit?: number } = { type: op.type };
      wireRange(op, where, out);
      if (op.limit !== undefined) out.limit = op.limit;
      return out;
    }
    case 'delete': {
      const out: { type: 'delete'; key?: Uint8Array; rangeEnd?: Uint8Array } = { type: op.type };
      wireRange(op, where, out);
      return out;
    }
    case 'txn':
      return { type: op.type, ...wireBody(op, where) };
    default:
      throw bad(where(), `unknown op type ${String((op as { type: unknown }).type)}`);
  }
}

function wireList<T, W>(list: readonly T[] | undefined, where: Where, name: string, convert: (item: T, where: Where) => W): W[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw bad(where(), `${name} must be an array`);
  const out: W[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) out[i] = convert(list[i]!, () => `${where()}.${name}[${i}]`);
  return out;
}

function wireBody(spec: TxnSpec, where: Where): Pick<TxnRequest, 'compare' | 'success' | 'failure'> {
  return {
    compare: wireList(spec.compare, where, 'compare', wireCompare),
    success: wireList(spec.success, where, 'success', wireOp),
    failure: wireList(spec.failure, where, 'failure', wireOp),
  };
}

const topLevel: Where = () => 'txn';

/** The request body on the wire (without session); InvalidRequestError for a malformed spec. */
export function txnBodyToWire(spec: TxnSpec): Pick<TxnRequest, 'compare' | 'success' | 'failure'> {
  if (typeof spec !== 'object' || spec === null) throw bad('txn', 'a transaction must be an object');
  return wireBody(spec, topLevel);
}

/** Whether no branch (nested ones included) writes: such a transaction is a read, served without the log or a session. */
export function isReadOnlyWireTxn(body: Pick<TxnRequest, 'success' | 'failure'>): boolean {
  const readOnly = (ops: readonly WireTxnOp[]): boolean =>
    ops.every((op) => op.type === 'get' || op.type === 'scan' || (op.type === 'txn' && isReadOnlyWireTxn({ success: op.success ?? [], failure: op.failure ?? [] })));
  return readOnly(body.success) && readOnly(body.failure);
}

// ---------------------------------------------------------------- from the wire

function opResultOf(r: WireTxnOpResult): TxnOpResult {
  switch (r.type) {
    case 'get':
      return { type: r.type, kv: r.kv === undefined || r.kv === null ? null : new KeyValueResult(r.kv) };
    case 'scan':
      return { type: r.type, kvs: (r.kvs ?? []).map((kv) => new KeyValueResult(kv)), more: r.more === true };
    case 'put':
    case 'update':
      return { type: r.type, version: r.version ?? 0, createRevision: r.createRevision ?? 0, modRevision: r.modRevision ?? 0 };
    case 'delete':
      return { type: r.type, deleted: r.deleted ?? 0 };
    default:
      return { type: 'txn', succeeded: r.succeeded === true, results: (r.results ?? []).map(opResultOf) };
  }
}

export function txnResultOf(response: TxnResponse): TxnResult {
  return { succeeded: response.succeeded, revision: response.revision, results: response.results.map(opResultOf) };
}
