/**
 * `client.members` and `client.leader`: the membership methods (etcd's
 * `MemberList/MemberAdd/MemberPromote/MemberRemove` and `MoveLeader`). Each
 * is one call under the client's deadline, sent like any other (following
 * the leader on NotLeader); the cluster's refusals arrive as typed errors
 * (MemberExistsError, LearnerNotCaughtUpError, QuorumAtRiskError, ...; see
 * errors.ts). A change whose outcome is unknown (a timeout, LeaderChanged)
 * is not retried blindly: list the members to see whether it took effect.
 */
import { Method, type LeaderTransferResponse, type MemberChangeResponse, type MemberListResponse, type MethodTypes } from '../protocol/index.js';
import type { CallOptions } from './options.js';

/** How the members call goes out (the client's retry loop). */
export type MemberCall = <M extends Method>(method: M, request: MethodTypes[M]['request'], options: CallOptions) => Promise<MethodTypes[M]['response']>;

export interface MemberAddOptions extends CallOptions {
  readonly peerUrl: string;
  readonly clientUrl?: string;
  /** Add as a non-voting learner (promote it once it has caught up): the safe default for growing a cluster. */
  readonly learner?: boolean;
  /** Add a voter even though the live voters would then be short of a quorum. */
  readonly force?: boolean;
}

export interface MemberRemoveOptions extends CallOptions {
  /** Remove even though the live voters would then be short of a quorum. */
  readonly force?: boolean;
}

function callOptions(options: CallOptions): CallOptions {
  return { ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}), ...(options.signal !== undefined ? { signal: options.signal } : {}) };
}

export class MemberAdmin {
  constructor(private readonly call: MemberCall) {}

  /** Every member, as the leader sees it: role, URLs, how far it trails the leader. */
  list(options: CallOptions = {}): Promise<MemberListResponse> {
    return this.call(Method.MemberList, {}, options);
  }

  /** Adds `name`; resolves once the change is applied on the leader. Start the member with `--initial-cluster-state existing` next. */
  add(name: string, options: MemberAddOptions): Promise<MemberChangeResponse> {
    return this.call(
      Method.MemberAdd,
      {
        name,
        peerUrl: options.peerUrl,
        learner: options.learner === true,
        ...(options.clientUrl !== undefined ? { clientUrl: options.clientUrl } : {}),
        ...(options.force === true ? { force: true } : {}),
      },
      callOptions(options),
    );
  }

  /** Makes the caught-up learner `name` a voter (LearnerNotCaughtUpError says how far it trails otherwise). */
  promote(name: string, options: CallOptions = {}): Promise<MemberChangeResponse> {
    return this.call(Method.MemberPromote, { name }, options);
  }

  /** Removes `name` (QuorumAtRiskError when the live voters would be short of a quorum, unless `force`). */
  remove(name: string, options: MemberRemoveOptions = {}): Promise<MemberChangeResponse> {
    return this.call(Method.MemberRemove, { name, force: options.force === true }, callOptions(options));
  }
}

export class LeaderAdmin {
  constructor(private readonly call: MemberCall) {}

  /** Hands leadership to `name` (or the most caught-up reachable voter); resolves once another member leads. */
  transfer(name?: string, options: CallOptions = {}): Promise<LeaderTransferResponse> {
    return this.call(Method.LeaderTransfer, name === undefined ? {} : { name }, options);
  }
}
