/**
 * Wire types of the lease methods (`lease.*`): etcd's lease API, with TTLs
 * in milliseconds. Grants, revokes and keep-alives are exactly-once writes
 * through the client's session; `timeToLive` and `list` are linearizable
 * reads served by the leader. Remaining TTLs are measured on the serving
 * member's view of the entry clock (docs/client.md, "Leases").
 */
import type { SessionRef } from '../kv/index.js';
import type { ResponseHeader } from './types.js';

export interface LeaseGrantRequest {
  /** Requested TTL; the cluster clamps it to its bounds (leaseTtlMinMs..leaseTtlMaxMs) and answers the TTL granted. */
  readonly ttlMs: number;
  /** The lease id to use; absent or 0: the cluster picks one. */
  readonly id?: number;
  readonly session: SessionRef;
}
export interface LeaseGrantResponse {
  readonly header: ResponseHeader;
  readonly id: number;
  readonly ttlMs: number;
}

export interface LeaseRevokeRequest {
  readonly id: number;
  readonly session: SessionRef;
}
export interface LeaseRevokeResponse {
  readonly header: ResponseHeader;
  /** The revision of the deletes of the lease's keys (all in one entry). */
  readonly revision: number;
  /** Keys deleted with the lease. */
  readonly deletedKeys: number;
}

export interface LeaseKeepAliveRequest {
  /** Leases to renew in one entry (a client coalesces its keep-alives of one interval); 1..10,000 ids. */
  readonly ids: readonly number[];
  readonly session: SessionRef;
}
export interface LeaseKeepAliveResponse {
  readonly header: ResponseHeader;
  /** Per id, in order: its granted TTL, now the time left; 0 when the lease no longer exists. */
  readonly ttls: readonly number[];
}

export interface LeaseTimeToLiveRequest {
  readonly id: number;
  /** Also list the keys attached. */
  readonly keys?: boolean;
}
export interface LeaseTimeToLiveResponse {
  readonly header: ResponseHeader;
  readonly id: number;
  /** Time left, in ms, by the serving member's view of the entry clock (0 once expired but not yet deleted). */
  readonly ttlMs: number;
  readonly grantedTtlMs: number;
  /** The keys attached, in key order, when asked for; else empty. */
  readonly keys: readonly Uint8Array[];
}

export interface LeaseListRequest {
  readonly limit?: number;
}
export interface LeaseSummary {
  readonly id: number;
  readonly ttlMs: number;
  readonly grantedTtlMs: number;
  readonly keyCount: number;
}
export interface LeaseListResponse {
  readonly header: ResponseHeader;
  /** In id order; at most `limit` (default and cap 10,000). */
  readonly leases: readonly LeaseSummary[];
  /** True when more leases exist than were listed. */
  readonly more: boolean;
}
