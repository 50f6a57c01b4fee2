/**
 * The membership methods on the leader: `member.list/add/promote/remove` and
 * `leader.transfer` (the client service checks permissions and forwards
 * from followers; see kv-service.ts). A change is checked against the rules
 * (member-rules.ts), proposed as one ConfChange entry whose context carries
 * the member's URLs (member-table.ts), and answered once it is applied here:
 * the member table and the core's configuration then agree on every member.
 * One change at a time (thesis §4.1): the core refuses a second while the
 * first is unapplied, and so do we, with the index it waits for.
 *
 * A leader asked to remove itself first hands leadership to a caught-up
 * voter and lets the new leader make the change: the cluster then has a
 * leader throughout, instead of waiting an election timeout after the old
 * one steps down (thesis §4.2.2; that remains the fallback).
 */
import type { Clock } from '../common/clock.js';
import type { RandomSource } from '../common/rng.js';
import { ConfChangeType, DropReason, InvalidConfChangeError, ProposalDroppedError, isJoint, type ConfChange } from '../raft/index.js';
import { ErrorCode, ServerError, type MemberEntry, type MethodTypes, type ResponseHeader } from '../protocol/index.js';
import { invalidRequest, leaderChanged, requestTimedOut, shuttingDown, type LeaderHint } from './errors.js';
import { transferLeadership, type TransferHost } from './leader-transfer.js';
import type { Logger } from './logger.js';
import { checkAdd, checkPromote, isRepeatedAdd, checkRemove, trailingEntries, type LeaderView } from './member-rules.js';
import { encodeAddContext, type MemberTable } from './member-table.js';

type Req<M extends keyof MethodTypes> = MethodTypes[M]['request'];
type Res<M extends keyof MethodTypes> = MethodTypes[M]['response'];

/** The loop as the membership methods need it (RaftHost). */
export interface MembershipHost extends TransferHost {
  proposeConfChange(change: ConfChange): { index: number; term: number };
  readonly appliedIndex: number;
  readonly halted: boolean;
  hint(): LeaderHint;
}

export interface MembershipDeps {
  readonly host: MembershipHost;
  readonly table: MemberTable;
  /** Links: whether a peer is reachable now, and the client URL it announced. */
  readonly peers: { isLive(name: string, withinMs: number): boolean; clientUrlOf(name: string): string | null };
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly logger: Logger;
  readonly electionTimeoutMs: number;
  /** After handing leadership away (a leader removing itself): send the request on to the new leader. */
  readonly forwardRemove: (request: Req<'member.remove'>, deadlineMs: number) => Promise<Res<'member.remove'>>;
}

/** How often a proposed change is checked for having been applied. */
const appliedPollMs = 5;
/** How long a change waits for a new leader to have applied its log (its core refuses changes until then). */
const newLeaderSettleMs = 2000;

export class MembershipService {
  /** The change this leader proposed and has not seen applied (null: none). */
  private inFlight: { index: number; term: number } | null = null;

  constructor(private readonly deps: MembershipDeps) {}

  /** The leader's view for the rules. */
  view(): LeaderView {
    const { host } = this.deps;
    const status = host.coreStatus();
    const inFlight = this.inFlight !== null && host.appliedIndex < this.inFlight.index ? this.inFlight.index : null;
    const active: Record<string, boolean> = {};
    for (const name of Object.keys(status.matchIndex)) active[name] = this.live(name);
    return {
      self: host.name,
      voters: status.conf.voters,
      learners: [...status.conf.learners, ...status.conf.learnersNext],
      pendingIndex: isJoint(status.conf) ? Math.max(status.lastLogIndex, this.deps.table.changeIndex) : inFlight,
      lastIndex: status.lastLogIndex,
      match: status.matchIndex,
      active,
    };
  }

  /** Every member of the configuration, as the leader sees it. */
  entries(view: LeaderView = this.view()): MemberEntry[] {
    const { table, host, peers } = this.deps;
    const names = [...new Set([...view.voters, ...view.learners])].sort();
    return names.map((name): MemberEntry => {
      const record = table.get(name);
      return {
        name,
        id: record?.id ?? '',
        peerUrl: record?.peerUrl ?? '',
        clientUrl: peers.clientUrlOf(name) ?? record?.clientUrl ?? null,
        role: view.voters.includes(name) ? 'voter' : 'learner',
        isLeader: name === host.name,
        matchIndex: name === host.name ? view.lastIndex : (view.match[name] ?? 0),
        trailingEntries: trailingEntries(view, name),
        active: name === host.name || view.active[name] === true,
      };
    });
  }

  list(header: () => ResponseHeader): Res<'member.list'> {
    const view = this.view();
    return { header: header(), members: this.entries(view), leaderLastIndex: view.lastIndex };
  }

  async add(request: Req<'member.add'>, deadlineMs: number, header: () => ResponseHeader): Promise<Res<'member.add'>> {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(request.name)) {
      throw invalidRequest(`member name "${request.name}" must be 1-64 letters, digits, '.', '_' or '-'`, 'bad member name');
    }
    const view = this.view();
    if (isRepeatedAdd(view, this.deps.table.peerUrls(), request)) return this.answer(request.name, header);
    const problem = checkAdd(view, this.deps.table.peerUrls(), request);
    if (problem !== null) throw problem;
    const id = randomId(this.deps.random);
    const context = encodeAddContext({ member: { name: request.name, id, peerUrl: request.peerUrl, clientUrl: request.clientUrl ?? null } });
    const type = request.learner ? ConfChangeType.AddLearner : ConfChangeType.AddVoter;
    await this.change({ changes: [{ type, nodeId: request.name }], context }, deadlineMs);
    this.deps.logger.info({ member: request.name, id, peerUrl: request.peerUrl, learner: request.learner }, 'member added');
    return this.answer(request.name, header);
  }

  async promote(request: Req<'member.promote'>, deadlineMs: number, header: () => ResponseHeader): Promise<Res<'member.promote'>> {
    const problem = checkPromote(this.view(), request.name);
    if (problem !== null) throw problem;
    await this.change({ changes: [{ type: ConfChangeType.AddVoter, nodeId: request.name }] }, deadlineMs);
    this.deps.logger.info({ member: request.name }, 'learner promoted to voter');
    return this.answer(request.name, header);
  }

  async remove(request: Req<'member.remove'>, deadlineMs: number, header: () => ResponseHeader): Promise<Res<'member.remove'>> {
    const { host } = this.deps;
    const view = this.view();
    const problem = checkRemove(view, request.name, request.force);
    if (problem !== null) throw problem;
    const before = this.entries(view).find((m) => m.name === request.name)!;
    if (request.name === host.name && view.voters.length > 1) {
      const moved = await transferLeadership(host, this.transferIo(), { deadlineMs: Math.min(deadlineMs, this.deps.clock.monotonicMs() + 3 * this.deps.electionTimeoutMs) });
      if (moved.ok && moved.leader !== null && moved.leader !== host.name) {
        this.deps.logger.info({ leader: moved.leader }, 'handed leadership over before removing this member; the new leader removes it');
        return this.deps.forwardRemove(request, deadlineMs);
      }
      this.deps.logger.warn({ reason: moved.reason }, 'could not hand leadership over first: removing this leader directly (it steps down once the change commits)');
    }
    await this.change({ changes: [{ type: ConfChangeType.RemoveNode, nodeId: request.name }] }, deadlineMs);
    this.deps.logger.info({ member: request.name, id: before.id }, 'member removed');
    const after = this.deps.host.isLeader() ? this.entries() : this.entries(view).filter((m) => m.name !== request.name);
    return { header: header(), member: before, members: after };
  }

  async transfer(request: Req<'leader.transfer'>, deadlineMs: number, header: () => ResponseHeader): Promise<Res<'leader.transfer'>> {
    const { host } = this.deps;
    const previous = host.name;
    if (request.name !== undefined && request.name !== host.name && !this.view().voters.includes(request.name) && !this.view().learners.includes(request.name)) {
      throw new ServerError(ErrorCode.MemberNotFound, `no member is named "${request.name}"`, { name: request.name });
    }
    const outcome = await transferLeadership(host, this.transferIo(), { ...(request.name !== undefined ? { target: request.name } : {}), deadlineMs });
    if (!outcome.ok || outcome.leader === null) {
      throw new ServerError(ErrorCode.LeaderTransferFailed, `leadership transfer failed: ${outcome.reason}`, { target: outcome.target, reason: outcome.reason });
    }
    return { header: header(), previousLeader: previous, leader: outcome.leader };
  }

  /** Heard from within an election timeout over a link that is up (checkQuorum's recentActive resets each timeout). */
  private live(name: string): boolean {
    return this.deps.peers.isLive(name, this.deps.electionTimeoutMs);
  }

  private transferIo() {
    const { clock, logger, electionTimeoutMs } = this.deps;
    return { clock, logger, electionTimeoutMs, reachable: (name: string) => this.live(name) };
  }

  private answer(name: string, header: () => ResponseHeader): Res<'member.add'> {
    const members = this.entries();
    return { header: header(), member: members.find((m) => m.name === name)!, members };
  }

  /** Proposes `change` and resolves once it is applied here (its entry committed with our term). */
  private async change(change: ConfChange, deadlineMs: number): Promise<void> {
    const { host, table, clock } = this.deps;
    let at: { index: number; term: number };
    // A new leader accepts no change until it has applied its whole log (any entry in it may be one):
    // that passes within a round trip or two, so wait for it rather than refuse.
    const settleEnd = Math.min(deadlineMs, clock.monotonicMs() + newLeaderSettleMs);
    for (;;) {
      try {
        at = host.proposeConfChange(change);
        break;
      } catch (error) {
        const ours = this.inFlight !== null && host.appliedIndex < this.inFlight.index;
        const joint = isJoint(host.coreStatus().conf);
        if (!(error instanceof ProposalDroppedError && error.reason === DropReason.ConfChangePending) || ours || joint || clock.monotonicMs() >= settleEnd) {
          this.refused(error);
        }
        await new Promise<void>((resolve) => clock.setTimer(appliedPollMs, resolve));
      }
    }
    this.inFlight = at;
    while (host.appliedIndex < at.index || host.coreStatus().appliedIndex < at.index) {
      if (host.halted) throw shuttingDown(host.name, host.hint());
      if (clock.monotonicMs() >= deadlineMs) {
        throw requestTimedOut(`the membership change (log index ${at.index}) was proposed but not applied before the deadline; check \`concord member list\``);
      }
      await new Promise<void>((resolve) => clock.setTimer(appliedPollMs, resolve));
    }
    const term = table.termOfChangeAt(at.index);
    if (term !== at.term) {
      throw leaderChanged('write', host.hint(), 'leadership changed before the membership change committed; check `concord member list` before retrying');
    }
  }

  /** The core's refusal of a change as the client's error. */
  private refused(error: unknown): never {
    if (error instanceof ProposalDroppedError && error.reason === DropReason.ConfChangePending) {
      throw new ServerError(ErrorCode.MemberChangePending, 'another membership change is not applied yet: one change at a time; retry in a moment', {
        pendingIndex: this.inFlight?.index ?? 0,
      });
    }
    if (error instanceof InvalidConfChangeError) throw invalidRequest(error.message, 'invalid membership change');
    throw error;
  }
}

function randomId(random: RandomSource): string {
  let out = '';
  for (let i = 0; i < 4; i++) out += random.nextInt(0x10000).toString(16).padStart(4, '0');
  return out;
}
