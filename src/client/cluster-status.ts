/**
 * `KvClient.status()`: every member's own report (role, term, commit and
 * applied index, leader), asked of each member directly, and the leader most
 * of them agree on. Unreachable members are listed with `status: null` and
 * the reason.
 */
import { Method, type MemberInfo, type MethodTypes } from '../protocol/index.js';
import type { Deadline } from './deadline.js';
import type { EndpointPool } from './endpoint-pool.js';
import type { ClusterStatus, MemberReport } from './options.js';
import { plainCall, rpcOptions, type RetryLoop } from './retry-loop.js';

const statusCall = plainCall(Method.Status);

export async function clusterStatus(loop: RetryLoop, pool: EndpointPool, deadline: Deadline): Promise<ClusterStatus> {
  const first = await loop.invoke(statusCall, {}, deadline, null);
  const reports = await Promise.all(
    first.members.map(async (member: MemberInfo): Promise<MemberReport> => {
      const base = { name: member.name, peerUrl: member.peerUrl, clientUrl: member.clientUrl, voter: member.voter };
      if (member.name === first.member.name) return { ...base, clientUrl: first.member.clientUrl, status: first.member, error: null };
      if (member.clientUrl === null) return { ...base, status: null, error: 'client URL not known yet' };
      try {
        const channel = await deadline.race(pool.channel(member.clientUrl));
        const answer = (await channel.call(Method.Status, {}, rpcOptions(deadline))) as MethodTypes['cluster.status']['response'];
        return { ...base, status: answer.member, error: null };
      } catch (error) {
        return { ...base, status: null, error: error instanceof Error ? error.message : String(error) };
      }
    }),
  );
  return { leaderId: majorityLeader(reports), members: reports };
}

/** The leader most reachable members agree on. */
export function majorityLeader(reports: readonly MemberReport[]): string | null {
  const votes = new Map<string, number>();
  for (const report of reports) {
    const leader = report.status?.leaderId;
    if (leader) votes.set(leader, (votes.get(leader) ?? 0) + 1);
  }
  let best: string | null = null;
  let bestVotes = 0;
  for (const [leader, count] of votes) {
    if (count > bestVotes) [best, bestVotes] = [leader, count];
  }
  return best;
}
