/**
 * The cluster as the dashboard shows it: `cluster.status` (the same call
 * `concord status` makes) plus what one answer cannot say: when a member that
 * is down was last seen, and the last leader changes this member's dashboard
 * watched happen.
 */
import type { ClusterStatus, KvClient } from '../client/index.js';
import type { Clock } from '../common/clock.js';

/** Leader changes remembered for the page. */
export const leaderChangesMax = 10;
/** Members remembered as "last seen" (a cluster larger than this forgets the oldest). */
export const lastSeenMax = 256;

export interface MemberView {
  readonly name: string;
  readonly peerUrl: string;
  readonly clientUrl: string | null;
  readonly voter: boolean;
  readonly up: boolean;
  readonly error: string | null;
  readonly role: string | null;
  readonly term: number | null;
  readonly commitIndex: number | null;
  readonly appliedIndex: number | null;
  /** Log entries this member's applied index trails the leader's commit index by. */
  readonly trailing: number | null;
  /** The /readyz verdict from the member's own report: knows a leader, has applied what it knows committed, storage works. */
  readonly ready: boolean;
  readonly version: string | null;
  /** Wall-clock ms when it last answered (null: never, since this dashboard started). */
  readonly lastSeenMs: number | null;
}

export interface ClusterView {
  readonly leader: string | null;
  readonly members: readonly MemberView[];
  readonly leaderChanges: readonly { readonly atMs: number; readonly from: string | null; readonly to: string | null }[];
  readonly nowMs: number;
}

export class ClusterTracker {
  private readonly lastSeen = new Map<string, number>();
  private readonly changes: { atMs: number; from: string | null; to: string | null }[] = [];
  private lastLeader: string | null | undefined = undefined;

  constructor(private readonly clock: Clock) {}

  async view(client: KvClient): Promise<ClusterView> {
    const status: ClusterStatus = await client.status({ timeoutMs: 3_000 });
    const nowMs = this.clock.nowMs();
    const leaderReport = status.members.find((m) => m.name === status.leaderId)?.status ?? null;
    const members = status.members.map((m): MemberView => {
      const s = m.status;
      if (s !== null) {
        this.lastSeen.delete(m.name);
        this.lastSeen.set(m.name, nowMs);
        if (this.lastSeen.size > lastSeenMax) this.lastSeen.delete(this.lastSeen.keys().next().value as string);
      }
      return {
        name: m.name,
        peerUrl: m.peerUrl,
        clientUrl: m.clientUrl,
        voter: m.voter,
        up: s !== null,
        error: m.error,
        role: s?.role ?? null,
        term: s?.term ?? null,
        commitIndex: s?.commitIndex ?? null,
        appliedIndex: s?.appliedIndex ?? null,
        trailing: s === null || leaderReport === null ? null : Math.max(0, leaderReport.commitIndex - s.appliedIndex),
        ready: s !== null && s.leaderId !== null && !s.storageFailed && s.appliedIndex >= s.commitIndex,
        version: s?.version ?? null,
        lastSeenMs: this.lastSeen.get(m.name) ?? null,
      };
    });
    if (this.lastLeader !== undefined && this.lastLeader !== status.leaderId) {
      this.changes.unshift({ atMs: nowMs, from: this.lastLeader, to: status.leaderId });
      if (this.changes.length > leaderChangesMax) this.changes.pop();
    }
    this.lastLeader = status.leaderId;
    return { leader: status.leaderId, members, leaderChanges: [...this.changes], nowMs };
  }
}
