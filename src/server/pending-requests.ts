/**
 * Requests waiting on this member for something the Raft loop will produce:
 * a proposal waiting for its entry to be applied, or a read waiting for its
 * read index. Bounded (`pendingRequestsMax`, an Overloaded error when full)
 * and swept for deadlines on every clock tick instead of one timer per
 * request: deadlines are added in increasing order (same timeout for all), so
 * the expired ones are always at the front of the insertion-ordered map.
 * Deadlines are on the injected clock's `monotonicMs`.
 */
import type { Clock } from '../common/clock.js';
import { overloaded } from './errors.js';

interface Waiter<T> {
  readonly deadlineMs: number;
  readonly resolve: (value: T) => void;
  readonly reject: (error: Error) => void;
}

export class PendingRequests<K, T> {
  private readonly waiters = new Map<K, Waiter<T>>();

  constructor(
    private readonly name: string,
    private readonly limit: number,
    private readonly clock: Clock,
    /** Called after a waiter was answered (resolved, rejected or expired): drain waits on it. */
    private readonly onSettled: () => void = () => {},
    /** Told how many waiters were just answered with an error (a failure counter, counted here rather than by a handler per request). */
    private readonly onRejected: (count: number) => void = () => {},
  ) {}

  get size(): number {
    return this.waiters.size;
  }

  has(key: K): boolean {
    return this.waiters.has(key);
  }

  /** Throws Overloaded when the bound is reached (check `hasRoom` first to avoid side effects). */
  add(key: K, deadlineMs: number): Promise<T> {
    if (this.waiters.size >= this.limit) throw overloaded(this.name, this.limit);
    return new Promise<T>((resolve, reject) => {
      this.waiters.set(key, { deadlineMs, resolve, reject });
    });
  }

  hasRoom(count = 1): boolean {
    return this.waiters.size + count <= this.limit;
  }

  /** Resolves the waiter for `key` if there is one (another member's proposal has none). */
  resolve(key: K, value: T): boolean {
    const waiter = this.waiters.get(key);
    if (waiter === undefined) return false;
    this.waiters.delete(key);
    waiter.resolve(value);
    this.onSettled();
    return true;
  }

  reject(key: K, error: Error): boolean {
    const waiter = this.waiters.get(key);
    if (waiter === undefined) return false;
    this.waiters.delete(key);
    waiter.reject(error);
    this.onRejected(1);
    this.onSettled();
    return true;
  }

  rejectAll(makeError: () => Error): number {
    const waiters = [...this.waiters.values()];
    this.waiters.clear();
    for (const waiter of waiters) waiter.reject(makeError());
    if (waiters.length > 0) {
      this.onRejected(waiters.length);
      this.onSettled();
    }
    return waiters.length;
  }

  /** Rejects every waiter whose deadline has passed. */
  expire(makeError: () => Error): number {
    const nowMs = this.clock.monotonicMs();
    let expired = 0;
    for (const [key, waiter] of this.waiters) {
      if (waiter.deadlineMs > nowMs) break;
      this.waiters.delete(key);
      waiter.reject(makeError());
      expired++;
    }
    if (expired > 0) {
      this.onRejected(expired);
      this.onSettled();
    }
    return expired;
  }
}
