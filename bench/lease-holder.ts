/**
 * The lease holders of the keep-alive bench (lease-keepalive.ts), in a
 * process of their own so that their client-side work does not slow down the
 * put clients being measured: grants the leases, keeps them all alive with
 * the client library's background helper, and answers the parent's
 * 'report' and 'stop' messages.
 *
 *   node dist/bench/lease-holder.js ENDPOINTS LEASES TTL_MS HOLDERS
 */
import { connect, type KeepAliveHandle, type KvClient } from '../src/client/index.js';

const [endpointsArg, leasesArg, ttlArg, holdersArg] = process.argv.slice(2);
const endpoints = (endpointsArg ?? '').split(',');
const leases = Number(leasesArg);
const ttlMs = Number(ttlArg);
const holderCount = Number(holdersArg);
const grantConcurrency = 256;

const holders: KvClient[] = [];
const handles: KeepAliveHandle[] = [];
let lost = 0;
for (let i = 0; i < holderCount; i++) holders.push(await connect({ endpoints, timeoutMs: 30_000 }));
const grantStart = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: grantConcurrency }, async (_, w) => {
    const client = holders[w % holders.length]!;
    while (next < leases) {
      next++;
      const lease = await client.lease.grant(ttlMs);
      const handle = client.lease.keepAlive(lease.id, { ttlMs: lease.ttlMs });
      void handle.done.then((error) => (lost += error === null ? 0 : 1));
      handles.push(handle);
    }
  }),
);
process.send!({ type: 'ready', grantSeconds: (performance.now() - grantStart) / 1000 });

process.on('message', (message: { type: string }) => {
  if (message.type === 'report') {
    process.send!({
      type: 'report',
      requests: holders.reduce((n, c) => n + c.lease.keepAliveRequests, 0),
      renewals: holders.reduce((n, c) => n + c.lease.keepAliveRenewals, 0),
      lost,
    });
  } else if (message.type === 'stop') {
    for (const h of handles) h.stop();
    void Promise.all(holders.map((c) => c.close().catch(() => {}))).then(() => process.exit(0));
  }
});
