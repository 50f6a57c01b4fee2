/**
 * This member's proposals, from the client's request to its answer. Each
 * proposal has one identity, `requestId`, used twice:
 * - in the entry's envelope (proposal-envelope.ts: this process's random
 *   `instance` plus `requestId`), so that whichever member applies the entry,
 *   only the one that proposed it answers, and a restarted process never
 *   mistakes an entry of its previous life for one of its own;
 * - in `proposedAt` (log index -> requestId and term), so that an entry of
 *   another term applied at that index shows the proposal was overwritten by
 *   a new leader (Raft §5.4: it committed iff the entry there has its term).
 *
 * Lifecycle: `add` queues (answers wait in a bounded PendingRequests);
 * `handTo` gives the turn's queue to the core; `onCommitted` settles one
 * committed entry. A proposal still queued when leadership is lost or the
 * member stops was never sent anywhere (NotLeader, ShuttingDown: the client
 * may resend freely); one already handed to the core may still commit
 * (LeaderChanged: the client must retry with the same session and seq).
 */
import type { Clock } from '../common/clock.js';
import type { RandomSource } from '../common/rng.js';
import { PendingRequests } from './pending-requests.js';
import { decodeProposal, proposalHeaderBytes, writeProposalHeader, type DecodedProposal } from './proposal-envelope.js';

/**
 * Bytes a proposal's payload must leave free at its start for the envelope
 * header (1 + a 48-bit instance + a 53-bit request id, as varints): the
 * encoder allocates once (see encodeCommand's headroom), the header is
 * written in place.
 */
export const proposalHeadroomBytes = 16;

interface Queued {
  readonly data: Uint8Array;
  readonly requestId: number;
}

/** What the tracker needs from the core. */
export interface Proposer {
  /** Appends one entry; returns where it went. Throws when refused. */
  propose(data: Uint8Array): { index: number; term: number };
}

export class ProposalTracker<Result> {
  /** A random number naming this process's proposals (see proposal-envelope.ts). */
  readonly instance: number;
  private nextRequestId = 1;
  private readonly waiting: PendingRequests<number, Result>;
  /** Proposals queued in this turn: handed to the core together. */
  private queued: Queued[] = [];
  /** Where our proposals went in the log: an entry of another term applied there means ours was overwritten. */
  private readonly proposedAt = new Map<number, { requestId: number; term: number }>();

  constructor(limit: number, clock: Clock, random: RandomSource, onSettled: () => void, onFailed: (count: number) => void = () => {}) {
    this.instance = randomInstance(random);
    this.waiting = new PendingRequests('proposal queue', limit, clock, onSettled, onFailed);
  }

  /** Proposals waiting for their answer. */
  get size(): number {
    return this.waiting.size;
  }

  /** Proposals queued since the last `handTo`. */
  get queuedCount(): number {
    return this.queued.length;
  }

  /**
   * Wraps `payload` (whose first proposalHeadroomBytes are free) in the
   * envelope and queues it; resolves with the state machine's result once
   * applied here. Throws Overloaded when the bound is reached.
   */
  add(payload: Uint8Array, deadlineMs: number): Promise<Result> {
    const requestId = this.nextRequestId;
    const header = { proposerInstance: this.instance, requestId };
    const start = proposalHeadroomBytes - proposalHeaderBytes(header);
    const data = payload.subarray(start);
    const result = this.waiting.add(requestId, deadlineMs);
    this.nextRequestId++;
    writeProposalHeader(data, header);
    this.queued.push({ data, requestId });
    return result;
  }

  /** Hands the queued proposals to the core, in order; a refused one is answered with `refusal(error)` at once. */
  handTo(core: Proposer, refusal: (error: unknown) => Error): void {
    if (this.queued.length === 0) return;
    const batch = this.queued;
    this.queued = [];
    for (const q of batch) {
      try {
        const at = core.propose(q.data);
        this.proposedAt.set(at.index, { requestId: q.requestId, term: at.term });
      } catch (error) {
        this.waiting.reject(q.requestId, refusal(error));
      }
    }
  }

  /**
   * Before the committed entry at `index` with `term` is applied: if we had
   * proposed something there in another term, a new leader overwrote it, and
   * its client gets `overwritten()`.
   */
  checkCommitted(index: number, term: number, overwritten: () => Error): void {
    if (this.proposedAt.size === 0) return;
    const proposed = this.proposedAt.get(index);
    if (proposed === undefined) return;
    this.proposedAt.delete(index);
    if (proposed.term !== term) this.waiting.reject(proposed.requestId, overwritten());
  }

  /** Decodes a committed Normal entry's envelope (throws CorruptEnvelopeError). */
  decode(index: number, data: Uint8Array): DecodedProposal {
    return decodeProposal(index, data);
  }

  /** The entry `proposal` was applied with `result`: answer its client if this process proposed it. */
  onApplied(proposal: DecodedProposal, result: Result): void {
    if (proposal.proposerInstance === this.instance) this.waiting.resolve(proposal.requestId, result);
  }

  /**
   * Answers everything waiting: queued proposals (never sent) with
   * `notSent()`, the ones handed to the core (outcome unknown) with
   * `maybeApplied()`. Returns how many were answered.
   */
  failAll(notSent: () => Error, maybeApplied: () => Error): number {
    const queued = this.queued;
    this.queued = [];
    for (const q of queued) this.waiting.reject(q.requestId, notSent());
    this.proposedAt.clear();
    return queued.length + this.waiting.rejectAll(maybeApplied);
  }

  /** Rejects the proposals whose deadline passed. */
  expire(timedOut: () => Error): void {
    this.waiting.expire(timedOut);
  }
}

/** A random number in [1, 2^47) (a RandomSource draws at most 32 bits at a time). */
function randomInstance(random: RandomSource): number {
  const instance = random.nextInt(2 ** 15) * 2 ** 32 + random.nextInt(2 ** 32);
  return instance === 0 ? 1 : instance;
}
