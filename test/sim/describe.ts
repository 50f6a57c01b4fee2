/** Compact one-line renderings of messages and entries for simulator traces. */
import { MessageType, type Message } from '../../src/raft/messages.js';
import type { Entry } from '../../src/raft/types.js';

export function describeEntries(entries: readonly Entry[]): string {
  if (entries.length === 0) return '[]';
  const first = entries[0] as Entry;
  const last = entries[entries.length - 1] as Entry;
  return entries.length === 1 ? `[${first.index}@${first.term}]` : `[${first.index}@${first.term}..${last.index}@${last.term}]`;
}

function ctx(data: Uint8Array): string {
  return data.length === 0 ? '-' : new TextDecoder().decode(data);
}

export function describeMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} t${m.term}`;
  switch (m.type) {
    case MessageType.RequestVote:
      return `${head} last=${m.lastLogIndex}@${m.lastLogTerm}${m.transfer ? ' transfer' : ''}`;
    case MessageType.RequestPreVote:
      return `${head} last=${m.lastLogIndex}@${m.lastLogTerm}`;
    case MessageType.RequestVoteResponse:
    case MessageType.RequestPreVoteResponse:
      return `${head} ${m.granted ? 'granted' : 'rejected'}`;
    case MessageType.AppendEntries:
      return `${head} prev=${m.prevLogIndex}@${m.prevLogTerm} ${describeEntries(m.entries)} commit=${m.leaderCommit}`;
    case MessageType.AppendEntriesResponse:
      return `${head} ${m.success ? 'ok' : 'reject'} index=${m.index}${m.success ? '' : ` conflict=${m.conflictIndex}@${m.conflictTerm}`}`;
    case MessageType.Heartbeat:
      return `${head} commit=${m.commit} ctx=${ctx(m.context)}`;
    case MessageType.HeartbeatResponse:
      return `${head} ctx=${ctx(m.context)}`;
    case MessageType.InstallSnapshot:
      return `${head} snap=${m.snapshot.index}@${m.snapshot.term} off=${m.offset} len=${m.data.length}${m.done ? ' done' : ''}`;
    case MessageType.InstallSnapshotResponse:
      return `${head} snap=${m.snapshotIndex} next=${m.nextOffset}${m.done ? ' done' : ''}`;
    case MessageType.TimeoutNow:
      return head;
    case MessageType.ReadIndex:
      return `${head} ctx=${ctx(m.context)}`;
    case MessageType.ReadIndexResponse:
      return `${head} index=${m.index} ctx=${ctx(m.context)}`;
    case MessageType.TransferLeader:
      return `${head} to=${m.transferee}`;
  }
}
