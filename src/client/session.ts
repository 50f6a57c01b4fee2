/**
 * The client's one session for exactly-once writes (Raft thesis §6.3).
 *
 * The state machine remembers, per session, the result of every write it has
 * applied whose response the client has not yet acknowledged; a retried write
 * (same session, same seq) gets that saved result back instead of being
 * applied again. This class hands out the sequence numbers and computes
 * `ackedSeq`, the highest seq below which every write is settled, so that the
 * state machine can forget old results (its memory per session stays bounded).
 *
 * A seq is "outstanding" from `allocateSeq()` until `settle(seq)`: while a
 * write is in flight, and after it timed out with an unknown outcome until the
 * caller retries or forgets it. Outstanding seqs hold `ackedSeq` back.
 */
import { assert } from '../common/errors.js';

export class ClientSession {
  private nextSeq = 1;
  /** Every allocated seq below this one is settled. */
  private lowestOutstandingSeq = 1;
  private readonly outstanding = new Set<number>();
  /** True once a member said the session is gone; writes must use a new session. */
  expired = false;

  constructor(
    readonly id: number,
    /** Time to live the server granted: keep-alives must come more often. */
    readonly ttlMs: number,
  ) {}

  allocateSeq(): number {
    const seq = this.nextSeq++;
    this.outstanding.add(seq);
    return seq;
  }

  /** The write with this seq got its answer (or will never be retried): the server may forget its result. */
  settle(seq: number): void {
    if (!this.outstanding.delete(seq)) return;
    while (this.lowestOutstandingSeq < this.nextSeq && !this.outstanding.has(this.lowestOutstandingSeq)) {
      this.lowestOutstandingSeq++;
    }
  }

  isOutstanding(seq: number): boolean {
    return this.outstanding.has(seq);
  }

  /** Highest seq such that it and every seq below it are settled (sent as `session.ackedSeq`). */
  get ackedSeq(): number {
    const acked = this.lowestOutstandingSeq - 1;
    assert(acked < this.nextSeq, 'ackedSeq must stay below the next seq');
    return acked;
  }

  get outstandingCount(): number {
    return this.outstanding.size;
  }
}
