/**
 * The client-facing wire types of Concord: what a client sends to any member
 * and what it gets back. Pure data, no behaviour. The schemas that validate
 * these shapes on the wire are in `schemas.ts`; the method table in `methods.ts`.
 *
 * Keys and values are bytes (`Uint8Array`; msgpack `bin`). Revisions are the
 * store's revision (etcd's model): a counter that every change of the key
 * space (a write, or a whole transaction) advances by one. `modRevision` of a
 * key is the revision of the change that last wrote it, `createRevision` the
 * revision of the change that created it; a failed write takes no revision.
 */
import { Role } from '../common/role.js';

/** How a read is served. */
export const Consistency = {
  /**
   * Default. The answer reflects every write acknowledged before the read was
   * sent (ReadIndex, Raft thesis §6.4): the leader confirms it still leads
   * with a heartbeat round, then the serving member waits until it has
   * applied up to the read index.
   */
  Linearizable: 'linearizable',
  /** Served from the contacted member's local state, possibly behind the leader. No Raft round. */
  Stale: 'stale',
} as const;
export type Consistency = (typeof Consistency)[keyof typeof Consistency];

/** A member's role as it reports it: the core's own (src/common/role.ts). */
export const MemberRole = Role;
export type MemberRole = Role;

/**
 * Present on every successful response: who served it and where the leader
 * is, so that a client can send its next request straight to the leader
 * (forwarding through a follower costs one extra hop).
 */
export interface ResponseHeader {
  /** Name of the member that answered (e.g. "n2"). */
  readonly memberName: string;
  /** The leader as this member knows it, or null when no leader is known. */
  readonly leaderId: string | null;
  /** The leader's client URL (e.g. "tcp://127.0.0.1:7001"), or null when unknown. */
  readonly leaderClientUrl: string | null;
  /** The store revision of the state the serving member answered from (after a write: at least the write's own). */
  readonly revision: number;
}

/**
 * A key with its value and bookkeeping, the compare-and-set conditions and the
 * exactly-once session reference are the state machine's own types: the wire
 * carries them as they are (see src/kv/types.ts for their meaning).
 */
import type { KvEntry, SessionRef, WriteConditions } from '../kv/index.js';
export type { SessionRef, WriteConditions };
export type KeyValue = KvEntry;

/**
 * Only the conditions `source` gives (a request, a command, the client's call options), each
 * left out when absent: a condition set to undefined is not a condition, and other fields
 * (deadlines, the key) do not belong in it.
 */
export function writeConditions(source: WriteConditions): WriteConditions {
  const out: { expectedVersion?: number; expectedModRevision?: number } = {};
  if (source.expectedVersion !== undefined) out.expectedVersion = source.expectedVersion;
  if (source.expectedModRevision !== undefined) out.expectedModRevision = source.expectedModRevision;
  return out;
}

// ---------------------------------------------------------------- requests

export interface GetRequest {
  readonly key: Uint8Array;
  readonly consistency: Consistency;
}
export interface GetResponse {
  readonly header: ResponseHeader;
  /** null when the key does not exist (a missing key is not an error for `get`). */
  readonly kv: KeyValue | null;
}

export interface PutRequest extends WriteConditions {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly session: SessionRef;
  /** Attach the key to this lease (deleted when it expires or is revoked). */
  readonly lease?: number;
  /** Delete the key this many ms after the write (its own TTL; Redis SET PX). Excludes `lease`. */
  readonly ttlMs?: number;
  /** Delete the key once the entry clock (the leader's time) reaches this Unix time in ms (Redis SET PXAT). */
  readonly expiresAtMs?: number;
  /** Keep the key's current lease and TTL (Redis SET KEEPTTL). At most one of lease, ttlMs, expiresAtMs, keepTtl. */
  readonly keepTtl?: boolean;
}
export interface UpdateRequest extends WriteConditions {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly session: SessionRef;
  /** As for put: attach to a lease, or a TTL of the key's own; neither detaches the key. */
  readonly lease?: number;
  readonly ttlMs?: number;
  readonly expiresAtMs?: number;
  readonly keepTtl?: boolean;
  /** Keep the key's value (send an empty one): only its expiry changes (Redis EXPIRE, PERSIST). */
  readonly keepValue?: boolean;
}
/** Answer to put and update. */
export interface WriteResponse {
  readonly header: ResponseHeader;
  /** The store revision of this write (the key's new modRevision). */
  readonly revision: number;
  /** The key's version after this write. */
  readonly version: number;
}

export interface DeleteRequest extends WriteConditions {
  readonly key: Uint8Array;
  readonly session: SessionRef;
}
export interface DeleteResponse {
  readonly header: ResponseHeader;
  /** The store revision of this delete; the unchanged current revision when the key did not exist. */
  readonly revision: number;
  /** False when the key did not exist (not an error). */
  readonly deleted: boolean;
}

/**
 * A range scan in key order. Give either `prefix`, or `start` (inclusive)
 * and/or `end` (exclusive); none of them scans everything. `after` continues a
 * previous page: only keys strictly greater than it are returned.
 */
export interface ScanRequest {
  readonly start?: Uint8Array;
  readonly end?: Uint8Array;
  readonly prefix?: Uint8Array;
  readonly after?: Uint8Array;
  /** Page size, 1..scanLimitMax (see `limits`). */
  readonly limit: number;
  readonly consistency: Consistency;
}
export interface ScanResponse {
  readonly header: ResponseHeader;
  readonly items: readonly KeyValue[];
  /** When more keys remain in range: pass it as `after` to get the next page. */
  readonly next: Uint8Array | null;
}

export interface OpenSessionRequest {
  /** Requested time to live without keep-alives; the server clamps it to its bounds. */
  readonly ttlMs: number;
}
export interface OpenSessionResponse {
  readonly header: ResponseHeader;
  readonly sessionId: number;
  /** The time to live the server granted. */
  readonly ttlMs: number;
}

export interface KeepAliveRequest {
  readonly sessionId: number;
}
export interface KeepAliveResponse {
  readonly header: ResponseHeader;
}

export interface CloseSessionRequest {
  readonly sessionId: number;
}
export interface CloseSessionResponse {
  readonly header: ResponseHeader;
}

// ---------------------------------------------------------------- status

export interface StatusRequest {
  /** Reserved; send {}. */
  readonly verbose?: boolean;
}

/** One member of the cluster as the answering member knows it. */
export interface MemberInfo {
  readonly name: string;
  readonly peerUrl: string;
  /** Learned from the member itself; null until it has been heard from. */
  readonly clientUrl: string | null;
  readonly voter: boolean;
}

/** The answering member's own state. */
export interface MemberStatus {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly role: MemberRole;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** Index of the latest snapshot (0 when none). */
  readonly snapshotIndex: number;
  readonly firstLogIndex: number;
  readonly lastLogIndex: number;
  readonly leaderId: string | null;
  readonly leaderClientUrl: string | null;
  /** True when a storage failure stopped this member from accepting writes. */
  readonly storageFailed: boolean;
  readonly version: string;
  /** Bytes of the member's data directory on disk (WAL and snapshots); absent from older members. */
  readonly dataSizeBytes?: number;
}

export interface StatusResponse {
  readonly header: ResponseHeader;
  readonly member: MemberStatus;
  readonly members: readonly MemberInfo[];
}

// ---------------------------------------------------------------- snapshot (backup)

/**
 * One page of a backup snapshot stream (`snapshot.save`). The first call
 * (`streamId: 0`) opens a stream on the leader at a linearizable point; each
 * later call asks for the bytes at `offset` (the bytes received so far) of
 * that stream, on the same connection. The client asks for the next page only
 * once it has written the previous one: that is the flow control, and it keeps
 * one page in memory on either side.
 */
export interface SnapshotSaveRequest {
  /** 0 opens a new stream; otherwise the `streamId` the opening answer gave. */
  readonly streamId: number;
  /** Bytes already received (0 on open); the member refuses any other offset. */
  readonly offset: number;
  /** Largest page wanted; the member clamps it to its bounds (0: its default). */
  readonly chunkBytesMax: number;
}

export interface SnapshotSaveResponse {
  readonly header: ResponseHeader;
  readonly streamId: number;
  /** The raft index and term of the last entry the snapshot includes (its index is at least the commit index when the stream opened). */
  readonly index: number;
  readonly term: number;
  /** The cluster the snapshot comes from ('' while the member has not learned it). */
  readonly clusterId: string;
  /** Keys and exact byte length of the whole key-value stream (the CKVS format of src/kv/snapshot-format.ts). */
  readonly keys: number;
  readonly totalBytes: number;
  /** Where `chunk` starts in the stream. */
  readonly offset: number;
  readonly chunk: Uint8Array;
  /** True on the page that ends the stream (the member has then forgotten it). */
  readonly done: boolean;
}
