/**
 * Majority arithmetic, including joint configurations (thesis §4.3: while
 * joint, an election or a commit needs a majority of BOTH voter sets).
 */
import type { ConfState, NodeId } from './types.js';

export const VoteResult = { Pending: 'pending', Won: 'won', Lost: 'lost' } as const;
export type VoteResult = (typeof VoteResult)[keyof typeof VoteResult];

const scratch: number[] = [];

/**
 * The highest index replicated on a majority of `voters`, given each voter's
 * match index. An empty voter set places no constraint (Infinity), so that a
 * non-joint configuration's empty outgoing half is neutral.
 */
export function majorityIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  const n = voters.length;
  if (n === 0) return Infinity;
  if (n === 1) return matchOf(voters[0]!);
  // Insertion sort, descending: clusters are small and this runs on every acknowledgement.
  scratch.length = n;
  for (let i = 0; i < n; i++) {
    const v = matchOf(voters[i]!);
    let j = i;
    while (j > 0 && scratch[j - 1]! < v) {
      scratch[j] = scratch[j - 1]!;
      j--;
    }
    scratch[j] = v;
  }
  // With matches sorted descending, the (n/2 + 1)-th largest is held by a majority.
  return scratch[Math.floor(n / 2)]!;
}

export function jointCommitIndex(conf: ConfState, matchOf: (id: NodeId) => number): number {
  return Math.min(majorityIndex(conf.voters, matchOf), majorityIndex(conf.votersOutgoing, matchOf));
}

export function majorityVote(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.length === 0) return VoteResult.Won;
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  const quorum = Math.floor(voters.length / 2) + 1;
  if (granted >= quorum) return VoteResult.Won;
  if (granted + missing >= quorum) return VoteResult.Pending;
  return VoteResult.Lost;
}

export function jointVote(conf: ConfState, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const a = majorityVote(conf.voters, votes);
  const b = majorityVote(conf.votersOutgoing, votes);
  if (a === VoteResult.Lost || b === VoteResult.Lost) return VoteResult.Lost;
  if (a === VoteResult.Won && b === VoteResult.Won) return VoteResult.Won;
  return VoteResult.Pending;
}

/** True when the members in `active` form a quorum of the (possibly joint) configuration. */
export function jointQuorumActive(conf: ConfState, isActive: (id: NodeId) => boolean): boolean {
  const votes = new Map<NodeId, boolean>();
  for (const id of conf.voters) votes.set(id, isActive(id));
  for (const id of conf.votersOutgoing) votes.set(id, isActive(id));
  return jointVote(conf, votes) === VoteResult.Won;
}
