/**
 * Member administration from the page: add (always as a learner: the safe
 * way to grow a cluster), promote, remove and leadership transfer, through
 * the client library's `client.members` / `client.leader` (the same calls
 * `concord member ...` makes), so auth (admin once it is on) and forwarding
 * to the leader behave exactly as for the CLI. A refusal (a removal that
 * would lose the quorum, a learner not caught up) reaches the page with the
 * member's own code and reason.
 */
import type { KvClient, MemberEntry } from '../client/index.js';
import { ConcordErrorCode } from '../common/errors.js';
import { DashboardApiError, stringField, type Json } from './api-http.js';

/** Membership calls can wait for an election or a catch-up: longer than a read. */
const memberCallTimeoutMs = 15_000;

function entry(m: MemberEntry): Json {
  return { name: m.name, id: m.id, peerUrl: m.peerUrl, clientUrl: m.clientUrl, role: m.role, isLeader: m.isLeader, trailingEntries: m.trailingEntries, active: m.active };
}

/** The answer to `route` when it is a member route, or null when it is not one. */
export async function memberRoute(route: string, body: Json, client: KvClient): Promise<Json | null> {
  const options = { timeoutMs: memberCallTimeoutMs };
  switch (route) {
    case 'GET /api/members': {
      const list = await client.members.list(options);
      return { members: list.members.map(entry), leaderLastIndex: list.leaderLastIndex };
    }
    case 'POST /api/members/add': {
      const peerUrl = stringField(body, 'peerUrl');
      const clientUrl = typeof body.clientUrl === 'string' && body.clientUrl !== '' ? body.clientUrl : undefined;
      const changed = await client.members.add(stringField(body, 'name'), { ...options, peerUrl, learner: true, ...(clientUrl !== undefined ? { clientUrl } : {}) });
      return { member: entry(changed.member), members: changed.members.map(entry) };
    }
    case 'POST /api/members/promote': {
      const changed = await client.members.promote(stringField(body, 'name'), options);
      return { member: entry(changed.member), members: changed.members.map(entry) };
    }
    case 'POST /api/members/remove': {
      const changed = await client.members.remove(stringField(body, 'name'), { ...options, force: body.force === true });
      return { member: entry(changed.member), members: changed.members.map(entry) };
    }
    case 'POST /api/leader/transfer': {
      if (body.to !== undefined && typeof body.to !== 'string') throw new DashboardApiError(400, ConcordErrorCode.DashboardBadRequest, 'to must be a member name');
      return { transfer: await client.leader.transfer(typeof body.to === 'string' && body.to !== '' ? body.to : undefined, options) };
    }
    default:
      return null;
  }
}
