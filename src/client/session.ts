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
 *
 * The outstanding seqs are a bitmap over the window [lowestOutstandingSeq,
 * nextSeq), kept in a ring of 32-bit words indexed by `seq & (bits - 1)`:
 * every write allocates and settles one seq, and a Set's add/delete (with its
 * rehashing as tombstones pile up) was a visible share of a write's CPU. The
 * ring doubles when the window outgrows it (a write held back for long while
 * newer ones complete); its size is bounded by the widest window seen, one
 * bit per seq.
 */
import { assert } from '../common/errors.js';

/** Bits in the ring to start with (a power of two): a few thousand writes in flight fit without growing. */
const initialWindowBits = 4096;

export class ClientSession {
  private nextSeq = 1;
  /** Every allocated seq below this one is settled. */
  private lowestOutstandingSeq = 1;
  /** Bit `seq & mask` is set while `seq` (within the window) is outstanding. */
  private ring = new Uint32Array(initialWindowBits >>> 5);
  private mask = initialWindowBits - 1;
  private outstanding = 0;
  /** True once a member said the session is gone; writes must use a new session. */
  expired = false;

  constructor(
    readonly id: number,
    /** Time to live the server granted: keep-alives must come more often. */
    readonly ttlMs: number,
  ) {}

  allocateSeq(): number {
    const seq = this.nextSeq;
    // The window [lowestOutstandingSeq, seq] must map to distinct bits.
    if (seq - this.lowestOutstandingSeq > this.mask) this.growRing(seq - this.lowestOutstandingSeq + 1);
    this.nextSeq = seq + 1;
    this.ring[(seq & this.mask) >>> 5]! |= 1 << (seq & 31);
    this.outstanding++;
    return seq;
  }

  /** The write with this seq got its answer (or will never be retried): the server may forget its result. */
  settle(seq: number): void {
    if (!this.isOutstanding(seq)) return;
    this.ring[(seq & this.mask) >>> 5]! &= ~(1 << (seq & 31));
    this.outstanding--;
    if (seq !== this.lowestOutstandingSeq) return;
    let lowest = seq + 1;
    while (lowest < this.nextSeq && (this.ring[(lowest & this.mask) >>> 5]! & (1 << (lowest & 31))) === 0) lowest++;
    this.lowestOutstandingSeq = lowest;
  }

  isOutstanding(seq: number): boolean {
    if (!(seq >= this.lowestOutstandingSeq && seq < this.nextSeq && Number.isInteger(seq))) return false;
    return (this.ring[(seq & this.mask) >>> 5]! & (1 << (seq & 31))) !== 0;
  }

  /** Highest seq such that it and every seq below it are settled (sent as `session.ackedSeq`). */
  get ackedSeq(): number {
    const acked = this.lowestOutstandingSeq - 1;
    assert(acked < this.nextSeq, 'ackedSeq must stay below the next seq');
    return acked;
  }

  get outstandingCount(): number {
    return this.outstanding;
  }

  /** Doubles the ring until `windowSeqs` seqs fit, moving each outstanding seq's bit to its new place. */
  private growRing(windowSeqs: number): void {
    let bits = this.mask + 1;
    while (bits < windowSeqs) bits *= 2;
    const ring = new Uint32Array(bits >>> 5);
    const mask = bits - 1;
    for (let seq = this.lowestOutstandingSeq; seq < this.nextSeq; seq++) {
      if ((this.ring[(seq & this.mask) >>> 5]! & (1 << (seq & 31))) !== 0) ring[(seq & mask) >>> 5]! |= 1 << (seq & 31);
    }
    this.ring = ring;
    this.mask = mask;
  }
}
