/**
 * A leader's view of one follower (etcd's Progress): how much of the log it
 * holds and how the leader sends to it. Flow control (issue: "a bound on
 * in-flight append messages ... per follower, pipelined appends while a
 * follower keeps up, probing when it does not"):
 * - Probe: one append at a time until the follower answers; used after a
 *   rejection or when its state is unknown.
 * - Replicate: appends are pipelined, `next` advances optimistically, at most
 *   `inflightAppendsMax` unacknowledged messages.
 * - Snapshot: the follower needs a snapshot; appends stop, chunks flow one at a time.
 */
import { assert } from '../common/errors.js';
import type { ConfState, NodeId } from './types.js';

export const ProgressState = { Probe: 'probe', Replicate: 'replicate', Snapshot: 'snapshot' } as const;
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

/** A ring buffer of the last indexes of in-flight append messages. */
export class Inflights {
  private readonly buffer: number[];
  private start = 0;
  count = 0;

  constructor(readonly capacity: number) {
    this.buffer = new Array<number>(capacity).fill(0);
  }

  full(): boolean {
    return this.count === this.capacity;
  }

  add(lastIndex: number): void {
    assert(!this.full(), 'inflights overflow');
    this.buffer[(this.start + this.count) % this.capacity] = lastIndex;
    this.count++;
  }

  /** Forget every message whose last index is at or below `index` (acknowledged). */
  freeLE(index: number): void {
    while (this.count > 0 && this.buffer[this.start]! <= index) {
      this.start = (this.start + 1) % this.capacity;
      this.count--;
    }
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
  }
}

/** The snapshot being streamed to a follower. */
export interface OutgoingSnapshot {
  readonly index: number;
  readonly term: number;
  readonly conf: ConfState;
  /** Offset of the chunk in flight (or of the next one to send); everything before it is acknowledged. */
  offset: number;
  /** End offset of the chunk in flight, or -1 when none is. */
  inflightEnd: number;
}

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = ProgressState.Probe;
  /** Probe state: an append was sent and not yet answered. */
  probeSent = false;
  /** The highest commit index sent to this follower in an append (commitNotify). */
  commitSent = 0;
  readonly inflights: Inflights;
  /** Heard from since the last check-quorum round (thesis §6.2). */
  recentActive = true;
  /** Heartbeat responses received without progress while something is outstanding: triggers a resend. */
  stalledHeartbeats = 0;
  snapshot: OutgoingSnapshot | null = null;

  constructor(readonly id: NodeId, next: number, inflightMax: number, public isLearner: boolean) {
    this.next = next;
    this.inflights = new Inflights(inflightMax);
  }

  becomeProbe(): void {
    // Resume right after what is known to match. (A snapshot counts only once the follower
    // acknowledged installing it, which raised `match` to its index.)
    this.next = this.match + 1;
    this.state = ProgressState.Probe;
    this.probeSent = false;
    this.snapshot = null;
    this.inflights.reset();
    this.stalledHeartbeats = 0;
  }

  becomeReplicate(): void {
    this.state = ProgressState.Replicate;
    this.next = this.match + 1;
    this.probeSent = false;
    this.snapshot = null;
    this.inflights.reset();
    this.stalledHeartbeats = 0;
  }

  becomeSnapshot(snapshot: { index: number; term: number; conf: ConfState }): void {
    this.state = ProgressState.Snapshot;
    this.probeSent = false;
    this.inflights.reset();
    this.snapshot = { index: snapshot.index, term: snapshot.term, conf: snapshot.conf, offset: 0, inflightEnd: -1 };
    this.stalledHeartbeats = 0;
  }

  /** A successful append response for `index`: returns true if it told us something new. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
      this.probeSent = false;
      this.stalledHeartbeats = 0;
    }
    if (index + 1 > this.next) this.next = index + 1;
    return updated;
  }

  /**
   * A rejection of the append whose prevLogIndex was `rejected`; `hint` is
   * where the leader's fast-backtracking search says to probe next. Returns
   * false for a stale rejection (one answering an append already superseded).
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false;
      this.next = Math.max(this.match + 1, Math.min(rejected, hint));
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(this.match + 1, Math.min(rejected, hint));
    this.probeSent = false;
    return true;
  }

  /** No more appends may be sent right now. */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflights.full();
      case ProgressState.Snapshot:
        return true;
    }
  }
}
