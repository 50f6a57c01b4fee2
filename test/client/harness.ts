/**
 * The per-file set-up of the client tests against a FakeCluster: call
 * `useFakeClusters()` at the top of a test file. After each test, every
 * client opened through it is closed and the cluster stopped.
 */
import { afterEach, before, after } from 'node:test';
import { connect, type KvClient } from '../../src/client/index.js';
import { FakeCluster } from './fake-cluster.js';

/** Quick retries, so tests of backoff do not wait long. */
export const fastBackoff = { initialMs: 1, maxMs: 20 };

export function useFakeClusters(): {
  setup(names?: readonly string[]): Promise<FakeCluster>;
  open(endpoints: readonly string[], options?: { timeoutMs?: number }): Promise<KvClient>;
} {
  let cluster: FakeCluster | null = null;
  let clients: KvClient[] = [];

  // mem:// connections are not handles and the net layer's call timers are
  // unref'd, so nothing would keep the event loop alive while a test waits for
  // a deadline: this timer does (over TCP, the socket does).
  let keepAlive: NodeJS.Timeout;
  before(() => {
    keepAlive = setInterval(() => undefined, 1000);
  });
  after(() => clearInterval(keepAlive));

  afterEach(async () => {
    if (cluster) cluster.hook = null;
    for (const client of clients) await client.close({ timeoutMs: 200 }).catch(() => undefined);
    clients = [];
    await cluster?.close();
    cluster = null;
  });

  return {
    async setup(names) {
      cluster = await FakeCluster.start(names);
      return cluster;
    },
    async open(endpoints, options = {}) {
      const client = await connect({ endpoints, backoff: fastBackoff, timeoutMs: options.timeoutMs ?? 2000 });
      clients.push(client);
      return client;
    },
  };
}
