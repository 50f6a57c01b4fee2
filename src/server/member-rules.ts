/**
 * The safety rules of membership changes (Raft thesis chapter 4, and the
 * checks etcd's --strict-reconfig-check makes), as pure functions of the
 * leader's view, so that they are tested deterministically
 * (test/server/member-rules.test.ts). Each returns null when the change may
 * go ahead, or the refusal to answer with.
 */
import { ErrorCode, ServerError, type LearnerNotCaughtUpDetails, type QuorumAtRiskDetails } from '../protocol/index.js';

/** The leader's view of the configuration and of its followers. */
export interface LeaderView {
  readonly self: string;
  readonly voters: readonly string[];
  readonly learners: readonly string[];
  /** A joint configuration or an unapplied change is in flight (thesis §4.1: one change at a time). */
  readonly pendingIndex: number | null;
  readonly lastIndex: number;
  /** Per follower: how far its log matches ours. */
  readonly match: Readonly<Record<string, number>>;
  /** Per follower: heard from within the last election timeout (and its link is up). */
  readonly active: Readonly<Record<string, boolean>>;
}

/** How far (in entries) a learner may trail the leader's last index and still be promoted. */
export const learnerTrailingEntriesMax = 1000;

export function quorumOf(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

function isLive(view: LeaderView, name: string): boolean {
  return name === view.self || view.active[name] === true;
}

export function trailingEntries(view: LeaderView, name: string): number {
  if (name === view.self) return 0;
  return Math.max(0, view.lastIndex - (view.match[name] ?? 0));
}

function pending(view: LeaderView): ServerError | null {
  if (view.pendingIndex === null) return null;
  return new ServerError(
    ErrorCode.MemberChangePending,
    `another membership change (log index ${view.pendingIndex}) is not applied yet: one change at a time; retry in a moment`,
    { pendingIndex: view.pendingIndex },
  );
}

function quorumAtRisk(name: string, reason: string, voters: readonly string[], view: LeaderView): ServerError {
  const live = voters.filter((v) => isLive(view, v)).length;
  const details: QuorumAtRiskDetails = { name, reason, voters: voters.length, liveVoters: live, quorum: quorumOf(voters.length) };
  return new ServerError(ErrorCode.QuorumAtRisk, `${reason} (use force to do it anyway)`, details);
}

function notFound(name: string): ServerError {
  return new ServerError(ErrorCode.MemberNotFound, `no member is named "${name}"`, { name });
}

/**
 * Whether an add asks for exactly what the configuration already has (the
 * same name, peer URL and role): a client that retries an add whose answer it
 * lost (a timeout, a leader change) must get the member, not MemberExists for
 * its own earlier success. A different peer URL or role is still refused.
 */
export function isRepeatedAdd(
  view: LeaderView,
  peerUrls: Readonly<Record<string, string>>,
  request: { readonly name: string; readonly peerUrl: string; readonly learner: boolean },
): boolean {
  if (peerUrls[request.name] !== request.peerUrl) return false;
  return request.learner ? view.learners.includes(request.name) : view.voters.includes(request.name);
}

/** Adding `name` (`learner` or a voter) with `peerUrl`, given the members' peer URLs. */
export function checkAdd(
  view: LeaderView,
  peerUrls: Readonly<Record<string, string>>,
  request: { readonly name: string; readonly peerUrl: string; readonly learner: boolean; readonly force?: boolean },
): ServerError | null {
  const { name, peerUrl } = request;
  const members = new Set([...view.voters, ...view.learners, ...Object.keys(peerUrls)]);
  if (members.has(name)) return new ServerError(ErrorCode.MemberExists, `a member named "${name}" exists already`, { name, peerUrl });
  const owner = Object.entries(peerUrls).find(([, url]) => url === peerUrl);
  if (owner !== undefined) {
    return new ServerError(ErrorCode.MemberExists, `peer URL ${peerUrl} belongs to member "${owner[0]}" already`, { name: owner[0], peerUrl });
  }
  const wait = pending(view);
  if (wait !== null) return wait;
  if (!request.learner && request.force !== true) {
    // The new voter counts towards the quorum at once but is not live until it has caught up.
    const next = [...view.voters, name];
    const live = view.voters.filter((v) => isLive(view, v)).length;
    if (live < quorumOf(next.length)) {
      return quorumAtRisk(name, `adding voter "${name}" makes ${next.length} voters needing ${quorumOf(next.length)}, but only ${live} are live`, next, view);
    }
  }
  return null;
}

/** Promoting learner `name` to voter. */
export function checkPromote(view: LeaderView, name: string, trailingMax = learnerTrailingEntriesMax): ServerError | null {
  if (view.voters.includes(name)) return new ServerError(ErrorCode.MemberNotLearner, `member "${name}" is a voter already`, { name });
  if (!view.learners.includes(name)) return notFound(name);
  const wait = pending(view);
  if (wait !== null) return wait;
  const matchIndex = view.match[name] ?? 0;
  const trailing = trailingEntries(view, name);
  if (trailing > trailingMax || matchIndex === 0 || view.active[name] !== true) {
    const details: LearnerNotCaughtUpDetails = { name, matchIndex, leaderLastIndex: view.lastIndex, trailingEntries: trailing, trailingEntriesMax: trailingMax };
    const why = view.active[name] !== true ? 'has not been heard from recently' : `trails the leader by ${trailing} entries (at most ${trailingMax} allowed)`;
    return new ServerError(ErrorCode.LearnerNotCaughtUp, `learner "${name}" ${why}: its log matches up to ${matchIndex} of ${view.lastIndex}; wait until it has caught up`, details);
  }
  return null;
}

/** Removing `name`. */
export function checkRemove(view: LeaderView, name: string, force: boolean): ServerError | null {
  const isVoter = view.voters.includes(name);
  if (!isVoter && !view.learners.includes(name)) return notFound(name);
  const wait = pending(view);
  if (wait !== null) return wait;
  if (!isVoter || force) return null;
  const next = view.voters.filter((v) => v !== name);
  if (next.length === 0) return quorumAtRisk(name, `"${name}" is the last voter`, next, view);
  const live = next.filter((v) => isLive(view, v)).length;
  if (live < quorumOf(next.length)) {
    const down = next.filter((v) => !isLive(view, v));
    return quorumAtRisk(
      name,
      `removing "${name}" leaves ${next.length} voters needing ${quorumOf(next.length)}, but only ${live} are live (not heard from: ${down.join(', ')})`,
      next,
      view,
    );
  }
  return null;
}
