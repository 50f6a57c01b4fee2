/**
 * The leader's half of lease and key-TTL expiry (the state machine's half is
 * src/kv/leases.ts). Every tick, a leader whose view of the entry clock has
 * passed the earliest recorded expiry time confirms its leadership with a
 * ReadIndex round and only then proposes one expiry entry listing what is
 * due by its stamp. So:
 * - a stale or partitioned leader never proposes an expiry (its ReadIndex
 *   round cannot reach a quorum), and could not commit one anyway;
 * - the state machine applies the expiry only where the recorded expiry has
 *   passed by the entry's own time, so a keep-alive that raced it wins;
 * - the remaining TTL lives in the replicated state: a new leader continues
 *   the countdown from the log's time (EntryClock), never from the full TTL.
 * One expiry entry is in flight at a time, carrying at most `perEntryMax`
 * leases and as many keys; a backlog drains one entry per tick.
 */
import type { Clock, Timer } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { CommandKind, encodeCommand, ResultKind, type ApplyResult } from '../kv/index.js';
import { proposalHeadroomBytes } from './proposal-tracker.js';

/** What the expirer reads from the state machine. */
export interface ExpirySource {
  nextExpiryMs(): number | null;
  dueExpiries(nowMs: number, max: number): { leases: number[]; keys: Uint8Array[] };
}

export interface ExpiryProposer {
  isLeader(): boolean;
  readBarrier(deadlineMs: number): Promise<void>;
  propose(payload: Uint8Array, deadlineMs: number): Promise<ApplyResult>;
}

export interface LeaseExpirerOptions {
  /** How often a leader looks for due expiries (the member's tick). */
  readonly intervalMs: number;
  /** Deadline of one confirm-and-propose round. */
  readonly requestTimeoutMs: number;
  /** Most leases, and most keys, one expiry entry carries. */
  readonly perEntryMax?: number;
}

/** Default bound of leases (and of keys) per expiry entry. */
export const EXPIRY_ENTRY_ITEMS_MAX = 1000;

export class LeaseExpirer {
  private timer: Timer | null = null;
  private inflight = false;
  /** Expiry entries this member proposed and saw applied (metrics, tests). */
  proposed = 0;

  constructor(
    private readonly proposer: ExpiryProposer,
    private readonly source: ExpirySource,
    /** Stamps entries (the entry clock: EntryClock.stampingClock in a server) and times deadlines. */
    private readonly clock: Clock,
    /** This member's view of the entry clock, without stamping (EntryClock.viewMs). */
    private readonly viewMs: () => number,
    private readonly options: LeaseExpirerOptions,
    private readonly logger?: Logger,
  ) {}

  start(): void {
    this.timer ??= this.clock.setRepeating(this.options.intervalMs, () => void this.check());
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /** One look (the timer calls it; tests may too). Resolves once the round, if any, is over. */
  async check(): Promise<void> {
    if (this.inflight || !this.proposer.isLeader()) return;
    const next = this.source.nextExpiryMs();
    if (next === null || next > this.viewMs()) return;
    this.inflight = true;
    try {
      const deadline = this.clock.monotonicMs() + this.options.requestTimeoutMs;
      // Confirm leadership first: a deposed leader that has not heard of its successor stops here.
      await this.proposer.readBarrier(deadline);
      if (!this.proposer.isLeader()) return;
      const stamp = Math.floor(this.clock.nowMs());
      const max = this.options.perEntryMax ?? EXPIRY_ENTRY_ITEMS_MAX;
      const due = this.source.dueExpiries(stamp, max);
      if (due.leases.length === 0 && due.keys.length === 0) return;
      const payload = encodeCommand({ kind: CommandKind.LeaseExpire, leases: due.leases, keys: due.keys }, stamp, proposalHeadroomBytes);
      const result = await this.proposer.propose(payload, deadline);
      if (result.kind !== ResultKind.Error) this.proposed++;
    } catch (error) {
      // Lost leadership, a timeout, a full queue: the next tick looks again.
      this.logger?.debug?.({ err: error }, 'lease expiry round did not complete');
    } finally {
      this.inflight = false;
    }
  }
}
