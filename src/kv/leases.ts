/**
 * The replicated lease table and the per-key TTL index (lease-types.ts).
 *
 * Time is the state machine's entry clock (the leader's time carried in each
 * entry), so every member reaches the same decision at the same log index.
 * Nothing here expires on its own: an expiry happens only when an expiry
 * entry (proposed by a leader that confirmed its leadership) is applied and
 * finds the recorded expiry time passed by its own time. A keep-alive applied
 * before that entry moves the expiry time on, and the expiry then does nothing.
 *
 * Both indexes are ordered by expiry time, so finding what is due costs
 * O(log n + due), never a scan: 100,000 keys with TTLs are a normal load.
 * A keep-alive is the hot path (100,000 leases renewed every few seconds), so
 * it costs O(1): leases are indexed in buckets of LEASE_BUCKET_MS of expiry
 * time (a Set per bucket, the few bucket numbers in a sorted tree). A renewal
 * only moves the lease's expiry time on; the bucket it is filed in stays a
 * lower bound of it, and the lease is re-filed under its real expiry only
 * when that bucket's time has passed (settleDue), once per TTL at most rather
 * than once per renewal (a lease renewed every third of its TTL moves a third
 * as often). Only the index changes there, never which leases are due. Which leases an expiry
 * entry deletes depends only on each lease's `expiresAtMs`, the same on every
 * member (the order within a bucket, which may differ, only orders the ids
 * the leader lists in the entry).
 */
import BTreeModule from 'sorted-btree';
import { binaryStringFromBytes, compareBinaryStrings, type BinaryString } from './bytes.js';
import { KvError, LeaseExistsError, LeaseNotFoundError, LeasesFullError } from './errors.js';
import type { KeyTree, StoredEntry } from './key-tree.js';
import { LeaseCommandKind, LeaseResultKind, type LeaseCommand, type LeaseInfo } from './lease-types.js';
import type { KvOptions } from './options.js';
import { ResultKind, type ApplyResult } from './types.js';

// sorted-btree is CommonJS; under Node's ESM loader its default import is module.exports.
const BTree = BTreeModule.default;
type BTree<K, V> = InstanceType<typeof BTreeModule.default<K, V>>;

export interface Lease {
  readonly id: number;
  grantedTtlMs: number;
  /** The lease expires once the entry clock reaches this time. */
  expiresAtMs: number;
  /** Keys attached (null until the first one: most leases in a large table hold one key or none). */
  keys: Set<BinaryString> | null;
  /** The expiry bucket it is filed in: floor(expiresAtMs / LEASE_BUCKET_MS). */
  bucket: number;
}

/** Width of one bucket of the lease expiry index. */
export const LEASE_BUCKET_MS = 100;

interface KeyExpiryKey {
  readonly atMs: number;
  readonly key: BinaryString;
}

const compareKeyExpiry = (a: KeyExpiryKey, b: KeyExpiryKey): number => a.atMs - b.atMs || compareBinaryStrings(a.key, b.key);

/** What one revoke or expiry deleted. */
export interface Deleted {
  leases: number;
  keys: number;
}

export class LeaseTable {
  /** Insertion order is not id order (grants may name ids): `values()` sorts. */
  private readonly byId = new Map<number, Lease>();
  /** Leases by expiry bucket; the tree holds the bucket numbers in order (a few hundred at most per TTL). */
  private readonly buckets = new Map<number, Set<Lease>>();
  private readonly bucketOrder: BTree<number, Set<Lease>> = new BTree<number, Set<Lease>>();
  private readonly keyTtls: BTree<KeyExpiryKey, true> = new BTree<KeyExpiryKey, true>(undefined, compareKeyExpiry);

  get size(): number {
    return this.byId.size;
  }

  /** Number of keys with a TTL of their own. */
  get keyTtlCount(): number {
    return this.keyTtls.size;
  }

  /** True when no lease and no key TTL exists (the snapshot can keep an older format). */
  get pristine(): boolean {
    return this.byId.size === 0 && this.keyTtls.size === 0;
  }

  get(id: number): Lease | undefined {
    return this.byId.get(id);
  }

  /** Every lease in id order (snapshots, list). */
  values(): Lease[] {
    return [...this.byId.values()].sort((a, b) => a.id - b.id);
  }

  info(lease: Lease): LeaseInfo {
    return { id: lease.id, grantedTtlMs: lease.grantedTtlMs, expiresAtMs: lease.expiresAtMs, keyCount: lease.keys?.size ?? 0 };
  }

  /** The keys attached to a lease, in key order. */
  keysOf(lease: Lease): BinaryString[] {
    return lease.keys === null ? [] : [...lease.keys].sort(compareBinaryStrings);
  }

  /**
   * Grants a lease. `requestedId` 0 takes the entry's index, or the next free
   * id after it (ids a client chose may be in the way): the same on every member.
   */
  grant(index: number, requestedId: number, ttlMs: number, clockMs: number): Lease | KvError {
    let id = requestedId;
    if (id === 0) {
      id = index;
      while (this.byId.has(id)) id++;
    } else if (this.byId.has(id)) {
      return new LeaseExistsError({ leaseId: id });
    }
    return this.add(id, ttlMs, clockMs + ttlMs);
  }

  /**
   * Applies a lease command (its session checks already passed) as the entry
   * at `index`, whose time is `clockMs`. A revoke or expiry that deletes keys
   * deletes them all at store revision `revision` (the current one + 1: the
   * caller moves the store's revision when the result's `keys` > 0); one that
   * deletes none reports the current revision, `revision - 1`.
   */
  execute(tree: KeyTree, index: number, revision: number, clockMs: number, command: LeaseCommand, options: KvOptions): ApplyResult {
    switch (command.kind) {
      case LeaseCommandKind.LeaseGrant: {
        if (this.byId.size >= options.leasesMax) return failed(new LeasesFullError({ leasesMax: options.leasesMax }));
        const ttlMs = Math.min(Math.max(command.ttlMs, options.leaseTtlMinMs), options.leaseTtlMaxMs);
        const lease = this.grant(index, command.id, ttlMs, clockMs);
        if (lease instanceof KvError) return failed(lease);
        return { kind: LeaseResultKind.LeaseGranted, id: lease.id, ttlMs };
      }
      case LeaseCommandKind.LeaseRevoke: {
        const deleted = this.revoke(tree, command.id);
        if (deleted instanceof KvError) return failed(deleted);
        return { kind: LeaseResultKind.LeaseDeleted, revision: deleted.keys > 0 ? revision : revision - 1, ...deleted };
      }
      case LeaseCommandKind.LeaseKeepAlive:
        return { kind: LeaseResultKind.LeaseKeptAlive, ttls: this.keepAlive(command.ids, clockMs) };
      case LeaseCommandKind.LeaseExpire: {
        const deleted = this.expire(tree, clockMs, command.leases, command.keys);
        return { kind: LeaseResultKind.LeaseDeleted, revision: deleted.keys > 0 ? revision : revision - 1, ...deleted };
      }
    }
  }

  /** Adds a lease as it is (a grant, or a snapshot being read). */
  add(id: number, grantedTtlMs: number, expiresAtMs: number): Lease {
    const lease: Lease = { id, grantedTtlMs, expiresAtMs, keys: null, bucket: 0 };
    this.byId.set(id, lease);
    this.place(lease);
    return lease;
  }

  /** Renews each lease to clock + its TTL, in O(1) each; its granted TTL, or 0 for a lease that does not exist. */
  keepAlive(ids: readonly number[], clockMs: number): number[] {
    const ttls = new Array<number>(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const lease = this.byId.get(ids[i]!);
      if (lease === undefined) {
        ttls[i] = 0;
        continue;
      }
      // Never earlier (the clock never goes back, but an old renewal must not shorten a newer one).
      const expiresAtMs = Math.max(lease.expiresAtMs, clockMs + lease.grantedTtlMs);
      // Never earlier, so the bucket it is filed in stays a lower bound (re-filed by settleDue).
      lease.expiresAtMs = expiresAtMs;
      ttls[i] = lease.grantedTtlMs;
    }
    return ttls;
  }

  private place(lease: Lease): void {
    lease.bucket = Math.floor(lease.expiresAtMs / LEASE_BUCKET_MS);
    let set = this.buckets.get(lease.bucket);
    if (set === undefined) {
      set = new Set();
      this.buckets.set(lease.bucket, set);
      this.bucketOrder.set(lease.bucket, set);
    }
    set.add(lease);
  }

  private unplace(lease: Lease): void {
    const set = this.buckets.get(lease.bucket);
    if (set === undefined) return;
    set.delete(lease);
    if (set.size === 0) {
      this.buckets.delete(lease.bucket);
      this.bucketOrder.delete(lease.bucket);
    }
  }

  /** Deletes a lease and its keys from `tree`; LeaseNotFoundError when there is none. */
  revoke(tree: KeyTree, id: number): Deleted | KvError {
    const lease = this.byId.get(id);
    if (lease === undefined) return new LeaseNotFoundError({ leaseId: id });
    return { leases: 1, keys: this.remove(tree, lease) };
  }

  private remove(tree: KeyTree, lease: Lease): number {
    this.byId.delete(lease.id);
    this.unplace(lease);
    let keys = 0;
    if (lease.keys !== null) {
      for (const key of lease.keys) if (tree.delete(key)) keys++;
    }
    return keys;
  }

  /**
   * The expiry entry: each listed lease or key TTL whose expiry time has
   * passed by `clockMs` (the entry's time) is deleted; the others (renewed,
   * rewritten, already gone) are left alone.
   */
  expire(tree: KeyTree, clockMs: number, leaseIds: readonly number[], keys: readonly Uint8Array[]): Deleted {
    const deleted: Deleted = { leases: 0, keys: 0 };
    for (const id of leaseIds) {
      const lease = this.byId.get(id);
      if (lease === undefined || lease.expiresAtMs > clockMs) continue;
      deleted.leases++;
      deleted.keys += this.remove(tree, lease);
    }
    for (const keyBytes of keys) {
      const key = binaryStringFromBytes(keyBytes);
      const entry = tree.get(key);
      if (entry === undefined || entry.expiresAtMs === 0 || entry.expiresAtMs > clockMs) continue;
      this.keyTtls.delete({ atMs: entry.expiresAtMs, key });
      tree.delete(key);
      deleted.keys++;
    }
    return deleted;
  }

  /** The problem with attaching a new write to `leaseId` (0: none), or null. */
  attachProblem(leaseId: number): KvError | null {
    return leaseId === 0 || this.byId.has(leaseId) ? null : new LeaseNotFoundError({ leaseId });
  }

  /** Keeps the indexes right when a key's entry is replaced (`next` defined) or deleted. */
  replaced(previous: StoredEntry | undefined, next: StoredEntry | undefined): void {
    if (previous !== undefined) {
      if (previous.lease !== 0 && previous.lease !== next?.lease) this.byId.get(previous.lease)?.keys?.delete(previous.keyString);
      if (previous.expiresAtMs !== 0) this.keyTtls.delete({ atMs: previous.expiresAtMs, key: previous.keyString });
    }
    if (next !== undefined) {
      if (next.lease !== 0) this.attach(next);
      if (next.expiresAtMs !== 0) this.keyTtls.set({ atMs: next.expiresAtMs, key: next.keyString }, true);
    }
  }

  /** Files a key under its lease (a write, or a snapshot being read); false when the lease does not exist. */
  attach(entry: StoredEntry): boolean {
    const lease = this.byId.get(entry.lease);
    if (lease === undefined) return false;
    (lease.keys ??= new Set()).add(entry.keyString);
    return true;
  }

  /** Whether `entry` has expired by `nowMs` (a read hides it before its expiry entry applies). */
  expired(entry: StoredEntry, nowMs: number): boolean {
    if (entry.expiresAtMs !== 0 && entry.expiresAtMs <= nowMs) return true;
    if (entry.lease === 0) return false;
    const lease = this.byId.get(entry.lease);
    return lease === undefined || lease.expiresAtMs <= nowMs;
  }

  /**
   * Re-files the leases of every bucket whose time has passed by `nowMs` that were renewed since they
   * were filed, under their real expiry (a later bucket). Changes only the index, never which leases are
   * due (that is each lease's expiresAtMs), so members that settle at different times decide alike.
   */
  private settleDue(nowMs: number): void {
    const passed: [number, Set<Lease>][] = [];
    for (const [bucket, set] of this.bucketOrder.entries()) {
      if (bucket * LEASE_BUCKET_MS > nowMs) break;
      passed.push([bucket, set]);
    }
    for (const [bucket, set] of passed) {
      for (const lease of set) {
        if (Math.floor(lease.expiresAtMs / LEASE_BUCKET_MS) === bucket) continue;
        this.unplace(lease);
        this.place(lease);
      }
    }
  }

  /** Ids of up to `max` leases whose expiry time has passed by `nowMs`, earliest buckets first. */
  dueLeases(nowMs: number, max: number): number[] {
    this.settleDue(nowMs);
    const out: number[] = [];
    for (const [bucket, set] of this.bucketOrder.entries()) {
      if (bucket * LEASE_BUCKET_MS > nowMs || out.length >= max) break;
      for (const lease of set) {
        if (lease.expiresAtMs > nowMs) continue;
        out.push(lease.id);
        if (out.length >= max) break;
      }
    }
    return out;
  }

  /** Up to `max` keys whose own TTL has passed by `nowMs`, soonest first. */
  dueKeys(nowMs: number, max: number): BinaryString[] {
    const out: BinaryString[] = [];
    for (const k of this.keyTtls.keys()) {
      if (k.atMs > nowMs || out.length >= max) break;
      out.push(k.key);
    }
    return out;
  }

  /**
   * A lower bound of the earliest expiry time of any lease or key TTL (exact for key TTLs; for leases the
   * start of the earliest bucket, at most LEASE_BUCKET_MS early once the buckets passed by `nowMs` (the
   * entry clock) are settled; a lease renewed since it was filed may make a later bucket come first
   * until its time passes), or null when there is none. O(log n) plus the leases re-filed.
   */
  nextExpiryMs(nowMs: number): number | null {
    this.settleDue(nowMs);
    const bucket = this.bucketOrder.minKey();
    const lease = bucket === undefined ? undefined : bucket * LEASE_BUCKET_MS;
    const key = this.keyTtls.minKey()?.atMs;
    if (lease === undefined) return key ?? null;
    return key === undefined ? lease : Math.min(lease, key);
  }

  /** Files a key's own TTL (a snapshot being read). */
  addKeyTtl(entry: StoredEntry): void {
    this.keyTtls.set({ atMs: entry.expiresAtMs, key: entry.keyString }, true);
  }
}

function failed(error: KvError): ApplyResult {
  return { kind: ResultKind.Error, error };
}
