/**
 * Automatic compaction of the watch history (etcd's --auto-compaction-mode
 * and --auto-compaction-retention). The leader proposes `compact` entries,
 * like any member would through `concord compact`; the state machine drops
 * the history up to the revision on every member (src/kv/history.ts).
 *
 * - revision mode: keep the newest `retention` revisions; checked every
 *   tick, proposed when the target moved by at least a tenth of the
 *   retention (so a busy store compacts in steps, not once per write).
 * - periodic mode: keep `retention` of entry-clock time; the target is the
 *   newest revision applied at least that long ago (the history records each
 *   revision's entry time, so every member agrees on it), checked every
 *   tenth of the retention (at most once a minute).
 */
import type { Clock, Timer } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { CommandKind, encodeCommand, ResultKind, type ApplyResult, type RevisionHistory } from '../kv/index.js';
import { InvalidConfigError } from './config.js';
import { proposalHeadroomBytes } from './proposal-tracker.js';

export type AutoCompaction = { readonly mode: 'revision'; readonly revisions: number } | { readonly mode: 'periodic'; readonly retentionMs: number };

const durationUnitsMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses the two flags; null when compaction is off (retention 0). Throws InvalidConfigError. */
export function parseAutoCompaction(mode: string, retention: string): AutoCompaction | null {
  if (mode !== 'periodic' && mode !== 'revision') throw new InvalidConfigError(`--auto-compaction-mode must be periodic or revision, not ${JSON.stringify(mode)}`);
  const text = retention.trim();
  if (mode === 'revision') {
    if (!/^\d+$/.test(text)) throw new InvalidConfigError(`--auto-compaction-retention in revision mode is a count of revisions, not ${JSON.stringify(retention)}`);
    const revisions = Number(text);
    return revisions === 0 ? null : { mode, revisions };
  }
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (match === null) throw new InvalidConfigError(`--auto-compaction-retention in periodic mode is a duration (1h, 30m, 90s, or hours), not ${JSON.stringify(retention)}`);
  const retentionMs = Math.round(Number(match[1]) * durationUnitsMs[match[2] ?? 'h']!);
  return retentionMs === 0 ? null : { mode, retentionMs };
}

export interface CompactionProposer {
  isLeader(): boolean;
  propose(payload: Uint8Array, deadlineMs: number): Promise<ApplyResult>;
}

export interface CompactionSource {
  readonly history: RevisionHistory;
  readonly revision: number;
  readonly compactRevision: number;
  readonly clockMs: number;
}

export class AutoCompactor {
  private timer: Timer | null = null;
  private inflight = false;
  /** Compactions this member proposed and saw applied (tests, metrics). */
  proposed = 0;

  constructor(
    private readonly policy: AutoCompaction,
    private readonly proposer: CompactionProposer,
    private readonly source: CompactionSource,
    /** Stamps entries (the entry clock) and times deadlines. */
    private readonly clock: Clock,
    private readonly tickMs: number,
    private readonly requestTimeoutMs: number,
    private readonly logger?: Logger,
  ) {}

  start(): void {
    const intervalMs = this.policy.mode === 'revision' ? this.tickMs : Math.min(60_000, Math.max(this.tickMs, this.policy.retentionMs / 10));
    this.timer ??= this.clock.setRepeating(intervalMs, () => void this.check());
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /** The revision to compact to now, or 0 when there is nothing worth proposing. */
  target(): number {
    const { source, policy } = this;
    if (policy.mode === 'revision') {
      const target = source.revision - policy.revisions;
      const step = Math.max(1, Math.floor(policy.revisions / 10));
      return target >= source.compactRevision + step ? target : 0;
    }
    // The newest revision at least retentionMs old (entry clock), from the history's own times.
    const cutoff = source.clockMs - policy.retentionMs;
    const history = source.history;
    let lo = 0;
    let hi = history.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (history.at(mid)!.timeMs <= cutoff) lo = mid + 1;
      else hi = mid;
    }
    const target = lo === 0 ? 0 : history.at(lo - 1)!.revision;
    return target > source.compactRevision ? target : 0;
  }

  /** One look (the timer calls it; tests may too). */
  async check(): Promise<void> {
    if (this.inflight || !this.proposer.isLeader()) return;
    const target = this.target();
    if (target === 0) return;
    this.inflight = true;
    try {
      const payload = encodeCommand({ kind: CommandKind.Compact, revision: target }, Math.floor(this.clock.nowMs()), proposalHeadroomBytes);
      const result = await this.proposer.propose(payload, this.clock.monotonicMs() + this.requestTimeoutMs);
      if (result.kind !== ResultKind.Error) this.proposed++;
    } catch (error) {
      // Lost leadership, a timeout, a full queue: the next tick looks again.
      this.logger?.debug?.({ err: error }, 'auto-compaction round did not complete');
    } finally {
      this.inflight = false;
    }
  }
}
