/**
 * This member's status report (`cluster.status`, the status command and the
 * metrics gauges), assembled from the loop's, the core's and the storage's
 * views. Kept out of the Ready loop: it only reads.
 */
import type { MemberInfo, MemberStatus } from '../protocol/index.js';
import type { CoreStatus } from './ports.js';

/** Who this member is and where it is reached. The client URL is a getter: it is known once the listener is bound. */
export interface MemberIdentity {
  readonly name: string;
  readonly peerUrl: string;
  clientUrl(): string;
  /** Where this member serves the Redis protocol, once bound; null when it does not. */
  respUrl?(): string | null;
  readonly version: string;
}

export interface StatusInputs {
  readonly identity: MemberIdentity;
  readonly core: CoreStatus;
  readonly appliedIndex: number;
  readonly snapshotIndex: number;
  readonly firstLogIndex: number;
  readonly storageFailed: boolean;
  readonly leaderClientUrl: string | null;
  readonly members: readonly { name: string; peerUrl: string; clientUrl: string | null }[];
  /** Bytes of the data directory on disk, when known. */
  readonly dataSizeBytes?: number;
}

export function memberStatus(inputs: StatusInputs): { member: MemberStatus; members: MemberInfo[] } {
  const { identity, core, storageFailed } = inputs;
  const voters = new Set(core.conf.voters);
  const clientUrl = identity.clientUrl();
  return {
    member: {
      name: identity.name,
      clientUrl,
      peerUrl: identity.peerUrl,
      // A member whose disk failed no longer takes part, whatever its core last believed.
      role: storageFailed ? 'follower' : core.role,
      term: core.term,
      commitIndex: core.commitIndex,
      appliedIndex: inputs.appliedIndex,
      snapshotIndex: inputs.snapshotIndex,
      firstLogIndex: inputs.firstLogIndex,
      lastLogIndex: core.lastLogIndex,
      leaderId: storageFailed ? null : core.leader,
      leaderClientUrl: inputs.leaderClientUrl,
      storageFailed,
      version: identity.version,
      ...(inputs.dataSizeBytes !== undefined ? { dataSizeBytes: inputs.dataSizeBytes } : {}),
    },
    members: inputs.members.map((m) => ({
      name: m.name,
      peerUrl: m.peerUrl,
      clientUrl: m.name === identity.name ? clientUrl : m.clientUrl,
      voter: voters.has(m.name),
    })),
  };
}

/**
 * The identity a starting member hands to its parts: the configured client
 * URL until the client listener is bound, then the bound address (they differ
 * when the configuration asked for port 0).
 */
export class StartingIdentity implements MemberIdentity {
  private boundClientUrl: string | null = null;
  private boundRespUrl: string | null = null;

  constructor(
    readonly name: string,
    readonly peerUrl: string,
    private readonly configuredClientUrl: string,
    readonly version: string,
  ) {}

  clientUrl(): string {
    return this.boundClientUrl ?? this.configuredClientUrl;
  }

  /** The client listener is bound at `address`. */
  listening(address: string): void {
    this.boundClientUrl = address;
  }

  respUrl(): string | null {
    return this.boundRespUrl;
  }

  /** The RESP listener is bound at `address` (announced to the peers from now on). */
  respListening(address: string): void {
    this.boundRespUrl = address;
  }
}
