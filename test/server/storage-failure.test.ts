/**
 * A disk that fails (ENOSPC, EIO): the member stops accepting writes with a
 * clear, retry-elsewhere error, keeps answering stale reads and status, and
 * reports the failure. In-process, over the storage layer's simulated disk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { connect, RemoteError, RpcClient } from '../../src/net/index.js';
import { clientMethods, ErrorCode, isRetryableCode } from '../../src/protocol/index.js';
import { loadServerConfig, startServer } from '../../src/server/index.js';
import { SimulatedDisk } from '../../src/testing/simulated-disk.js';
import { freePort, utf8, text, waitFor } from './harness.js';

for (const code of ['ENOSPC', 'EIO'] as const) {
  test(`${code} while writing: writes are refused with StorageFailed, reads and status still answer`, { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'concord-storage-failure-'));
    const disk = new SimulatedDisk({ seed: 1 });
    const clientUrl = `tcp://127.0.0.1:${await freePort()}`;
    const peerUrl = `tcp://127.0.0.1:${await freePort()}`;
    const config = loadServerConfig({
      flags: { name: 'n1', dataDir: dir, clientUrl, peerUrl, initialCluster: `n1=${peerUrl}`, heartbeatIntervalMs: '20', electionTimeoutMs: '100' },
      env: {},
    });
    const server = await startServer(config, pino({ level: 'silent' }), { disk });
    const connection = await connect(clientUrl);
    const rpc = new RpcClient(connection, clientMethods, { timeoutMs: 5000 });
    try {
      await waitFor('leadership', async () => (await rpc.call('cluster.status', {})).member.role === 'leader');
      const { sessionId } = await rpc.call('session.open', { ttlMs: 60_000 });
      await rpc.call('kv.put', { key: utf8('before'), value: utf8('kept'), session: { sessionId, seq: 1, ackedSeq: 0 } });

      disk.injectFault({ op: code === 'ENOSPC' ? 'writev' : 'datasync', code, count: Infinity });
      await assert.rejects(
        rpc.call('kv.put', { key: utf8('during'), value: utf8('x'), session: { sessionId, seq: 2, ackedSeq: 1 } }),
        (error: unknown) => error instanceof RemoteError && error.code === ErrorCode.StorageFailed && error.message.includes(code),
      );
      // Every later write is refused at once, with the same clear error.
      await assert.rejects(
        rpc.call('kv.put', { key: utf8('later'), value: utf8('y'), session: { sessionId, seq: 3, ackedSeq: 1 } }),
        (error: unknown) => error instanceof RemoteError && isRetryableCode(error.code) && /storage/i.test(error.message),
      );
      const status = await rpc.call('cluster.status', {});
      assert.equal(status.member.storageFailed, true);
      const got = await rpc.call('kv.get', { key: utf8('before'), consistency: 'stale' });
      assert.equal(got.kv && text(got.kv.value), 'kept');
    } finally {
      connection.destroy();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
