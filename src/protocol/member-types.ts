/**
 * Request and response types of the membership methods (issue 13 §1, etcd's
 * cluster API): list the members, add one (as a learner or a voter), promote
 * a learner, remove a member, hand leadership over. Every one is answered by
 * the leader (a follower forwards it), because only the leader knows how far
 * each member trails it and only it proposes membership changes.
 */
import type { ResponseHeader } from './types.js';

export type MemberRoleInConfig = 'voter' | 'learner';

/** One member as the leader sees it. */
export interface MemberEntry {
  readonly name: string;
  /** 16 hex digits, new each time a name is added. */
  readonly id: string;
  readonly peerUrl: string;
  /** The member's client URL as it announces it (or as given to member.add); null until known. */
  readonly clientUrl: string | null;
  readonly role: MemberRoleInConfig;
  readonly isLeader: boolean;
  /** Index up to which the member's log matches the leader's (the leader's own last index for itself). */
  readonly matchIndex: number;
  /** Entries the member trails the leader by (Consul's "Trails Leader By"). */
  readonly trailingEntries: number;
  /** The leader heard from it within the last election timeout. */
  readonly active: boolean;
}

export interface MemberListRequest {
  /** Reserved; send {}. */
  readonly verbose?: boolean;
}
export interface MemberListResponse {
  readonly header: ResponseHeader;
  readonly members: readonly MemberEntry[];
  readonly leaderLastIndex: number;
}

export interface MemberAddRequest {
  readonly name: string;
  readonly peerUrl: string;
  readonly clientUrl?: string;
  /** Add as a learner (non-voting; promote it once caught up): the safe way to grow a cluster. */
  readonly learner: boolean;
  /** Add a voter even though the live voters would then be short of a quorum. */
  readonly force?: boolean;
}

/** The answer to add, promote and remove: the member concerned and the configuration after the change. */
export interface MemberChangeResponse {
  readonly header: ResponseHeader;
  readonly member: MemberEntry;
  readonly members: readonly MemberEntry[];
}

export interface MemberPromoteRequest {
  readonly name: string;
}

export interface MemberRemoveRequest {
  readonly name: string;
  /** Remove even though the live voters would then be short of a quorum. */
  readonly force: boolean;
}

export interface LeaderTransferRequest {
  /** The voter to hand leadership to; absent: the most caught-up reachable voter. */
  readonly name?: string;
}
export interface LeaderTransferResponse {
  readonly header: ResponseHeader;
  readonly previousLeader: string;
  readonly leader: string;
}
