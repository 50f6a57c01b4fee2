/**
 * The waiting line under Mutex and Election (etcd's concurrency package):
 * each contender holds a key `PREFIX<lease id>` attached to its own lease
 * (kept alive in the background), and the contender whose key has the
 * lowest createRevision holds the lock. A waiter watches only the key just
 * ahead of it (no thundering herd: one release wakes one waiter) and looks
 * again when that key is deleted, by its owner or by its lease expiring.
 */
import type { KvClient } from '../client.js';
import type { KeepAliveHandle } from '../leases.js';
import type { KeyValueResult } from '../key-value.js';

export interface QueueOptions {
  /** TTL of the contender's lease: how long a crashed holder keeps the lock (default 10 s). */
  readonly ttlMs?: number;
  readonly signal?: AbortSignal;
}

export const QUEUE_TTL_MS_DEFAULT = 10_000;

/** One contender's place in the line. */
export class QueueTicket {
  constructor(
    readonly key: string,
    readonly leaseId: number,
    /** The createRevision of this contender's key: its place in the line. */
    readonly revision: number,
    private readonly keepAlive: KeepAliveHandle,
  ) {}

  /** Leaves the line (or gives up the lock): the key and its lease go. */
  async leave(kv: KvClient): Promise<void> {
    this.keepAlive.stop();
    await kv.lease.revoke(this.leaseId).catch(() => undefined);
  }

  /** Resolves with the error when the lease is lost (expired: the holder was cut off for longer than its TTL). */
  get lost(): Promise<Error | null> {
    return this.keepAlive.done;
  }
}

/** Joins the line under `prefix` with `value` in the key; resolves once this contender is first. */
export async function waitInLine(kv: KvClient, prefix: string, value: string, options: QueueOptions = {}): Promise<QueueTicket> {
  const lease = await kv.lease.grant(options.ttlMs ?? QUEUE_TTL_MS_DEFAULT);
  const keepAlive = kv.lease.keepAlive(lease.id);
  const key = `${prefix}${lease.id}`;
  try {
    const { revision } = await kv.put(key, value, { lease: lease.id, expectedVersion: 0 });
    const ticket = new QueueTicket(key, lease.id, revision, keepAlive);
    for (;;) {
      options.signal?.throwIfAborted();
      const ahead = await keyAhead(kv, prefix, revision);
      if (ahead === null) return ticket;
      // From the revision after its last change: a delete that already happened is delivered too.
      for await (const batch of kv.watch(ahead.key, { startRevision: ahead.modRevision + 1, filters: ['noPut'], ...(options.signal ? { signal: options.signal } : {}) })) {
        if (batch.events.length > 0) break;
      }
    }
  } catch (error) {
    keepAlive.stop();
    await kv.lease.revoke(lease.id).catch(() => undefined);
    throw error;
  }
}

/** The key just ahead of `revision` in the line (the largest createRevision below it), or null when first. */
async function keyAhead(kv: KvClient, prefix: string, revision: number): Promise<KeyValueResult | null> {
  let ahead: KeyValueResult | null = null;
  for await (const entry of kv.scan({ prefix }).entries()) {
    if (entry.createRevision < revision && (ahead === null || entry.createRevision > ahead.createRevision)) ahead = entry;
  }
  return ahead;
}

/** The first in line (lowest createRevision) under `prefix`, or null when nobody is. */
export async function firstInLine(kv: KvClient, prefix: string): Promise<KeyValueResult | null> {
  let first: KeyValueResult | null = null;
  for await (const entry of kv.scan({ prefix }).entries()) {
    if (first === null || entry.createRevision < first.createRevision) first = entry;
  }
  return first;
}
