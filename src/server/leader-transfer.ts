/**
 * Leadership transfer as the server does it (thesis §3.10), for
 * `leader.transfer`, for a leader removing itself, and for graceful shutdown.
 * The core hands over only to a voter whose log matches its own and gives up
 * after an election timeout; a target that just joined may still be catching
 * up, so the target is chosen among reachable voters that the leader heard
 * from recently, the request waits (up to its deadline) until the target is
 * caught up, and an abandoned attempt is retried while time remains. When no
 * voter is reachable the transfer gives up at once: a leader whose peers are
 * gone shuts down without waiting for them.
 */
import type { Clock } from '../common/clock.js';
import type { NodeId } from '../raft/index.js';
import type { Logger } from './logger.js';
import type { CoreStatus } from './ports.js';

/** What the transfer needs of the loop (RaftHost) and the links (PeerNetwork). */
export interface TransferHost {
  readonly name: string;
  isLeader(): boolean;
  leaderId(): NodeId | null;
  coreStatus(): CoreStatus;
  requestTransfer(target: NodeId): void;
  waitForLeaderChange(deadlineMs: number): Promise<void>;
}

export interface TransferOutcome {
  readonly ok: boolean;
  readonly target: NodeId | null;
  readonly leader: NodeId | null;
  /** Why it failed ('' when it succeeded). */
  readonly reason: string;
}

/** How far (entries) a target may trail when the transfer is asked: the core then brings it up to date first. */
const targetTrailingEntriesMax = 1000;
/** How often a waiting transfer looks again at the target's progress. */
const pollMs = 20;

/** Voters that could take over now: live (reachable and heard from recently), most caught-up first. */
export function transferCandidates(status: CoreStatus, self: NodeId, live: (name: NodeId) => boolean): NodeId[] {
  return status.conf.voters
    .filter((v) => v !== self && live(v))
    .sort((a, b) => (status.matchIndex[b] ?? 0) - (status.matchIndex[a] ?? 0) || (a < b ? -1 : 1));
}

/** True when this member and the voters it can reach now make a quorum (a leader's in-flight writes can still commit). */
export function quorumReachable(status: CoreStatus, self: NodeId, reachable: (name: NodeId) => boolean): boolean {
  const halves = [status.conf.voters, status.conf.votersOutgoing].filter((h) => h.length > 0);
  return halves.every((voters) => voters.filter((v) => v === self || reachable(v)).length >= Math.floor(voters.length / 2) + 1);
}

export async function transferLeadership(
  host: TransferHost,
  /** `reachable`: the member is live (its link is up and it was heard from within an election timeout). */
  io: { readonly clock: Clock; readonly logger: Logger; readonly reachable: (name: NodeId) => boolean; readonly electionTimeoutMs: number },
  request: { readonly target?: NodeId; readonly deadlineMs: number },
): Promise<TransferOutcome> {
  const { clock, logger } = io;
  const fail = (target: NodeId | null, reason: string): TransferOutcome => ({ ok: false, target, leader: host.leaderId(), reason });
  if (!host.isLeader()) return fail(request.target ?? null, `member ${host.name} is not the leader`);
  let target = request.target ?? null;
  while (clock.monotonicMs() < request.deadlineMs) {
    if (!host.isLeader()) {
      const leader = host.leaderId();
      if (leader === null) {
        // Stepped down (the target's election is under way): wait to learn who leads.
        await host.waitForLeaderChange(request.deadlineMs);
        continue;
      }
      return leader !== host.name ? { ok: true, target, leader, reason: '' } : fail(target, 'leadership did not move');
    }
    const status = host.coreStatus();
    if (target !== null && target !== request.target) target = null; // re-pick an automatic target each round
    if (request.target !== undefined) {
      if (!status.conf.voters.includes(request.target)) {
        return fail(request.target, status.conf.learners.includes(request.target) ? `"${request.target}" is a learner: promote it first` : `"${request.target}" is not a member`);
      }
      if (request.target === host.name) return { ok: true, target: host.name, leader: host.name, reason: '' };
      target = request.target;
      if (!io.reachable(target)) return fail(target, `"${target}" is not reachable (or has not been heard from recently)`);
    } else {
      target = transferCandidates(status, host.name, io.reachable)[0] ?? null;
      if (target === null) return fail(null, 'no other voter is reachable');
    }
    const trailing = status.lastLogIndex - (status.matchIndex[target] ?? 0);
    if (trailing > targetTrailingEntriesMax) {
      await sleep(clock, Math.min(pollMs, request.deadlineMs - clock.monotonicMs()));
      continue;
    }
    try {
      host.requestTransfer(target);
    } catch (error) {
      return fail(target, `the core refused: ${(error as Error).message}`);
    }
    logger.info({ target, trailingEntries: trailing }, 'transferring leadership');
    // The core abandons a transfer after an election timeout; wait a little longer than that, then retry.
    const attemptEnd = Math.min(request.deadlineMs, clock.monotonicMs() + io.electionTimeoutMs + 2 * pollMs);
    while (host.isLeader() && clock.monotonicMs() < attemptEnd) await host.waitForLeaderChange(attemptEnd);
  }
  if (!host.isLeader() && host.leaderId() !== null) return { ok: true, target, leader: host.leaderId(), reason: '' };
  return fail(target, target === null ? 'deadline passed' : `leadership did not move to "${target}" before the deadline`);
}

function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(Math.max(1, ms), resolve));
}
