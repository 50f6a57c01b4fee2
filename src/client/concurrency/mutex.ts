/**
 * A distributed lock on txn + lease + watch (etcd's concurrency.Mutex): see
 * queue.ts for the mechanism and docs/recipes.md for its guarantees.
 *
 *   const lock = new Mutex(kv, 'locks/report/');
 *   await lock.lock();
 *   try { ... } finally { await lock.unlock(); }
 *
 * Holding the lock is a lease: if this client is cut off for longer than
 * `ttlMs`, the lock passes to the next waiter. Guard writes made under the
 * lock with `Compare.createRevision(lock.key, '=', lock.revision)` (fencing)
 * when that matters.
 */
import type { KvClient } from '../client.js';
import { waitInLine, type QueueOptions, type QueueTicket } from './queue.js';

export class Mutex {
  private ticket: QueueTicket | null = null;

  constructor(
    private readonly kv: KvClient,
    /** Every contender for this lock uses the same prefix, e.g. 'locks/report/'. */
    readonly prefix: string,
    private readonly options: Omit<QueueOptions, 'signal'> = {},
  ) {}

  /** Waits until this client holds the lock (abort with `signal`). */
  async lock(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.ticket !== null) throw new Error('this Mutex is already locked; unlock it first');
    this.ticket = await waitInLine(this.kv, this.prefix, '', { ...this.options, ...options });
  }

  async unlock(): Promise<void> {
    const ticket = this.ticket;
    this.ticket = null;
    await ticket?.leave(this.kv);
  }

  /** The holder's key while locked (for fencing compares), else null. */
  get key(): string | null {
    return this.ticket?.key ?? null;
  }

  /** The holder key's createRevision while locked, else 0. */
  get revision(): number {
    return this.ticket?.revision ?? 0;
  }

  /** Resolves with the error when the lock was lost while held (its lease expired), null once unlocked. */
  get lost(): Promise<Error | null> {
    return this.ticket?.lost ?? Promise.resolve(null);
  }
}
