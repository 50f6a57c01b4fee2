/**
 * Wire types of watches (`watch.*`) and compaction (`kv.compact`).
 *
 * A watch is a multiplexed long-poll (see src/server/watch-hub.ts for why):
 * a client creates watchers on a connection (`watch.create`, each with an id
 * it picks, unique on that connection), keeps one `watch.poll` outstanding
 * per connection, and gets back batches for all its watchers at once. A
 * watcher lives as long as its connection: a client that reconnects creates
 * it again from the revision after the last one it delivered.
 */
import type { KeyValue, ResponseHeader } from './types.js';

/** Which keys a watcher sees: one key, every key with a prefix, or [start, end) (end absent: to the last key). */
export interface WatchRange {
  readonly key?: Uint8Array;
  readonly prefix?: Uint8Array;
  readonly start?: Uint8Array;
  readonly end?: Uint8Array;
}

export interface WatchCreateRequest extends WatchRange {
  /** Chosen by the client, unique among its watchers on this connection. */
  readonly watchId: number;
  /** The first revision to deliver; absent: the revision after the linearizable current one (ReadIndex first). */
  readonly startRevision?: number;
  /** Each event also carries the key's previous entry. */
  readonly prevKv?: boolean;
  readonly noPut?: boolean;
  readonly noDelete?: boolean;
  /** Periodic progress notifications while nothing matches. */
  readonly progressNotify?: boolean;
}
export interface WatchCreateResponse {
  readonly header: ResponseHeader;
  readonly watchId: number;
  /** The first revision the watcher delivers. */
  readonly startRevision: number;
}

export interface WatchCancelRequest {
  readonly watchId: number;
}
export interface WatchCancelResponse {
  readonly header: ResponseHeader;
  /** False when the connection had no such watcher. */
  readonly canceled: boolean;
}

export interface WatchPollRequest {
  /** Longest the member holds the poll when nothing is ready (bounded by the member). */
  readonly waitMs: number;
  /** Ask for a progress notification for every watcher that is caught up (etcd's RequestProgress). */
  readonly progress?: boolean;
  /** Watchers whose consumer is not keeping up: skipped this time (they fall behind, up to the member's bound). */
  readonly paused?: readonly number[];
}

export interface WireWatchEvent {
  readonly type: 'put' | 'delete';
  /** For a delete: the key, an empty value, version 0 and the delete's revision as modRevision. */
  readonly kv: KeyValue;
  readonly prevKv?: KeyValue;
}

/** Why the member ended a watcher: the error's code, message and details (CompactedError, WatchCanceled...). */
export interface WireWatchCancel {
  readonly code: string;
  readonly message: string;
  readonly details: Readonly<Record<string, number | string>>;
}

/**
 * One watcher's share of a poll: events of whole revisions, oldest first
 * (a revision's events are never split across batches), and/or a progress
 * notification, and/or its end.
 */
export interface WireWatchBatch {
  readonly watchId: number;
  /** Other watchers of this connection that get the very same batch (same range, cursor and options: sent once). */
  readonly watchIds?: readonly number[];
  readonly events: readonly WireWatchEvent[];
  /** Every event of this watcher up to this revision has now been delivered (0: no notification). */
  readonly progressRevision: number;
  readonly canceled?: WireWatchCancel;
}

export interface WatchPollResponse {
  readonly header: ResponseHeader;
  readonly batches: readonly WireWatchBatch[];
}

export interface CompactRequest {
  /** Drop the history up to and including this revision (on every member). */
  readonly revision: number;
}
export interface CompactResponse {
  readonly header: ResponseHeader;
}
