/**
 * The session EXEC runs a transaction's queued commands on: the same
 * interface as a connection's live session (kv-session.ts), so every command
 * handler runs unchanged, but writes only change an overlay here. A key is
 * read from the store the first time a command needs it (a linearizable
 * read), and its modRevision is remembered; at the end, the overlay's final
 * state of every written key becomes the ops of one transaction whose
 * compares say that none of the keys read has changed since (multi.ts). If
 * one has, EXEC runs the commands again on a fresh overlay.
 */
import { KeyNotFoundError, VersionMismatchError } from '../kv/index.js';
import type { KeyValue, MethodTypes, WireCompare, WireTxnOp, WireTxnOpResult } from '../protocol/index.js';
import { reply } from '../resp/index.js';
import type { KvSession } from './kv-session.js';
import { RedisReplyError } from './redis-errors.js';
import type { WriteExpiry } from './expiry.js';

interface OverlayEntry {
  readonly value: Uint8Array;
  readonly version: number;
  readonly createRevision: number;
  readonly modRevision: number;
  /** Absolute (estimated from the entry clock for a relative TTL), for reads in the transaction; 0: none. */
  readonly expiresAtMs: number;
  /** What the final put says about the TTL: keepTtl while it is the stored key's own. */
  readonly expiry: WriteExpiry;
}

/** Revisions of overlay writes: above any real one, so a compare-and-set in a handler sees its own writes. */
const OVERLAY_REVISION_BASE = 2 ** 52;
const KEEP_STORED_TTL: WriteExpiry = Object.freeze({ keepTtl: true });
const header = Object.freeze({ memberName: '', leaderId: null, leaderClientUrl: null, revision: 0 });
const notInMulti = (): RedisReplyError =>
  new RedisReplyError(reply.error('ERR KEYS, SCAN, DBSIZE, RANDOMKEY, FLUSHDB, FLUSHALL and INFO cannot run inside MULTI on Concord (they read every key)'));

type Fields = { key: Uint8Array; value?: Uint8Array; expectedVersion?: number; expectedModRevision?: number; keepValue?: boolean } & WriteExpiry;

export class OverlaySession implements KvSession {
  /** Keys by their bytes as latin1; null: absent in the overlay (read missing, or deleted). */
  private readonly entries = new Map<string, OverlayEntry | null>();
  /** Every key read from the store, and the modRevision it had (0: missing). */
  private readonly readRevisions = new Map<string, number>();
  private readonly written = new Set<string>();
  /** The incr ops of keys the transaction only increments, in command order (decided where the entry applies). */
  private readonly increments: WireTxnOp[] = [];
  private nextRevision = OVERLAY_REVISION_BASE;
  /**
   * A command reached a key of `incrementOnly` other than by an increment
   * EXEC deferred (a command whose spec does not name its keys): this run's
   * replies may be wrong, and EXEC runs the commands again without deferring.
   */
  touchedIncrementOnly = false;

  /** `incrementOnly`: keys (latin1) that only INCR-family commands of the transaction name (increments.ts). */
  constructor(
    private readonly live: KvSession,
    private readonly nowMs: number,
    private readonly incrementOnly: ReadonlySet<string> = new Set(),
  ) {}

  get hasWrites(): boolean {
    return this.written.size > 0 || this.increments.length > 0;
  }

  /** Whether EXEC sends the increments of `key` as incr ops instead of running them here. */
  defersIncrementOf(key: Uint8Array): boolean {
    return this.incrementOnly.has(Buffer.from(key).toString('latin1'));
  }

  /** Adds an incr op; returns its number, for deferredValue. */
  deferIncrement(key: Uint8Array, by: Uint8Array, float: boolean): number {
    this.increments.push(float ? { type: 'incr', key: Buffer.from(key), by, float } : { type: 'incr', key: Buffer.from(key), by });
    return this.increments.length - 1;
  }

  /** Deferred increment `n`'s new value, from the results of the ops finalOps gave (the increments come last). */
  deferredValue(results: readonly WireTxnOpResult[], n: number): Uint8Array {
    return results[results.length - this.increments.length + n]!.value!;
  }

  /** One compare per key read: its modRevision is still the one read (a missing key: still missing). */
  readCompares(): WireCompare[] {
    return [...this.readRevisions].map(([id, modRevision]) => ({ key: Buffer.from(id, 'latin1'), target: 'modRevision', op: '=', modRevision }));
  }

  /**
   * The final state of every key written: a put (with its TTL) or a delete;
   * then the deferred increments (their keys are not among those written).
   * Call once the commands have run: deferIncrement's indexes count on it.
   */
  finalOps(): WireTxnOp[] {
    const writes = [...this.written].map((id): WireTxnOp => {
      const key = Buffer.from(id, 'latin1');
      const entry = this.entries.get(id) ?? null;
      return entry === null ? { type: 'delete', key } : { type: 'put', key, value: entry.value, ...entry.expiry };
    });
    return [...writes, ...this.increments];
  }

  read<M extends 'kv.get' | 'kv.scan' | 'kv.txn' | 'cluster.status'>(method: M, request: MethodTypes[M]['request']): Promise<MethodTypes[M]['response']> {
    return this.readNow(method as 'kv.get', request as MethodTypes['kv.get']['request']) as Promise<MethodTypes[M]['response']>;
  }

  async readNow<M extends 'kv.get' | 'kv.scan' | 'kv.txn'>(method: M, request: MethodTypes[M]['request']): Promise<MethodTypes[M]['response']> {
    if (method !== 'kv.get') throw notInMulti();
    const entry = await this.entry((request as MethodTypes['kv.get']['request']).key);
    const kv: KeyValue | null = entry === null ? null : { key: (request as { key: Uint8Array }).key, ...entry };
    return { header, kv } as MethodTypes[M]['response'];
  }

  serialize<T>(body: () => Promise<T>): Promise<T> {
    return body();
  }

  async writeNow<M extends 'kv.put' | 'kv.update' | 'kv.delete' | 'kv.txn'>(method: M, fields: Omit<MethodTypes[M]['request'], 'session'>): Promise<MethodTypes[M]['response']> {
    if (method === 'kv.txn') return (await this.txn(fields as MethodTypes['kv.txn']['request'])) as MethodTypes[M]['response'];
    const f = fields as unknown as Fields;
    const old = await this.entry(f.key);
    if ((f.expectedVersion !== undefined && f.expectedVersion !== (old?.version ?? 0)) || (f.expectedModRevision !== undefined && f.expectedModRevision !== (old?.modRevision ?? 0))) {
      throw new VersionMismatchError({ key: f.key, expectedVersion: f.expectedVersion ?? null, expectedModRevision: f.expectedModRevision ?? null, actualVersion: old?.version ?? 0, actualModRevision: old?.modRevision ?? 0 });
    }
    if (method === 'kv.delete') {
      this.set(f.key, null);
      return { header, revision: 0, deleted: old !== null } as MethodTypes[M]['response'];
    }
    if (method === 'kv.update' && old === null) throw new KeyNotFoundError({ key: f.key });
    const entry = this.put(f.key, old, f.keepValue === true ? old!.value : f.value!, f);
    return { header, revision: entry.modRevision, version: entry.version } as MethodTypes[M]['response'];
  }

  /** The kv.txn shapes the multi-key commands send: version/createRevision/modRevision '=' compares, put and delete ops. */
  private async txn(request: MethodTypes['kv.txn']['request']): Promise<MethodTypes['kv.txn']['response']> {
    let succeeded = true;
    for (const c of request.compare) {
      const entry = await this.entry(c.key);
      const actual = entry === null ? 0 : c.target === 'version' ? entry.version : c.target === 'createRevision' ? entry.createRevision : entry.modRevision;
      if (actual !== (c.version ?? c.createRevision ?? c.modRevision)) succeeded = false;
    }
    const results: { type: 'put' | 'delete'; deleted?: number; version?: number; createRevision?: number; modRevision?: number }[] = [];
    for (const op of succeeded ? request.success : request.failure) {
      const old = await this.entry(op.key!);
      if (op.type === 'delete') {
        this.set(op.key!, null);
        results.push({ type: 'delete', deleted: old === null ? 0 : 1 });
      } else {
        const entry = this.put(op.key!, old, op.value!, op);
        results.push({ type: 'put', version: entry.version, createRevision: entry.createRevision, modRevision: entry.modRevision });
      }
    }
    return { header, succeeded, revision: 0, results };
  }

  private put(key: Uint8Array, old: OverlayEntry | null, value: Uint8Array, f: WriteExpiry): OverlayEntry {
    const revision = this.nextRevision++;
    let expiry: WriteExpiry;
    let expiresAtMs: number;
    if (f.keepTtl === true) {
      expiry = old?.expiry ?? {};
      expiresAtMs = old?.expiresAtMs ?? 0;
    } else {
      expiry = f.ttlMs !== undefined ? { ttlMs: f.ttlMs } : f.expiresAtMs !== undefined ? { expiresAtMs: f.expiresAtMs } : {};
      expiresAtMs = f.ttlMs !== undefined ? this.nowMs + f.ttlMs : (f.expiresAtMs ?? 0);
    }
    const entry: OverlayEntry = { value, version: (old?.version ?? 0) + 1, createRevision: old?.createRevision ?? revision, modRevision: revision, expiresAtMs, expiry };
    this.set(key, entry);
    return entry;
  }

  private set(key: Uint8Array, entry: OverlayEntry | null): void {
    const id = Buffer.from(key).toString('latin1');
    this.entries.set(id, entry);
    this.written.add(id);
  }

  /** The key as the transaction sees it now: the overlay's, else read once from the store. */
  private async entry(key: Uint8Array): Promise<OverlayEntry | null> {
    const id = Buffer.from(key).toString('latin1');
    if (this.incrementOnly.has(id)) this.touchedIncrementOnly = true;
    let entry = this.entries.get(id);
    if (entry === undefined) {
      const { kv } = await this.live.readNow('kv.get', { key, consistency: 'linearizable' });
      this.readRevisions.set(id, kv?.modRevision ?? 0);
      entry =
        kv === null
          ? null
          : { value: kv.value, version: kv.version, createRevision: kv.createRevision, modRevision: kv.modRevision, expiresAtMs: kv.expiresAtMs ?? 0, expiry: KEEP_STORED_TTL };
      this.entries.set(id, entry);
    }
    // A TTL that runs out within the transaction (PEXPIREAT in the past) hides the key, as it would outside.
    return entry !== null && entry.expiresAtMs !== 0 && entry.expiresAtMs <= this.nowMs ? null : entry;
  }
}
