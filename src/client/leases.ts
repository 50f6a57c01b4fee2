/**
 * `client.lease`: etcd's lease API over the lease.* methods, and the
 * background keep-alive helper.
 *
 * Grants, revokes and keep-alives are writes numbered in the client's session
 * (exactly-once: a retried grant makes one lease). The helper coalesces: every
 * lease this client keeps alive goes out in ONE `lease.keepAlive` request per
 * interval (up to 10,000 ids per request), so the cluster logs one entry per
 * interval for all of them rather than one per lease. The interval is a third
 * of the shortest TTL kept alive, so two keep-alives in a row may be lost
 * before a lease expires.
 */
import type { Clock, Timer } from '../common/clock.js';
import { LeaseNotFoundError } from '../kv/errors.js';
import { Method, type LeaseGrantResponse, type LeaseListResponse, type LeaseRevokeResponse, type LeaseTimeToLiveResponse } from '../protocol/index.js';
import type { CallOptions } from './options.js';

/** Most lease ids in one keep-alive request (the protocol's bound). */
export const KEEP_ALIVE_IDS_PER_REQUEST_MAX = 10_000;
/** The helper never sends more often than this. */
const keepAliveIntervalMinMs = 100;

/** How the lease API reaches the cluster (KvClient provides it). */
export interface LeaseTransport {
  /** A write in the session (lease.grant, lease.revoke, lease.keepAlive). */
  write<M extends typeof Method.LeaseGrant | typeof Method.LeaseRevoke | typeof Method.LeaseKeepAlive>(
    method: M,
    fields: Record<string, unknown>,
    options: CallOptions,
  ): Promise<unknown>;
  /** A read (lease.timeToLive, lease.list). */
  read<M extends typeof Method.LeaseTimeToLive | typeof Method.LeaseList>(method: M, request: Record<string, unknown>, options: CallOptions): Promise<unknown>;
}

export interface LeaseGrant {
  readonly id: number;
  /** The TTL the cluster granted (clamped to its bounds). */
  readonly ttlMs: number;
}

export interface LeaseTimeToLive {
  readonly id: number;
  /** Time left by the answering leader's view of the entry clock. */
  readonly ttlMs: number;
  readonly grantedTtlMs: number;
  /** With `{ keys: true }`: the keys attached, in key order. */
  readonly keys: readonly Uint8Array[];
}

/** A running background keep-alive (from `lease.keepAlive(id)`). */
export interface KeepAliveHandle {
  readonly id: number;
  /** Stops renewing (the lease then expires after its TTL unless revoked first). */
  stop(): void;
  /** Resolves when the keep-alive ends: null when stopped, the error when the lease was lost (expired or revoked). */
  readonly done: Promise<Error | null>;
}

interface Kept {
  readonly id: number;
  ttlMs: number;
  readonly handles: Set<(error: Error | null) => void>;
}

export class LeaseClient {
  private readonly kept = new Map<number, Kept>();
  private timer: Timer | null = null;
  private intervalMs = 0;
  private inFlight = false;
  /** Leases registered without a known fresh TTL: renewed at once (coalesced within one turn). */
  private urgent = false;
  /** Keep-alive requests the background helper sent (each one log entry), and lease renewals they carried. */
  keepAliveRequests = 0;
  keepAliveRenewals = 0;

  constructor(
    private readonly transport: LeaseTransport,
    private readonly clock: Clock,
  ) {}

  /** Grants a lease of `ttlMs` (an `id` of your own, or one the cluster picks). */
  async grant(ttlMs: number, options: CallOptions & { id?: number } = {}): Promise<LeaseGrant> {
    const { id, ...call } = options;
    const response = (await this.transport.write(Method.LeaseGrant, { ttlMs, ...(id !== undefined ? { id } : {}) }, call)) as LeaseGrantResponse;
    return { id: response.id, ttlMs: response.ttlMs };
  }

  /** Deletes the lease and its keys (one revision); LeaseNotFoundError when it does not exist. */
  async revoke(id: number, options: CallOptions = {}): Promise<{ revision: number; deletedKeys: number }> {
    const response = (await this.transport.write(Method.LeaseRevoke, { id }, options)) as LeaseRevokeResponse;
    this.lost(id, null);
    return { revision: response.revision, deletedKeys: response.deletedKeys };
  }

  /** Renews the lease once; its TTL. LeaseNotFoundError when it no longer exists. */
  async keepAliveOnce(id: number, options: CallOptions = {}): Promise<number> {
    const response = (await this.transport.write(Method.LeaseKeepAlive, { ids: [id] }, options)) as { ttls: readonly number[] };
    const ttl = response.ttls[0] ?? 0;
    if (ttl === 0) throw new LeaseNotFoundError({ leaseId: id });
    return ttl;
  }

  /**
   * Keeps the lease alive in the background until `stop()` (or until it is
   * lost: `done` then resolves with LeaseNotFoundError). Every lease this
   * client keeps alive is renewed in the same round, one request per 10,000
   * leases, every third of the shortest TTL. Without `ttlMs` the lease is
   * renewed at once (with any others registered in the same turn); give the
   * TTL just granted (`{ ttlMs: grant.ttlMs }`) to skip that first renewal.
   */
  keepAlive(id: number, options: { ttlMs?: number } = {}): KeepAliveHandle {
    let settle!: (error: Error | null) => void;
    const done = new Promise<Error | null>((resolve) => (settle = resolve));
    let kept = this.kept.get(id);
    if (kept === undefined) {
      // Until an answer says the granted TTL, renew as if it were the shortest the cluster grants.
      kept = { id, ttlMs: options.ttlMs ?? 1000, handles: new Set() };
      this.kept.set(id, kept);
    }
    const entry = kept;
    let ended = false;
    const end = (error: Error | null): void => {
      if (ended) return;
      ended = true;
      entry.handles.delete(end);
      if (entry.handles.size === 0 && this.kept.get(id) === entry) this.kept.delete(id);
      settle(error);
    };
    entry.handles.add(end);
    if (options.ttlMs === undefined && !this.urgent) {
      this.urgent = true;
      this.clock.schedule(() => {
        this.urgent = false;
        void this.renew();
      });
    }
    this.arm(entry.ttlMs);
    return { id, stop: () => end(null), done };
  }

  /** The lease's time left, and its keys with `{ keys: true }`. LeaseNotFoundError when it does not exist. */
  async timeToLive(id: number, options: CallOptions & { keys?: boolean } = {}): Promise<LeaseTimeToLive> {
    const { keys, ...call } = options;
    const response = (await this.transport.read(Method.LeaseTimeToLive, { id, keys: keys === true }, call)) as LeaseTimeToLiveResponse;
    return { id: response.id, ttlMs: response.ttlMs, grantedTtlMs: response.grantedTtlMs, keys: response.keys };
  }

  /** Every lease in id order (at most 10,000; `more` says whether there are others). */
  async list(options: CallOptions = {}): Promise<LeaseListResponse['leases'] & { more?: boolean }> {
    const response = (await this.transport.read(Method.LeaseList, {}, options)) as LeaseListResponse;
    return Object.assign([...response.leases], { more: response.more });
  }

  /** Number of leases the background helper keeps alive. */
  get keptAliveCount(): number {
    return this.kept.size;
  }

  /** Stops every background keep-alive (the client is closing). */
  stopAll(): void {
    this.timer?.cancel();
    this.timer = null;
    for (const id of [...this.kept.keys()]) this.lost(id, null);
  }

  private lost(id: number, error: Error | null): void {
    const kept = this.kept.get(id);
    if (kept === undefined) return;
    this.kept.delete(id);
    for (const end of [...kept.handles]) end(error);
    if (this.kept.size === 0) this.arm();
  }

  /**
   * (Re)starts the round timer at a third of the shortest TTL kept alive (of `ttlMs`, a lease just added:
   * O(1); without it, of every kept lease: once a round); stops it when nothing is kept.
   */
  private arm(ttlMs?: number): void {
    if (this.kept.size === 0) {
      this.timer?.cancel();
      this.timer = null;
      return;
    }
    let shortest = ttlMs ?? Infinity;
    if (ttlMs === undefined) for (const kept of this.kept.values()) shortest = Math.min(shortest, kept.ttlMs);
    const intervalMs = Math.max(keepAliveIntervalMinMs, Math.floor(shortest / 3));
    if (this.timer !== null && (ttlMs === undefined ? intervalMs === this.intervalMs : intervalMs >= this.intervalMs)) return;
    this.timer?.cancel();
    this.intervalMs = intervalMs;
    this.timer = this.clock.setRepeating(intervalMs, () => void this.renew(), { keepsProcessAlive: false });
  }

  /** One round: every kept lease, in requests of up to 10,000 ids sent together. Skipped while the last round is running. */
  private async renew(): Promise<void> {
    if (this.inFlight || this.kept.size === 0) return;
    this.inFlight = true;
    try {
      // In id order: the log entry then holds the gaps between ids (about a byte each) rather than the ids (lease-codec.ts).
      const all = [...this.kept.values()].sort((a, b) => a.id - b.id);
      const batches: Kept[][] = [];
      for (let i = 0; i < all.length; i += KEEP_ALIVE_IDS_PER_REQUEST_MAX) batches.push(all.slice(i, i + KEEP_ALIVE_IDS_PER_REQUEST_MAX));
      await Promise.all(batches.map((batch) => this.renewBatch(batch)));
    } finally {
      this.inFlight = false;
      this.arm();
    }
  }

  private async renewBatch(batch: readonly Kept[]): Promise<void> {
    try {
      const response = (await this.transport.write(Method.LeaseKeepAlive, { ids: batch.map((k) => k.id) }, {})) as { ttls: readonly number[] };
      this.keepAliveRequests++;
      this.keepAliveRenewals += batch.length;
      batch.forEach((kept, j) => {
        const ttl = response.ttls[j] ?? 0;
        if (ttl === 0) this.lost(kept.id, new LeaseNotFoundError({ leaseId: kept.id }));
        else kept.ttlMs = ttl;
      });
    } catch {
      // Unavailable or timed out: the next round tries again (a lease keeps its time left on the cluster;
      // a round every third of the TTL leaves room for one lost round).
    }
  }
}
