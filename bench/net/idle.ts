/**
 * Idle-connection load process (forked by main.ts for `--connections N`):
 * opens its share of connections, reports, then on request makes one echo
 * call on each and reports how many succeeded.
 */
import { connect, RpcClient } from '../../src/net/index.js';
import { echoMethods } from './protocol.js';

const { address, connections, parallel } = JSON.parse(process.argv[2]!) as { address: string; connections: number; parallel: number };
const clients: RpcClient<typeof echoMethods>[] = [];
let failed = 0;
let firstError: string | undefined;
let next = 0;

async function opener(): Promise<void> {
  while (next < connections) {
    next++;
    try {
      clients.push(new RpcClient(await connect(address, { timeoutMs: 30_000 }), echoMethods));
    } catch (error) {
      failed++;
      firstError ??= (error as Error).message;
    }
  }
}
await Promise.all(Array.from({ length: Math.min(parallel, connections) }, opener));
process.send!({ type: 'open', open: clients.length, failed, firstError });

process.on('message', async (message: { type: string }) => {
  if (message.type !== 'call') return;
  const payload = Buffer.alloc(64, 0x5a);
  const results = await Promise.allSettled(clients.map((c) => c.call('echo', payload, { timeoutMs: 30_000 })));
  const ok = results.filter((r) => r.status === 'fulfilled').length;
  process.send!({ type: 'called', ok, failed: results.length - ok });
});
process.on('disconnect', () => process.exit(0));
