/**
 * The leader's queue of ReadIndex requests (thesis §6.4), as etcd's
 * read_only.go: a read is registered with the commit index at its arrival
 * (`addRequest`), confirmed by a heartbeat round that carries its sequence
 * number (`heartbeatContext`, `recvAck`), and released, in arrival order, once
 * a quorum has acknowledged a round sent after it (`advance`).
 *
 * Reads that arrive before the leader has committed an entry of its own term
 * wait apart (`waitForCommit`): until then the leader does not know the
 * cluster's commit index (§6.4 step 1). The whole queue belongs to one term
 * of one leader and is dropped by `reset()` on every role change.
 */
import { jointCommitIndex } from './quorum.js';
import type { ConfState, NodeId } from './types.js';

/** A ReadIndex request: who asked (this node for its own reads) and the host's opaque context. */
export interface ReadRequest {
  readonly from: NodeId;
  readonly context: Uint8Array;
}

/** A read waiting for leadership confirmation. */
export interface PendingRead extends ReadRequest {
  /** The commit index when it was registered: the read is served once the state machine has applied it. */
  readonly index: number;
  /** Position in this leader's sequence of reads; heartbeats carry it so that acknowledgements can be matched. */
  readonly seq: number;
}

const EMPTY_BYTES = new Uint8Array(0);
const NO_READS: readonly PendingRead[] = Object.freeze([]);
const NO_REQUESTS: readonly ReadRequest[] = Object.freeze([]);

/** Heartbeats carry the read sequence number as their context (8 bytes, big-endian). */
function encodeReadSeq(seq: number): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(seq / 0x1_0000_0000));
  view.setUint32(4, seq >>> 0);
  return out;
}

/** A context of any other length is not ours and reads as sequence number 0 (acknowledges nothing). */
function decodeReadSeq(context: Uint8Array): number {
  if (context.length !== 8) return 0;
  const view = new DataView(context.buffer, context.byteOffset, 8);
  return view.getUint32(0) * 0x1_0000_0000 + view.getUint32(4);
}

export class ReadOnly {
  /** Reads waiting for a heartbeat quorum, in arrival order. */
  private queue: PendingRead[] = [];
  /** Sequence number of the newest read registered in this term. */
  private lastSeq = 0;
  /** Per peer, the highest read sequence number it acknowledged in a heartbeat response. */
  private readonly acked = new Map<NodeId, number>();
  /** Reads that arrived before this leader committed an entry of its term. */
  private awaitingCommit: ReadRequest[] = [];
  /** A heartbeat round must go out with the next Ready to confirm newly registered reads. */
  heartbeatPending = false;

  /** `pendingMax` bounds the reads held here (both kinds together); the leader refuses more. */
  constructor(private readonly pendingMax: number) {}

  /** Forget every read: leadership (or the term) changed, and the requesters retry on their timeout. */
  reset(): void {
    this.queue = [];
    this.lastSeq = 0;
    this.acked.clear();
    this.awaitingCommit = [];
    this.heartbeatPending = false;
  }

  /** True when the bound on pending reads is reached. */
  isFull(): boolean {
    return this.queue.length + this.awaitingCommit.length >= this.pendingMax;
  }

  /** Hold a read until this leader commits an entry of its term (then `takeAwaitingCommit`). */
  waitForCommit(from: NodeId, context: Uint8Array): void {
    this.awaitingCommit.push({ from, context });
  }

  /** The reads held by `waitForCommit`, oldest first; they are no longer held here. */
  takeAwaitingCommit(): readonly ReadRequest[] {
    if (this.awaitingCommit.length === 0) return NO_REQUESTS;
    const waiting = this.awaitingCommit;
    this.awaitingCommit = [];
    return waiting;
  }

  /** Register a read at commit index `index`; one heartbeat round, sent with the next Ready, confirms it. */
  addRequest(from: NodeId, context: Uint8Array, index: number): void {
    this.queue.push({ from, context, index, seq: ++this.lastSeq });
    this.heartbeatPending = true;
  }

  /** The context for the leader's heartbeats: the newest read's sequence number while reads wait (thesis §6.4 step 3). */
  heartbeatContext(): Uint8Array {
    return this.queue.length > 0 ? encodeReadSeq(this.lastSeq) : EMPTY_BYTES;
  }

  /**
   * A follower answered a heartbeat that carried `context`: it still
   * recognised us as leader after every read up to that sequence number was
   * registered. Returns whether that acknowledges anything new (then call
   * `advance`).
   */
  recvAck(from: NodeId, context: Uint8Array): boolean {
    const seq = decodeReadSeq(context);
    if (seq <= (this.acked.get(from) ?? 0)) return false;
    this.acked.set(from, seq);
    return true;
  }

  /** Remove and return, in order, the reads a quorum of `conf` has confirmed (`self` confirms all of its own). */
  advance(conf: ConfState, self: NodeId): readonly PendingRead[] {
    const confirmed = jointCommitIndex(conf, (id) => (id === self ? this.lastSeq : (this.acked.get(id) ?? 0)));
    let released = 0;
    while (released < this.queue.length && this.queue[released]!.seq <= confirmed) released++;
    return released > 0 ? this.queue.splice(0, released) : NO_READS;
  }
}
