/**
 * Simulated time: one agenda (the `SimScheduler`, an event queue ordered by
 * simulated time, ties by insertion) and a `SimClock` per party (a member's
 * incarnation, a client) implementing the production `Clock` over it. The
 * production host and client set their timers through these clocks, so a
 * run's whole schedule is the agenda's, a pure function of the seed.
 *
 * Why a clock per party: a crash must silence every timer of the crashed
 * incarnation (`halt`), and a clock step (NTP, an operator) moves one
 * member's wall clock (`stepWallMs`) without touching the agenda: monotonic
 * time is the agenda's time for everyone.
 *
 * Promises: the production code is async. After each event the driver lets
 * the microtasks it started run to completion (`drainMicrotasks`) before the
 * next event, so an event and everything it causes without waiting on a
 * timer happen "at once", in a deterministic order.
 */
import type { Clock, Timer } from '../../src/common/clock.js';
import { EventQueue } from './event-queue.js';

/** The wall clock's origin: a fixed date, so that traces do not depend on when they were made. */
export const simEpochMs = Date.UTC(2026, 0, 1);

interface Scheduled {
  readonly fn: () => void;
  /** Set when cancelled or when its clock halted: the agenda skips it. */
  dead: boolean;
  readonly owner: SimClock | null;
}

export class SimScheduler {
  private readonly queue: EventQueue<Scheduled>;
  private nowValue = 0;
  /** Events run so far (not counting cancelled ones). */
  events = 0;

  constructor(eventsQueuedMax: number) {
    this.queue = new EventQueue<Scheduled>(eventsQueuedMax);
  }

  get nowMs(): number {
    return this.nowValue;
  }

  /** Schedules `fn` at `timeMs` (not before now). */
  at(timeMs: number, fn: () => void, owner: SimClock | null = null): Scheduled {
    const item: Scheduled = { fn, dead: false, owner };
    this.queue.push(Math.max(this.nowValue, timeMs), item);
    return item;
  }

  /**
   * Runs the next live event: advances time to it and calls it. Returns false
   * when the agenda is empty.
   */
  runNext(): boolean {
    for (;;) {
      const next = this.queue.pop();
      if (next === undefined) return false;
      if (next.event.dead) continue;
      this.nowValue = next.time;
      next.event.dead = true;
      this.events++;
      next.event.fn();
      return true;
    }
  }

  get queued(): number {
    return this.queue.size;
  }
}

/** One party's clock over the shared agenda (see the file comment). */
export class SimClock implements Clock {
  private wallOffsetMs = 0;
  private halted = false;
  /** Live timers of this clock, so that `halt` can silence them all. */
  private readonly live = new Set<Scheduled>();

  constructor(private readonly scheduler: SimScheduler) {}

  nowMs(): number {
    return simEpochMs + this.scheduler.nowMs + this.wallOffsetMs;
  }

  monotonicMs(): number {
    return this.scheduler.nowMs;
  }

  setTimer(delayMs: number, fn: () => void): Timer {
    if (this.halted) return noTimer;
    // Whole milliseconds, as Node's timers and Date.now have: the agenda's time stays an integer.
    const d = Number.isFinite(delayMs) ? Math.max(0, Math.ceil(delayMs)) : 0;
    const item = this.scheduler.at(this.scheduler.nowMs + d, () => {
      this.live.delete(item);
      fn();
    }, this);
    this.live.add(item);
    return {
      cancel: () => {
        item.dead = true;
        this.live.delete(item);
      },
    };
  }

  setRepeating(intervalMs: number, fn: () => void): Timer {
    if (this.halted) return noTimer;
    const every = Math.max(1, intervalMs);
    let current: Timer = noTimer;
    let cancelled = false;
    const arm = (): void => {
      current = this.setTimer(every, () => {
        if (cancelled) return;
        arm();
        fn();
      });
    };
    arm();
    return {
      cancel: () => {
        cancelled = true;
        current.cancel();
      },
    };
  }

  schedule(fn: () => void): void {
    this.setTimer(0, fn);
  }

  /** Steps this party's wall clock (not its monotonic clock) by `deltaMs`, forward or back. */
  stepWallMs(deltaMs: number): void {
    this.wallOffsetMs += deltaMs;
  }

  get wallOffset(): number {
    return this.wallOffsetMs;
  }

  /** A crash: no timer of this clock fires again, and new ones are ignored. */
  halt(): void {
    this.halted = true;
    for (const item of this.live) item.dead = true;
    this.live.clear();
  }

  get isHalted(): boolean {
    return this.halted;
  }
}

const noTimer: Timer = { cancel: () => {} };

/**
 * Lets every microtask queued so far, and every one those queue, run: one
 * macrotask turn of the real event loop. Nothing else runs on that loop
 * during a simulation (every timer is simulated), so this is deterministic.
 */
export function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
