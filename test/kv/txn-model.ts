/**
 * A naive model of transactions, written from the documented semantics
 * (docs/client.md) and not from src/kv/txn.ts: the key space is a Map of
 * ASCII keys, a transaction runs on a copy that replaces the original only if
 * every op succeeds, ranges are found by sorting every key. Tests compare the
 * state machine against it.
 */
import type { TxnBody, TxnCompare, TxnOp } from '../../src/kv/index.js';

export interface ModelEntry {
  readonly value: string;
  readonly version: number;
  readonly createRevision: number;
  readonly modRevision: number;
}

export type ModelOpResult =
  | { type: 'get'; kv: ({ key: string } & ModelEntry) | null }
  | { type: 'scan'; kvs: ({ key: string } & ModelEntry)[]; more: boolean }
  | { type: 'put' | 'update'; version: number; createRevision: number; modRevision: number }
  | { type: 'delete'; deleted: number }
  | { type: 'incr'; value: string; version: number; createRevision: number; modRevision: number }
  | { type: 'txn'; succeeded: boolean; results: ModelOpResult[] };

export type ModelResult = { kind: 'txn'; succeeded: boolean; revision: number; results: ModelOpResult[] } | { kind: 'error'; code: string };

const latin1 = (bytes: Uint8Array): string => String.fromCharCode(...bytes);

/** The keys of a range, sorted: the key alone, [key, rangeEnd), or every key >= key when rangeEnd is [0]. */
function keysIn(map: Map<string, ModelEntry>, r: { key: Uint8Array; rangeEnd?: Uint8Array }): string[] {
  const key = latin1(r.key);
  if (r.rangeEnd === undefined) return map.has(key) ? [key] : [];
  const fromKey = r.rangeEnd.length === 1 && r.rangeEnd[0] === 0;
  const end = latin1(r.rangeEnd);
  return [...map.keys()].filter((k) => k >= key && (fromKey || k < end)).sort();
}

function cmp(a: number | string, b: number | string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function opHolds(op: string, order: number): boolean {
  return op === '=' ? order === 0 : op === '!=' ? order !== 0 : op === '<' ? order < 0 : order > 0;
}

function compareOne(c: TxnCompare, e: ModelEntry | undefined): boolean {
  if (c.target === 'value') return e !== undefined && opHolds(c.op, cmp(e.value, latin1(c.value!)));
  const actual = e === undefined ? 0 : c.target === 'lease' ? 0 : e[c.target];
  return opHolds(c.op, cmp(actual, c[c.target]!));
}

function holds(map: Map<string, ModelEntry>, c: TxnCompare): boolean {
  const keys = keysIn(map, c);
  if (keys.length === 0) return compareOne(c, undefined);
  return keys.every((k) => compareOne(c, map.get(k)));
}

export class TxnModel {
  keys = new Map<string, ModelEntry>();
  revision = 0;
  scanLimitMax = 10_000;

  put(key: string, value: string): void {
    const e = this.keys.get(key);
    this.revision++;
    this.keys.set(key, { value, version: (e?.version ?? 0) + 1, createRevision: e?.createRevision ?? this.revision, modRevision: this.revision });
  }

  delete(key: string): void {
    if (!this.keys.has(key)) return;
    this.revision++;
    this.keys.delete(key);
  }

  txn(body: TxnBody): ModelResult {
    const work = new Map(this.keys);
    const rev = this.revision + 1;
    let changed = false;
    const run = (b: TxnBody): { succeeded: boolean; results: ModelOpResult[] } => {
      const succeeded = b.compare.every((c) => holds(work, c));
      const results = (succeeded ? b.success : b.failure).map((op) => this.op(work, op, rev, run, () => (changed = true)));
      return { succeeded, results };
    };
    try {
      const { succeeded, results } = run(body);
      this.keys = work;
      if (changed) this.revision = rev;
      return { kind: 'txn', succeeded, revision: this.revision, results };
    } catch (err) {
      return { kind: 'error', code: (err as { code: string }).code };
    }
  }

  private op(
    work: Map<string, ModelEntry>,
    op: TxnOp,
    rev: number,
    run: (b: TxnBody) => { succeeded: boolean; results: ModelOpResult[] },
    changed: () => void,
  ): ModelOpResult {
    switch (op.type) {
      case 'get': {
        const e = work.get(latin1(op.key));
        return { type: 'get', kv: e === undefined ? null : { key: latin1(op.key), ...e } };
      }
      case 'scan': {
        const keys = keysIn(work, op);
        const limit = op.limit ?? this.scanLimitMax;
        return { type: 'scan', kvs: keys.slice(0, limit).map((k) => ({ key: k, ...work.get(k)! })), more: keys.length > limit };
      }
      case 'put':
      case 'update': {
        const key = latin1(op.key);
        const e = work.get(key);
        if (e === undefined && op.type === 'update') throw { code: 'CONCORD_ERR_KEY_NOT_FOUND' };
        const next = { value: latin1(op.value), version: (e?.version ?? 0) + 1, createRevision: e?.createRevision ?? rev, modRevision: rev };
        work.set(key, next);
        changed();
        return { type: op.type, version: next.version, createRevision: next.createRevision, modRevision: rev };
      }
      case 'delete': {
        const keys = keysIn(work, op);
        for (const k of keys) work.delete(k);
        if (keys.length > 0) changed();
        return { type: 'delete', deleted: keys.length };
      }
      case 'txn':
        return { type: 'txn', ...run(op) };
      case 'incr': {
        // Integers only in the model (the generator's ops); a stored text that is not a plain int64 fails the transaction.
        const key = latin1(op.key);
        const e = work.get(key);
        const text = e?.value ?? '0';
        if (op.float === true || !/^(0|-?[1-9]\d{0,18})$/.test(text)) throw { code: 'CONCORD_ERR_NOT_A_NUMBER' };
        const n = BigInt(text) + BigInt(latin1(op.by));
        if (n >= 2n ** 63n || n < -(2n ** 63n)) throw { code: 'CONCORD_ERR_INCREMENT_OVERFLOW' };
        const next = { value: n.toString(), version: (e?.version ?? 0) + 1, createRevision: e?.createRevision ?? rev, modRevision: rev };
        work.set(key, next);
        changed();
        return { type: 'incr', value: next.value, version: next.version, createRevision: next.createRevision, modRevision: rev };
      }
    }
  }
}

/** A state machine's txn result in the model's shape (keys and values as latin1 strings, leases dropped). */
export function normalize(result: unknown): ModelResult {
  const r = result as { kind: string; error?: { code: string }; succeeded: boolean; revision: number; results: unknown[] };
  if (r.kind === 'error') return { kind: 'error', code: r.error!.code };
  const kv = (e: { key: Uint8Array; value: Uint8Array; version: number; createRevision: number; modRevision: number }) => ({
    key: latin1(e.key),
    value: latin1(e.value),
    version: e.version,
    createRevision: e.createRevision,
    modRevision: e.modRevision,
  });
  const op = (x: any): ModelOpResult => {
    switch (x.type) {
      case 'get':
        return { type: 'get', kv: x.kv === null ? null : kv(x.kv) };
      case 'scan':
        return { type: 'scan', kvs: x.kvs.map(kv), more: x.more };
      case 'put':
      case 'update':
        return { type: x.type, version: x.version, createRevision: x.createRevision, modRevision: x.modRevision };
      case 'delete':
        return { type: 'delete', deleted: x.deleted };
      case 'incr':
        return { type: 'incr', value: latin1(x.value), version: x.version, createRevision: x.createRevision, modRevision: x.modRevision };
      default:
        return { type: 'txn', succeeded: x.succeeded, results: x.results.map(op) };
    }
  };
  return { kind: 'txn', succeeded: r.succeeded, revision: r.revision, results: r.results.map(op) };
}
