/**
 * A member's role in the Raft protocol: one vocabulary for the core (which
 * steps through them), the server (which reports them) and the client
 * protocol (`MemberStatus.role`).
 */
export const Role = {
  Follower: 'follower',
  PreCandidate: 'pre-candidate',
  Candidate: 'candidate',
  Leader: 'leader',
} as const;
export type Role = (typeof Role)[keyof typeof Role];
