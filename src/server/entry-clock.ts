/**
 * The time a leader stamps on the commands it proposes (the state machine's
 * only clock: session and lease expiry), bounded so that a step of the
 * leader's wall clock neither expires every session at once nor freezes
 * expiry (issue 12 §3, "the clock rule"; docs/kv.md and docs/security.md).
 *
 * The rule. Let (T0, M0) be an anchor: T0 the time of the latest entry this
 * member applied when it started stamping (or when another leader's entries
 * overtook its own), M0 the monotonic time at which it applied that entry.
 * The projected time is P = T0 + (monotonicNow - M0): the log's time moved on
 * by the ticks that really elapsed. A stamp is the wall clock clamped to
 * [P - marginMs, P + marginMs], and never below the previous stamp (the state
 * machine also never lets its clock go back). So an entry's time is at most
 * the previous entry's time plus the elapsed ticks plus the margin, a wall
 * clock step of any size moves entry time by at most marginMs, and expiry
 * keeps running at the monotonic rate through the step.
 *
 * The anchor comes from the log, not from this member's wall clock, so a
 * newly elected leader continues from where the previous leader's entries
 * left off, plus the ticks it has seen since it applied the last one.
 */
import type { Clock } from '../common/clock.js';
import type { StateMachine } from './ports.js';

/** How far the wall clock may pull entry time away from elapsed ticks (default 1 s). */
export const entryClockMarginMsDefault = 1000;

export class EntryClock {
  /** The latest applied entry time seen, and the monotonic time it was first seen at. */
  private appliedTimeMs = -1;
  private appliedAtMonoMs = 0;
  /** The anchor (T0, M0) of this member's current run of stamps; -1 before the first stamp. */
  private anchorTimeMs = -1;
  private anchorMonoMs = 0;
  private lastStampMs = -1;

  constructor(
    private readonly clock: Clock,
    private readonly marginMs = entryClockMarginMsDefault,
  ) {}

  /** The state machine's clock after an apply or restore: O(1), called for every applied entry. */
  observeApplied(clockMs: number): void {
    if (clockMs === this.appliedTimeMs) return;
    this.appliedTimeMs = clockMs;
    this.appliedAtMonoMs = this.clock.monotonicMs();
  }

  /** The time to stamp on a command proposed now. */
  nowMs(): number {
    const mono = this.clock.monotonicMs();
    const wall = Math.floor(this.clock.nowMs());
    if (this.anchorTimeMs < 0 || this.appliedTimeMs > this.lastStampMs) {
      // First stamp, or another leader's entries are newer than ours: continue from the log.
      // A state machine clock of 0 is one no entry has set yet (a new cluster, whose first
      // entries are the leaders' empty ones): anchoring there would start the entry clock at 0
      // instead of the wall clock, and absolute expiry times (Redis PXAT) would mean nothing.
      if (this.appliedTimeMs <= 0) {
        // Nothing applied yet carries a time (a new cluster): the wall clock is all there is.
        this.anchorTimeMs = wall;
        this.anchorMonoMs = mono;
      } else {
        this.anchorTimeMs = this.appliedTimeMs;
        this.anchorMonoMs = this.appliedAtMonoMs;
      }
    }
    const projected = this.anchorTimeMs + Math.max(0, mono - this.anchorMonoMs);
    const bounded = Math.min(Math.max(wall, projected - this.marginMs), projected + this.marginMs);
    const stamp = Math.max(bounded, this.lastStampMs, this.appliedTimeMs);
    this.lastStampMs = stamp;
    return stamp;
  }

  /**
   * This member's view of the entry clock without stamping anything: the
   * latest applied entry time moved on by the monotonic time since it was
   * applied (for a leader, also never below its own last stamp). Reads hide
   * keys whose lease or TTL has passed by this time. On a follower it is at
   * most the leader's time plus the margin plus nothing more, since the
   * follower applies an entry after the leader stamped it; it can run ahead
   * of the leader's stamps only when the leader's stamps were held back by
   * the margin (its wall clock slow), by at most `marginMs`.
   */
  viewMs(): number {
    if (this.appliedTimeMs <= 0) return Math.max(0, this.lastStampMs);
    const projected = this.appliedTimeMs + Math.max(0, this.clock.monotonicMs() - this.appliedAtMonoMs);
    return Math.max(projected, this.lastStampMs);
  }

  /**
   * `clock` with nowMs replaced by the bounded entry time: for the client
   * service, which stamps commands with `nowMs()` and times deadlines with
   * `monotonicMs()`.
   */
  stampingClock(): Clock {
    const base = this.clock;
    const stamp = () => this.nowMs();
    return Object.freeze({
      nowMs: stamp,
      monotonicMs: () => base.monotonicMs(),
      setTimer: base.setTimer.bind(base),
      setRepeating: base.setRepeating.bind(base),
      schedule: base.schedule.bind(base),
    }) as Clock;
  }
}

/** `port`, telling `entryClock` the state machine's clock after every apply and restore. */
export function observingEntryTime<R>(port: StateMachine<R>, clockMs: () => number, entryClock: EntryClock): StateMachine<R> {
  return {
    get appliedIndex() {
      return port.appliedIndex;
    },
    apply: (index, command) => {
      const result = port.apply(index, command);
      entryClock.observeApplied(clockMs());
      return result;
    },
    skip: (index) => port.skip(index),
    applyConfChange: (index, term, data) => port.applyConfChange(index, term, data),
    restore: async (contents) => {
      await port.restore(contents);
      entryClock.observeApplied(clockMs());
    },
    snapshot: () => port.snapshot(),
    describe: () => port.describe(),
  };
}
