/**
 * Safety invariants of Raft (paper §5, Figure 3), checked by the simulator
 * while a run is in progress, from what the hosts observe:
 *
 * - Election safety: at most one leader per term, and every leader holds
 *   durable votes from a quorum in its term.
 * - Log matching: two logs holding an entry with the same index and term
 *   hold the same entries up to that index. Checked inductively: every
 *   (index, term) ever seen in any log must always carry the same data and
 *   follow an entry of the same term.
 * - Leader completeness: an entry committed in term t is in the log of every
 *   leader of a term after t. Commits are attributed to the term of the
 *   leader whose commit index first passed them.
 * - State machine safety: no two nodes apply different entries at the same
 *   index; each node applies indexes in order with no gaps (so applied
 *   prefixes agree), and replicas at the same applied index hold the same
 *   state (which also covers state installed from snapshots).
 * - Durable vote safety: a node's persisted term never goes back, and its
 *   persisted vote never changes within a term (§5.2: one vote per term).
 */
import { ConcordError, ConcordErrorCode } from '../../src/common/errors.js';
import type { ConfState, HardState, NodeId } from '../../src/raft/types.js';

export class InvariantViolationError extends ConcordError {
  constructor(
    readonly invariant: string,
    detail: string,
  ) {
    super(ConcordErrorCode.Assertion, `${invariant}: ${detail}`);
  }
}

/** What a host knows of one node's log: the snapshot boundary and the entries after it. */
export interface LogView {
  readonly snapshotIndex: number;
  readonly snapshotTerm: number;
  /** Terms of entries snapshotIndex+1 .. lastIndex. */
  readonly terms: readonly number[];
}

export function viewLastIndex(view: LogView): number {
  return view.snapshotIndex + view.terms.length;
}

/** Term at `index`, or undefined if compacted away or beyond the end. */
export function viewTerm(view: LogView, index: number): number | undefined {
  if (index === view.snapshotIndex) return view.snapshotTerm;
  if (index < view.snapshotIndex) return undefined;
  return view.terms[index - view.snapshotIndex - 1];
}

interface LeaderRecord {
  readonly node: NodeId;
  readonly term: number;
  readonly view: LogView;
}

export class InvariantChecker {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** "index:term" -> fingerprint of data and term of the previous entry. */
  private readonly entryRegistry = new Map<string, { fp: number; prevTerm: number }>();
  /** index -> term of the committed entry there (learned at apply) */
  private readonly committedTerm = new Map<number, number>();
  /** index -> term of the leader whose commit first covered it */
  private readonly commitTermOf = new Map<number, number>();
  private commitHigh = 0;
  private readonly leaderRecords: LeaderRecord[] = [];
  private readonly recordedLeaderTerms = new Set<string>();
  /** index -> entry fingerprint applied there ("term:fp") */
  private readonly appliedAt = new Map<number, string>();
  /** applied index -> canonical state fingerprint of a replica at that point */
  private readonly stateAt = new Map<number, number>();
  private readonly lastApplied = new Map<NodeId, number>();
  private readonly durableHard = new Map<NodeId, HardState>();
  private readonly commandIndex = new Map<string, number>();
  /** "node@term" -> the candidate it durably voted for in that term. */
  private readonly votes = new Map<string, NodeId>();
  /** "voter>candidate@term" for every vote grant sent. */
  private readonly grants = new Set<string>();

  /** After every event at a node: its role, term, commit index and membership. */
  observeStatus(node: NodeId, isLeader: boolean, term: number, commit: number, conf?: ConfState): void {
    if (isLeader) {
      const known = this.leaderOfTerm.get(term);
      if (known === undefined) {
        this.leaderOfTerm.set(term, node);
        if (conf) this.checkElectedByQuorum(node, term, conf);
      } else if (known !== node) {
        throw new InvariantViolationError('election safety', `both ${known} and ${node} are leader in term ${term}`);
      }
    }
    if (commit > this.commitHigh) {
      for (let i = this.commitHigh + 1; i <= commit; i++) {
        this.commitTermOf.set(i, term);
        this.checkCommittedAgainstLeaders(i);
      }
      this.commitHigh = commit;
    }
  }

  /**
   * A new leader of `term` must be supported by a quorum of its configuration
   * (both halves of a joint one). A voter supports it if it durably voted for
   * it in `term` (grants are sent only after persisting, so at the moment of
   * winning they are on disk), or if it sent a grant for `term` whose vote was
   * superseded before being written by a durable higher term (it can then
   * never vote in `term` again, which is what durability protects). This
   * catches an election won with a vote that was not for this term even when
   * no second leader shows up.
   */
  private checkElectedByQuorum(node: NodeId, term: number, conf: ConfState): void {
    const supports = (id: NodeId) => {
      const vote = this.votes.get(id + '@' + term);
      if (vote !== undefined) return vote === node;
      return this.grants.has(`${id}>${node}@${term}`) && (this.durableHard.get(id)?.term ?? 0) > term;
    };
    const majority = (ids: readonly NodeId[]) => ids.length === 0 || ids.filter(supports).length * 2 > ids.length;
    if (!majority(conf.voters) || !majority(conf.votersOutgoing)) {
      const who = [...new Set([...conf.voters, ...conf.votersOutgoing])]
        .map((id) => `${id}:${this.votes.get(id + '@' + term) ?? (this.grants.has(`${id}>${node}@${term}`) ? 'granted, not durable' : '-')}`)
        .join(' ');
      throw new InvariantViolationError('election safety', `${node} became leader of term ${term} without a quorum of votes in that term (votes: ${who})`);
    }
  }

  /** A vote grant was sent (it must be backed by durable state, see checkElectedByQuorum). */
  observeGrant(from: NodeId, to: NodeId, term: number): void {
    this.grants.add(`${from}>${to}@${term}`);
  }

  /**
   * A node's log gained entries (handed out by the core for persisting) at
   * `firstNew`..: register each, with the term of the entry before it.
   */
  observeLogEntries(node: NodeId, view: LogView, firstNew: number, fingerprints: readonly number[]): void {
    for (let k = 0; k < fingerprints.length; k++) {
      const index = firstNew + k;
      const term = viewTerm(view, index);
      const prevTerm = viewTerm(view, index - 1);
      if (term === undefined || prevTerm === undefined) {
        throw new InvariantViolationError('log shape', `${node} log has a hole at index ${index} (view ${describeView(view)})`);
      }
      if (index > view.snapshotIndex + 1 && prevTerm > term) {
        throw new InvariantViolationError('log terms', `${node} has term ${term} at index ${index} after term ${prevTerm}`);
      }
      const key = index + ':' + term;
      const fp = fingerprints[k] as number;
      const seen = this.entryRegistry.get(key);
      if (seen === undefined) this.entryRegistry.set(key, { fp, prevTerm });
      else if (seen.fp !== fp || seen.prevTerm !== prevTerm) {
        throw new InvariantViolationError(
          'log matching',
          `${node} has entry ${index} of term ${term} with ${seen.fp !== fp ? 'different data' : `previous term ${prevTerm}, not ${seen.prevTerm}`} than another log had`,
        );
      }
    }
  }

  /**
   * A leader handed out a Ready in its term: its log view is complete for
   * that term. The first such view per (node, term) is recorded for later
   * commits; it is checked now against everything already committed.
   */
  observeLeaderLog(node: NodeId, term: number, view: LogView): void {
    const key = node + '@' + term;
    if (this.recordedLeaderTerms.has(key)) return;
    this.recordedLeaderTerms.add(key);
    const record: LeaderRecord = { node, term, view: { ...view, terms: view.terms.slice() } };
    this.leaderRecords.push(record);
    for (const index of this.committedTerm.keys()) this.checkLeaderHas(record, index);
  }

  private checkCommittedAgainstLeaders(index: number): void {
    for (const record of this.leaderRecords) this.checkLeaderHas(record, index);
  }

  private checkLeaderHas(record: LeaderRecord, index: number): void {
    const entryTerm = this.committedTerm.get(index);
    const commitTerm = this.commitTermOf.get(index);
    if (entryTerm === undefined || commitTerm === undefined || record.term <= commitTerm) return;
    if (index <= record.view.snapshotIndex) return; // covered by the snapshot (checked by state comparison)
    const term = viewTerm(record.view, index);
    if (term !== entryTerm) {
      throw new InvariantViolationError(
        'leader completeness',
        `entry ${index} (term ${entryTerm}) was committed in term ${commitTerm}, but ${record.node}, leader of term ${record.term}, ` +
          (term === undefined ? `has no entry there (last index ${viewLastIndex(record.view)})` : `has term ${term} there`),
      );
    }
  }

  /** A node applied the entry at `index`. */
  observeApply(node: NodeId, index: number, term: number, fp: number): void {
    const last = this.lastApplied.get(node) ?? 0;
    if (index !== last + 1) {
      throw new InvariantViolationError('applied prefixes agree', `${node} applied index ${index} right after ${last}`);
    }
    this.lastApplied.set(node, index);
    const id = term + ':' + fp.toString(16);
    const seen = this.appliedAt.get(index);
    if (seen === undefined) {
      this.appliedAt.set(index, id);
      this.committedTerm.set(index, term);
      this.checkCommittedAgainstLeaders(index);
    } else if (seen !== id) {
      throw new InvariantViolationError(
        'state machine safety',
        `${node} applied entry (term:fingerprint) ${id} at index ${index}, another node applied ${seen}`,
      );
    }
  }

  /** A node applied client command `key` ("client:seq") at `index`: a command is in the log once. */
  observeCommand(node: NodeId, key: string, index: number): void {
    const seen = this.commandIndex.get(key);
    if (seen === undefined) this.commandIndex.set(key, index);
    else if (seen !== index) {
      throw new InvariantViolationError('exactly once', `${node} applied command ${key} at index ${index}; it was applied at ${seen} before`);
    }
  }

  /** A node's state machine after applying through `index` (or restoring a snapshot at `index`). */
  observeState(node: NodeId, index: number, stateFp: number, how: string): void {
    const seen = this.stateAt.get(index);
    if (seen === undefined) this.stateAt.set(index, stateFp);
    else if (seen !== stateFp) {
      throw new InvariantViolationError('applied prefixes agree', `${node}'s state at index ${index} (${how}) differs from another replica's`);
    }
  }

  hasStateAt(index: number): boolean {
    return this.stateAt.has(index);
  }

  /** The node restarted or installed a snapshot: its next apply follows `index`. */
  resetApplied(node: NodeId, index: number): void {
    this.lastApplied.set(node, index);
  }

  appliedIndex(node: NodeId): number {
    return this.lastApplied.get(node) ?? 0;
  }

  /** A hard state became durable at a node. */
  observeDurableHardState(node: NodeId, hs: HardState): void {
    const prev = this.durableHard.get(node);
    if (prev) {
      if (hs.term < prev.term) {
        throw new InvariantViolationError('durable term', `${node} persisted term ${hs.term} after term ${prev.term}`);
      }
      if (hs.term === prev.term && prev.vote !== null && hs.vote !== prev.vote) {
        throw new InvariantViolationError('one vote per term', `${node} voted for ${prev.vote} and then ${hs.vote ?? 'nobody'} in term ${hs.term}`);
      }
    }
    this.durableHard.set(node, hs);
    if (hs.vote !== null) this.votes.set(node + '@' + hs.term, hs.vote);
  }

  leaders(): ReadonlyMap<number, NodeId> {
    return this.leaderOfTerm;
  }
}

export function describeView(view: LogView): string {
  return `snap ${view.snapshotIndex}@${view.snapshotTerm}, terms [${view.terms.join(',')}]`;
}
