/**
 * Leases and key TTLs as they travel through the log: the commands and their
 * results (leases.ts applies them, lease-codec.ts encodes them).
 *
 * A lease is a replicated timer: granted with a TTL, renewed by keep-alives,
 * and when its recorded expiry time passes (on the state machine's entry
 * clock) the leader proposes an expiry entry that deletes the lease and
 * every key attached to it, in one revision. A key's own TTL (`put` with
 * `ttlMs`, Redis `SET PX`) is the same mechanism without a lease object.
 */
import type { SessionRef } from './types.js';

export const LeaseCommandKind = {
  LeaseGrant: 'leaseGrant',
  LeaseRevoke: 'leaseRevoke',
  LeaseKeepAlive: 'leaseKeepAlive',
  /** Proposed by the leader only, after it confirmed its leadership (src/server/lease-expirer.ts). */
  LeaseExpire: 'leaseExpire',
} as const;
export type LeaseCommandKind = (typeof LeaseCommandKind)[keyof typeof LeaseCommandKind];

/** Grants a lease of `ttlMs` (clamped to the configured bounds); `id` 0 lets the state machine choose one. */
export interface LeaseGrantCommand {
  readonly kind: typeof LeaseCommandKind.LeaseGrant;
  readonly id: number;
  readonly ttlMs: number;
  readonly session?: SessionRef;
}

/** Deletes a lease and every key attached to it, in one revision. */
export interface LeaseRevokeCommand {
  readonly kind: typeof LeaseCommandKind.LeaseRevoke;
  readonly id: number;
  readonly session?: SessionRef;
}

/** Renews many leases at once (a client's keep-alives for one interval, coalesced into one entry). */
export interface LeaseKeepAliveCommand {
  readonly kind: typeof LeaseCommandKind.LeaseKeepAlive;
  readonly ids: readonly number[];
  readonly session?: SessionRef;
}

/**
 * Expires the leases and per-key TTLs listed, each only if its recorded
 * expiry time has passed by this entry's time (so a keep-alive applied
 * before it wins). Not exactly-once through a session: applying it twice
 * changes nothing more.
 */
export interface LeaseExpireCommand {
  readonly kind: typeof LeaseCommandKind.LeaseExpire;
  readonly leases: readonly number[];
  readonly keys: readonly Uint8Array[];
}

export type LeaseCommand = LeaseGrantCommand | LeaseRevokeCommand | LeaseKeepAliveCommand | LeaseExpireCommand;

const leaseKinds: ReadonlySet<string> = new Set(Object.values(LeaseCommandKind));
export function isLeaseCommand(command: { readonly kind: string }): command is LeaseCommand {
  return leaseKinds.has(command.kind);
}

export const LeaseResultKind = {
  LeaseGranted: 'leaseGranted',
  /** A revoke or an expiry: what it deleted. */
  LeaseDeleted: 'leaseDeleted',
  LeaseKeptAlive: 'leaseKeptAlive',
} as const;

export interface LeaseGrantedResult {
  readonly kind: typeof LeaseResultKind.LeaseGranted;
  readonly id: number;
  /** The TTL granted after clamping. */
  readonly ttlMs: number;
}

export interface LeaseDeletedResult {
  readonly kind: typeof LeaseResultKind.LeaseDeleted;
  /** The store revision of the deletes (all at one); the unchanged current revision when nothing was deleted. */
  readonly revision: number;
  /** Leases and keys deleted. */
  readonly leases: number;
  readonly keys: number;
}

export interface LeaseKeptAliveResult {
  readonly kind: typeof LeaseResultKind.LeaseKeptAlive;
  /** Per id of the command, in order: its granted TTL, or 0 when no such lease exists. */
  readonly ttls: readonly number[];
}

export type LeaseResult = LeaseGrantedResult | LeaseDeletedResult | LeaseKeptAliveResult;

/** What `timeToLive` and `list` report about one lease. */
export interface LeaseInfo {
  readonly id: number;
  readonly grantedTtlMs: number;
  /** On the state machine's entry clock. */
  readonly expiresAtMs: number;
  /** Number of keys attached. */
  readonly keyCount: number;
}

/** Most lease ids one keep-alive entry may carry, and most leases/keys one expiry entry may carry. */
export const LEASE_IDS_PER_ENTRY_MAX = 10_000;
/** Largest per-key TTL (ten years): keeps every deadline a safe integer. */
export const KEY_TTL_MS_MAX = 10 * 365 * 24 * 3600 * 1000;
