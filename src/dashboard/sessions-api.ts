/**
 * The Sessions and leases view's data, from the replicated state: the
 * session table at a glance (`session.list`: admin once auth is on) and the
 * leases (`lease.list`: any logged-in user) with the largest by attached keys
 * and those expiring first. Each half answers on its own: a user who may
 * list leases but not sessions sees the leases and the reason for the rest.
 */
import type { KvClient } from '../client/index.js';
import type { LeaseSummary } from '../protocol/index.js';
import { describe, type Json } from './api-http.js';

/** Rows in each "largest" and "expiring first" list. */
export const sessionRowsMax = 10;

function top(leases: readonly LeaseSummary[], order: (a: LeaseSummary, b: LeaseSummary) => number): LeaseSummary[] {
  return [...leases].sort(order).slice(0, sessionRowsMax);
}

async function part(load: () => Promise<Json>): Promise<Json> {
  try {
    return await load();
  } catch (error) {
    const { code, message } = describe(error);
    return { error: { code, message } };
  }
}

export async function sessionsAndLeases(client: KvClient): Promise<Json> {
  const [sessions, leases] = await Promise.all([
    part(async () => {
      const table = await client.sessionTable.list({ limit: sessionRowsMax });
      return { count: table.count, tableBytes: table.tableBytes, largest: table.largest, expiringFirst: table.expiringFirst };
    }),
    part(async () => {
      const all = await client.lease.list();
      return {
        count: all.length,
        more: all.more === true,
        keys: all.reduce((sum, l) => sum + l.keyCount, 0),
        largest: top(all, (a, b) => b.keyCount - a.keyCount || a.id - b.id),
        expiringFirst: top(all, (a, b) => a.ttlMs - b.ttlMs || a.id - b.id),
      };
    }),
  ]);
  return { sessions, leases };
}
