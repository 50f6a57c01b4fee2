/**
 * The leader's side of the protocol, as functions of the node's state (etcd's
 * `stepLeader(r, m)` and the sending half of raft.go): replication of the log
 * to every follower (appends, pipelining and probing per Progress, thesis
 * §10.2.1), heartbeats, commitment (paper §5.3, §5.4.2), snapshot sending
 * (thesis Figure 5.3), ReadIndex confirmation (thesis §6.4, with the queue in
 * read-only.ts) and leadership transfer (thesis §3.10).
 */
import { assert } from '../common/errors.js';
import { DropReason, ProposalDroppedError } from './errors.js';
import {
  MessageType,
  type AppendEntriesResponseMessage,
  type HeartbeatResponseMessage,
  type InstallSnapshotResponseMessage,
  type Message,
} from './messages.js';
import { ProgressState, type Progress } from './progress.js';
import { jointCommitIndex, jointQuorumActive } from './quorum.js';
import type { Raft } from './raft.js';
import { LogCompactedError, SnapshotUnavailableError } from './storage.js';
import type { Entry, NodeId, SnapshotMetadata } from './types.js';

const EMPTY_ENTRIES: readonly Entry[] = Object.freeze([]);

export function stepLeader(r: Raft, m: Message): void {
  if (m.type === MessageType.TransferLeader) {
    handleTransferLeader(r, m.transferee);
    return;
  }
  // All other message types require a progress for m.from (as etcd's stepLeader): a member
  // removed from the configuration, or a node never added, gets no answer.
  const pr = r.progress.get(m.from);
  if (pr === undefined) return;
  switch (m.type) {
    case MessageType.AppendEntriesResponse:
      pr.recentActive = true;
      handleAppendResponse(r, m, pr);
      return;
    case MessageType.HeartbeatResponse:
      pr.recentActive = true;
      handleHeartbeatResponse(r, m, pr);
      return;
    case MessageType.InstallSnapshotResponse:
      pr.recentActive = true;
      handleSnapshotResponse(r, m, pr);
      return;
    case MessageType.ReadIndex:
      handleReadIndex(r, m.from, m.context);
      return;
    default:
      // Another leader in our term cannot exist (Election Safety); vote responses are late.
      return;
  }
}

// ----------------------------------------------------------- replication

/**
 * Paper Figure 2 (leaders): on success update matchIndex and nextIndex; on a
 * log inconsistency move nextIndex back and retry (§5.3). The probe /
 * replicate / snapshot states around it are etcd's flow control (Progress).
 */
function handleAppendResponse(r: Raft, m: AppendEntriesResponseMessage, pr: Progress): void {
  if (!m.success) {
    const hint = backtrackHint(r, m, pr);
    const wasReplicate = pr.state === ProgressState.Replicate;
    if (pr.maybeDecrTo(m.index, hint)) {
      if (wasReplicate) {
        const next = pr.next;
        pr.becomeProbe();
        pr.next = Math.max(pr.match + 1, next);
      }
      r.pendingBroadcast = true;
    }
    return;
  }
  const updated = pr.maybeUpdate(m.index);
  if (!updated && !(pr.state === ProgressState.Probe && pr.match === m.index)) return;
  switch (pr.state) {
    case ProgressState.Probe:
      pr.becomeReplicate();
      break;
    case ProgressState.Snapshot:
      if (pr.snapshot !== null && pr.match >= pr.snapshot.index) pr.becomeProbe();
      break;
    case ProgressState.Replicate:
      pr.inflights.freeLE(m.index);
      break;
  }
  r.pendingBroadcast = true;
  if (updated) maybeCommit(r);
  if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) sendTimeoutNow(r, m.from);
}

/**
 * Where to probe next after a rejection (thesis §5.3.1): if we hold entries
 * of the conflicting term, right after our last one of it; otherwise at the
 * follower's first index of that term (or its log end).
 */
function backtrackHint(r: Raft, m: AppendEntriesResponseMessage, pr: Progress): number {
  if (m.conflictTerm === 0) return m.conflictIndex;
  let j = Math.min(m.index, r.log.lastIndex());
  while (j > pr.match) {
    const t = r.log.termOrMissing(j);
    if (t === -1 || t <= m.conflictTerm) {
      if (t === m.conflictTerm) return j + 1;
      break;
    }
    j--;
  }
  return m.conflictIndex;
}

/** A heartbeat answer: the follower is alive; resend what looks lost; count it towards pending reads (thesis §6.4). */
function handleHeartbeatResponse(r: Raft, m: HeartbeatResponseMessage, pr: Progress): void {
  pr.probeSent = false;
  const stalledHeartbeatsMax = Math.max(2, Math.ceil(r.cfg.electionTimeoutTicks / r.cfg.heartbeatIntervalTicks / 2));
  if (pr.state === ProgressState.Replicate && pr.match < r.log.lastIndex()) {
    // Nothing acknowledged for several heartbeat rounds although the follower is behind: an
    // append or its answer was lost; probe again from what is known to match.
    if (++pr.stalledHeartbeats >= stalledHeartbeatsMax) pr.becomeProbe();
  } else if (pr.state === ProgressState.Snapshot && pr.snapshot !== null && pr.snapshot.inflightEnd >= 0) {
    // A snapshot chunk (or its acknowledgement) was lost: send it again.
    if (++pr.stalledHeartbeats >= stalledHeartbeatsMax) {
      pr.stalledHeartbeats = 0;
      sendSnapshotChunk(r, pr);
    }
  }
  if (pr.match < r.log.lastIndex()) r.pendingBroadcast = true;
  if (m.context.length > 0 && r.readOnly.recvAck(m.from, m.context)) {
    for (const read of r.readOnly.advance(r.conf, r.id)) r.releaseRead(read.from, read.index, read.context);
  }
}

/** Paper §5.3/§5.4.2: commit what a quorum holds, but by counting replicas only entries of the leader's own term. */
export function maybeCommit(r: Raft): boolean {
  const persisted = r.log.persistedIndex();
  const self = r.progress.get(r.id);
  if (self !== undefined) self.match = persisted;
  const index = jointCommitIndex(r.conf, (id) => (id === r.id ? persisted : (r.progress.get(id)?.match ?? 0)));
  if (!Number.isFinite(index) || index <= r.log.committed) return false;
  if (r.log.termOrMissing(index) !== r.term) return false;
  r.log.commitTo(index);
  r.pendingBroadcast = true;
  for (const read of r.readOnly.takeAwaitingCommit()) registerRead(r, read.from, read.context);
  return true;
}

/** Send appends to every follower that can take them, if anything asked for it since the last Ready (batching: one pass per Ready). */
export function maybeSendAppends(r: Raft): void {
  if (!r.pendingBroadcast) return;
  r.pendingBroadcast = false;
  for (const pr of r.progress.values()) {
    if (pr.id === r.id) continue;
    sendAppends(r, pr);
  }
}

/**
 * Send pr what it lacks: in replicate state as many appends as its inflight
 * window allows (pipelining, thesis §10.2.1), in probe state one at a time
 * until a match is found (§5.3), in snapshot state nothing (the snapshot is
 * in flight).
 */
function sendAppends(r: Raft, pr: Progress): void {
  if (pr.state === ProgressState.Snapshot) return;
  const last = r.log.lastIndex();
  let sent = false;
  while (!pr.isPaused() && pr.next <= last) {
    if (!sendAppend(r, pr, false)) return;
    sent = true;
    if (pr.state !== ProgressState.Replicate) break;
  }
  if (sent || pr.isPaused()) return;
  // Nothing new to send. In probe state an empty append asks whether the follower's log
  // holds our entry at next - 1. A newer commit index alone, though, costs no message: it
  // rides on the next append with entries, or on the next heartbeat (which carries
  // min(match, commit)). Under load that saves a message and its answer per follower per
  // batch, sent just when the leader is answering its clients; idle, followers learn the
  // commit index within a heartbeat interval (hashicorp/raft's CommitTimeout does the same).
  // Nothing waits on it: followers need it only to apply, and serve no linearizable request
  // on their own (they forward to the leader).
  if (pr.state === ProgressState.Probe && pr.next - 1 > pr.match) sendAppend(r, pr, true);
  // Unless followers should apply promptly (they serve watches from their applied state): then an
  // empty append, once per commit advance, tells a follower in replicate state what it holds.
  else if (r.cfg.commitNotify && pr.state === ProgressState.Replicate && pr.commitSent < Math.min(r.log.committed, pr.next - 1)) sendAppend(r, pr, true);
}

/** One AppendEntries from pr.next; falls back to a snapshot when those entries are compacted. */
function sendAppend(r: Raft, pr: Progress, allowEmpty: boolean): boolean {
  const log = r.log;
  const prevLogIndex = pr.next - 1;
  let prevLogTerm: number;
  let entries: readonly Entry[];
  try {
    prevLogTerm = log.term(prevLogIndex);
    entries = pr.next <= log.lastIndex() ? log.slice(pr.next, log.lastIndex() + 1, r.cfg.appendBytesMax) : EMPTY_ENTRIES;
  } catch (e) {
    if (e instanceof LogCompactedError) {
      sendSnapshot(r, pr);
      return false;
    }
    throw e;
  }
  if (entries.length === 0 && !allowEmpty) return false;
  const leaderCommit = log.committed;
  r.send({ type: MessageType.AppendEntries, from: r.id, to: pr.id, term: r.term, prevLogIndex, prevLogTerm, entries, leaderCommit });
  pr.commitSent = Math.max(pr.commitSent, leaderCommit);
  const lastSent = prevLogIndex + entries.length;
  if (entries.length > 0 && pr.state === ProgressState.Replicate) {
    pr.next = lastSent + 1;
    pr.inflights.add(lastSent);
  } else if (pr.state === ProgressState.Probe) {
    pr.probeSent = true;
  }
  return true;
}

/** Heartbeats (paper §5.2) carry min(match, commit), which the follower's log holds, and the read sequence number while reads wait. */
export function broadcastHeartbeat(r: Raft): void {
  const context = r.readOnly.heartbeatContext();
  for (const pr of r.progress.values()) {
    if (pr.id === r.id) continue;
    const commit = Math.min(pr.match, r.log.committed);
    r.send({ type: MessageType.Heartbeat, from: r.id, to: pr.id, term: r.term, commit, context });
  }
}

// -------------------------------------------------------------- snapshots

function sendSnapshot(r: Raft, pr: Progress): void {
  const meta = r.cfg.storage.snapshotMetadata();
  assert(meta.index > 0, `entries for ${pr.id} are compacted but storage has no snapshot`);
  pr.becomeSnapshot(meta);
  sendSnapshotChunk(r, pr);
}

/** Send the chunk at the snapshot's acknowledged offset (thesis Figure 5.3; one chunk in flight). */
function sendSnapshotChunk(r: Raft, pr: Progress): void {
  let s = pr.snapshot;
  assert(s !== null, 'sendSnapshotChunk outside snapshot state');
  const storage = r.cfg.storage;
  let chunk;
  try {
    chunk = storage.snapshotChunk(s.index, s.offset, r.cfg.snapshotChunkBytesMax);
  } catch (e) {
    if (!(e instanceof SnapshotUnavailableError)) throw e;
    // The snapshot being sent is gone. A host keeps it while the transfer lasts (snapshotTransfers()
    // in raw-node.ts), so this is a host that does not: start over with the latest one.
    pr.becomeSnapshot(storage.snapshotMetadata());
    s = pr.snapshot!;
    chunk = storage.snapshotChunk(s.index, 0, r.cfg.snapshotChunkBytesMax);
  }
  const snapshot: SnapshotMetadata = { index: s.index, term: s.term, conf: s.conf };
  r.send({ type: MessageType.InstallSnapshot, from: r.id, to: pr.id, term: r.term, snapshot, offset: s.offset, data: chunk.data, done: chunk.done });
  s.inflightEnd = s.offset + chunk.data.length;
}

function handleSnapshotResponse(r: Raft, m: InstallSnapshotResponseMessage, pr: Progress): void {
  if (m.done) {
    // The follower holds everything up to the snapshot index it answers for.
    const updated = pr.maybeUpdate(m.snapshotIndex);
    // Leave snapshot state only if that covers the snapshot being sent: a late or duplicated
    // answer about an older snapshot must not abort the transfer in flight.
    if (pr.state === ProgressState.Snapshot && (pr.snapshot === null || pr.match >= pr.snapshot.index)) pr.becomeProbe();
    r.pendingBroadcast = true;
    if (updated) maybeCommit(r);
    return;
  }
  const s = pr.snapshot;
  if (pr.state !== ProgressState.Snapshot || s === null || m.snapshotIndex !== s.index) return;
  pr.stalledHeartbeats = 0;
  if (s.inflightEnd >= 0 && m.nextOffset === s.offset && s.inflightEnd !== s.offset) return; // the chunk in flight is not answered yet
  s.offset = m.nextOffset;
  s.inflightEnd = -1;
  sendSnapshotChunk(r, pr);
}

// ------------------------------------------------------------- ReadIndex

/** A ReadIndex request at the leader, from a follower or from this node (thesis §6.4). */
export function handleReadIndex(r: Raft, from: NodeId, context: Uint8Array): void {
  if (r.readOnly.isFull()) {
    if (from === r.id) throw new ProposalDroppedError(DropReason.PendingReadsLimit, r.id);
    return;
  }
  // The commit index is only known to be current once an entry of this term committed (§6.4 step 1).
  if (r.log.termOrMissing(r.log.committed) !== r.term) {
    r.readOnly.waitForCommit(from, context);
    return;
  }
  registerRead(r, from, context);
}

function registerRead(r: Raft, from: NodeId, context: Uint8Array): void {
  if (jointQuorumActive(r.conf, (id) => id === r.id)) {
    // A single-voter cluster confirms its own leadership.
    r.releaseRead(from, r.log.committed, context);
    return;
  }
  // One heartbeat round, sent with the next Ready, confirms every read registered before it (§6.4 steps 2-3).
  r.readOnly.addRequest(from, context, r.log.committed);
}

// --------------------------------------------------- leadership transfer

/** Thesis §3.10: stop accepting proposals, bring `to` up to date, then send it TimeoutNow. */
export function handleTransferLeader(r: Raft, to: NodeId): void {
  if (to === r.id) {
    r.leadTransferee = null;
    return;
  }
  const pr = r.progress.get(to);
  if (pr === undefined || pr.isLearner) return; // only a voter can lead
  if (r.leadTransferee === to) return;
  r.leadTransferee = to;
  // The transfer must finish within an election timeout, else it is abandoned (see tickLeader).
  r.electionElapsedTicks = 0;
  if (pr.match === r.log.lastIndex()) sendTimeoutNow(r, to);
  else r.pendingBroadcast = true;
}

function sendTimeoutNow(r: Raft, to: NodeId): void {
  r.send({ type: MessageType.TimeoutNow, from: r.id, to, term: r.term });
}
