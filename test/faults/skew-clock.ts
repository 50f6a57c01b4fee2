/**
 * A wall clock that can be stepped at runtime: the system clock plus an
 * offset, as after an NTP step or an operator's `date -s`. Only `nowMs`
 * moves; the monotonic clock and the timers are the system's (a real step
 * leaves CLOCK_MONOTONIC alone). Test code only (the fault suite's launcher).
 */
import type { Clock } from '../../src/common/clock.js';
import { systemClock } from '../../src/common/system-clock.js';

export class SkewClock implements Clock {
  offsetMs = 0;
  private readonly realNowMs: () => number;

  constructor(realNowMs: () => number = systemClock.nowMs) {
    this.realNowMs = realNowMs;
  }

  nowMs(): number {
    return this.realNowMs() + this.offsetMs;
  }
  monotonicMs(): number {
    return systemClock.monotonicMs();
  }
  setTimer(delayMs: number, fn: () => void): ReturnType<Clock['setTimer']> {
    return systemClock.setTimer(delayMs, fn);
  }
  setRepeating(intervalMs: number, fn: () => void): ReturnType<Clock['setRepeating']> {
    return systemClock.setRepeating(intervalMs, fn);
  }
  schedule(fn: () => void): void {
    systemClock.schedule(fn);
  }
}
