/**
 * Leader election on txn + lease + watch (etcd's concurrency.Election):
 * candidates wait in line under one prefix (queue.ts); the first in line is
 * the leader, and its key's value is what it proclaims.
 *
 *   const election = new Election(kv, 'elections/scheduler/');
 *   await election.campaign('node-a');   // resolves once leading
 *   for await (const leader of election.observe()) console.log(leader);
 *   await election.resign();
 */
import type { KvClient } from '../client.js';
import { firstInLine, waitInLine, type QueueOptions, type QueueTicket } from './queue.js';

export class Election {
  private ticket: QueueTicket | null = null;

  constructor(
    private readonly kv: KvClient,
    readonly prefix: string,
    private readonly options: Omit<QueueOptions, 'signal'> = {},
  ) {}

  /** Waits until this candidate leads, with `value` as what it proclaims. */
  async campaign(value: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.ticket !== null) throw new Error('already campaigning; resign first');
    this.ticket = await waitInLine(this.kv, this.prefix, value, { ...this.options, ...options });
  }

  /** Changes the leader's value (only while leading). */
  async proclaim(value: string): Promise<void> {
    const ticket = this.ticket;
    if (ticket === null) throw new Error('not leading: campaign first');
    await this.kv.put(ticket.key, value, { lease: ticket.leaseId });
  }

  /** Steps down: the next candidate in line leads. */
  async resign(): Promise<void> {
    const ticket = this.ticket;
    this.ticket = null;
    await ticket?.leave(this.kv);
  }

  /** The current leader's value, or null when nobody leads. */
  async leader(): Promise<string | null> {
    return (await firstInLine(this.kv, this.prefix))?.valueString() ?? null;
  }

  /** The leader's value now and after every change of leader or value (null: nobody leads), until `signal` aborts. */
  async *observe(options: { signal?: AbortSignal } = {}): AsyncGenerator<string | null, void, undefined> {
    // Watch first, then read: a change after the read is then always seen (one before it at worst re-reads).
    const stream = this.kv.watch({ prefix: this.prefix }, { ...(options.signal ? { signal: options.signal } : {}) });
    await stream.started;
    let last = (await firstInLine(this.kv, this.prefix))?.valueString() ?? null;
    yield last;
    for await (const batch of stream) {
      if (batch.events.length === 0) continue;
      const now = (await firstInLine(this.kv, this.prefix))?.valueString() ?? null;
      if (now !== last) {
        last = now;
        yield now;
      }
    }
  }
}
