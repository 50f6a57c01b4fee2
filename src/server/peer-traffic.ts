/**
 * Peer round-trip times for concord_network_peer_round_trip_time_seconds
 * (etcd's name), measured on Raft heartbeats: a leader sends each follower a
 * Heartbeat every heartbeat interval and the follower answers at once, so
 * the gap from a Heartbeat to the next HeartbeatResponse from that peer is
 * one network round trip plus the follower's loop turn. One measurement in
 * flight per peer (a lost heartbeat is replaced by the next one after
 * `staleMs`), timed on the member's clock, and at most one begun per
 * `sampleIntervalMs`: linearizable reads send a round of heartbeats per
 * batch, thousands a second under load, and a labelled histogram
 * observation per batch would cost more than the sample is worth (etcd's
 * prober also samples at an interval).
 */
import type { Clock } from '../common/clock.js';
import { MessageType, type Message, type NodeId } from '../raft/index.js';

export interface RoundTripSink {
  observe(peer: NodeId, seconds: number): void;
}

export class PeerRoundTrips {
  /** peer -> when the Heartbeat being timed went out (monotonicMs). */
  private readonly sentAtMs = new Map<NodeId, number>();
  /** peer -> when its last measurement ended (monotonicMs). */
  private readonly observedAtMs = new Map<NodeId, number>();

  constructor(
    private readonly clock: Clock,
    private readonly sink: RoundTripSink,
    /** An unanswered heartbeat older than this is forgotten (lost, or the peer is down). */
    private readonly staleMs = 5000,
    /** The least time from one measurement's end to the next one's start, per peer. */
    private readonly sampleIntervalMs = 1000,
  ) {}

  /** A Raft message goes out to `message.to`. */
  sent(message: Message): void {
    if (message.type !== MessageType.Heartbeat) return;
    const nowMs = this.clock.monotonicMs();
    const pending = this.sentAtMs.get(message.to);
    if (pending !== undefined) {
      // The heartbeat being timed was lost (or the peer is down): time this one instead.
      if (nowMs - pending > this.staleMs) this.sentAtMs.set(message.to, nowMs);
      return;
    }
    const lastMs = this.observedAtMs.get(message.to);
    if (lastMs !== undefined && nowMs - lastMs < this.sampleIntervalMs) return;
    this.sentAtMs.set(message.to, nowMs);
  }

  /** A Raft message arrived from `message.from`. */
  received(message: Message): void {
    if (message.type !== MessageType.HeartbeatResponse) return;
    const sentAtMs = this.sentAtMs.get(message.from);
    if (sentAtMs === undefined) return;
    this.sentAtMs.delete(message.from);
    const nowMs = this.clock.monotonicMs();
    this.observedAtMs.set(message.from, nowMs);
    this.sink.observe(message.from, (nowMs - sentAtMs) / 1000);
  }
}
