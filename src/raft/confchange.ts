/**
 * Membership changes (thesis chapter 4): their shape, their encoding in a log
 * entry, and the pure function that applies one to a configuration.
 *
 * Rules enforced here:
 * - a simple change adds or removes at most one voter (thesis §4.1), so any
 *   majority of the old configuration overlaps any majority of the new one;
 * - any other change goes through a joint configuration (thesis §4.3) in
 *   which decisions need a majority of both the old voters
 *   (`votersOutgoing`) and the new ones (`voters`), and is left by a second,
 *   empty change (automatically when `autoLeave`);
 * - learners (non-voting members) can be added, and promoted by AddVoter.
 *   Demoting a voter to learner inside a joint configuration is deferred to
 *   `learnersNext` until the joint configuration is left.
 * - From an empty configuration anything goes: that is how a cluster is
 *   bootstrapped (there is no quorum to protect yet).
 */
import { InvalidConfChangeError } from './errors.js';
import type { ConfState, NodeId } from './types.js';

export const ConfChangeType = {
  AddVoter: 'add-voter',
  AddLearner: 'add-learner',
  RemoveNode: 'remove-node',
} as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

export const ConfChangeTransition = {
  /** A single-server change (thesis §4.1): refused if more than one voter would change. */
  Simple: 'simple',
  /** Simple if at most one voter changes, otherwise joint consensus with automatic leave. */
  Auto: 'auto',
  /** Always joint consensus, left automatically once committed. */
  JointImplicit: 'joint-implicit',
  /** Always joint consensus; stays joint until an empty ConfChange is proposed. */
  JointExplicit: 'joint-explicit',
} as const;
export type ConfChangeTransition = (typeof ConfChangeTransition)[keyof typeof ConfChangeTransition];

export interface ConfChangeSingle {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
}

/** A membership change. An empty `changes` list leaves a joint configuration. */
export interface ConfChange {
  readonly changes: readonly ConfChangeSingle[];
  readonly transition?: ConfChangeTransition;
  /**
   * Opaque to the core (etcd's ConfChange.Context): the host's description of
   * the change, replicated with it, e.g. a new member's URLs. Absent: none.
   */
  readonly context?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const base = { changes: cc.changes, transition: cc.transition ?? ConfChangeTransition.Auto };
  return encoder.encode(JSON.stringify(cc.context === undefined ? base : { ...base, context: cc.context }));
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  const parsed = JSON.parse(decoder.decode(data)) as ConfChange;
  const base = { changes: parsed.changes, transition: parsed.transition ?? ConfChangeTransition.Auto };
  return typeof parsed.context === 'string' ? { ...base, context: parsed.context } : base;
}

export function isJoint(conf: ConfState): boolean {
  return conf.votersOutgoing.length > 0;
}

/** Every member (voters of both halves and learners), each once. */
export function allMembers(conf: ConfState): NodeId[] {
  return [...new Set([...conf.voters, ...conf.votersOutgoing, ...conf.learners, ...conf.learnersNext])];
}

/** Members that may vote and campaign: voters of either half. */
export function isVoter(conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id) || conf.votersOutgoing.includes(id);
}

function symmetricDifferenceSize(a: ReadonlySet<NodeId>, b: ReadonlySet<NodeId>): number {
  let n = 0;
  for (const x of a) if (!b.has(x)) n++;
  for (const x of b) if (!a.has(x)) n++;
  return n;
}

/** True when `cc` needs a joint configuration (or leaves one). */
export function needsJoint(cc: ConfChange, conf: ConfState): boolean {
  if (cc.changes.length === 0) return false;
  const transition = cc.transition ?? ConfChangeTransition.Auto;
  if (transition === ConfChangeTransition.Simple) return false;
  if (transition !== ConfChangeTransition.Auto) return true;
  if (conf.voters.length === 0) return false;
  // Auto: joint only when more than one voter would change.
  const next = new Set(conf.voters);
  for (const c of cc.changes) {
    if (c.type === ConfChangeType.AddVoter) next.add(c.nodeId);
    else next.delete(c.nodeId);
  }
  return symmetricDifferenceSize(new Set(conf.voters), next) > 1;
}

/**
 * The configuration after applying `cc` to `conf`. Throws
 * InvalidConfChangeError when the change is not allowed.
 */
export function applyConfChange(conf: ConfState, cc: ConfChange): ConfState {
  const voters = new Set(conf.voters);
  const outgoing = new Set(conf.votersOutgoing);
  const learners = new Set(conf.learners);
  const learnersNext = new Set(conf.learnersNext);
  const joint = outgoing.size > 0;

  if (cc.changes.length === 0) {
    // Leave the joint configuration (thesis §4.3, the C_new entry).
    if (!joint) throw new InvalidConfChangeError('not in a joint configuration, nothing to leave');
    for (const id of learnersNext) learners.add(id);
    return freeze(voters, new Set(), learners, new Set(), false);
  }
  if (joint) throw new InvalidConfChangeError('already in a joint configuration; leave it first');

  const enterJoint = needsJoint(cc, conf);
  if (enterJoint) {
    if (voters.size === 0) throw new InvalidConfChangeError('cannot enter a joint configuration from an empty one');
    for (const id of voters) outgoing.add(id);
  }
  for (const c of cc.changes) {
    if (typeof c.nodeId !== 'string' || c.nodeId.length === 0) throw new InvalidConfChangeError('node id must be a non-empty string');
    switch (c.type) {
      case ConfChangeType.AddVoter:
        learners.delete(c.nodeId);
        learnersNext.delete(c.nodeId);
        voters.add(c.nodeId);
        break;
      case ConfChangeType.AddLearner:
        voters.delete(c.nodeId);
        learners.delete(c.nodeId);
        learnersNext.delete(c.nodeId);
        // A voter of the outgoing half stays a voter there until the joint
        // configuration is left; it becomes a learner then.
        if (outgoing.has(c.nodeId)) learnersNext.add(c.nodeId);
        else learners.add(c.nodeId);
        break;
      case ConfChangeType.RemoveNode:
        voters.delete(c.nodeId);
        learners.delete(c.nodeId);
        learnersNext.delete(c.nodeId);
        break;
      default:
        throw new InvalidConfChangeError(`unknown change type ${String((c as { type: unknown }).type)}`);
    }
  }
  if (voters.size === 0) throw new InvalidConfChangeError('the change removes every voter');
  if (!enterJoint && conf.voters.length > 0 && symmetricDifferenceSize(new Set(conf.voters), voters) > 1) {
    throw new InvalidConfChangeError('a simple change may add or remove at most one voter (thesis §4.1); use joint consensus');
  }
  const autoLeave = enterJoint && (cc.transition ?? ConfChangeTransition.Auto) !== ConfChangeTransition.JointExplicit;
  return freeze(voters, outgoing, learners, learnersNext, autoLeave);
}

function freeze(voters: Set<NodeId>, outgoing: Set<NodeId>, learners: Set<NodeId>, learnersNext: Set<NodeId>, autoLeave: boolean): ConfState {
  return {
    voters: [...voters].sort(),
    votersOutgoing: [...outgoing].sort(),
    learners: [...learners].sort(),
    learnersNext: [...learnersNext].sort(),
    autoLeave,
  };
}
