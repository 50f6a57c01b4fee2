/** Starting a member in-process: the data directory lock, and a restart from the data directory alone. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { connect, RpcClient } from '../../src/net/index.js';
import { clientMethods } from '../../src/protocol/index.js';
import { loadServerConfig, startServer } from '../../src/server/index.js';
import { freePort, text, utf8, waitFor } from './harness.js';

const silent = pino({ level: 'silent' });

test('a second member on the same data directory is refused; metrics are served; a restart needs only the data dir and URLs and keeps the data', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'concord-startup-'));
  try {
    const clientUrl = `tcp://127.0.0.1:${await freePort()}`;
    const peerUrl = `tcp://127.0.0.1:${await freePort()}`;
    const flags = { name: 'solo', dataDir: dir, clientUrl, peerUrl, initialCluster: `solo=${peerUrl}`, heartbeatIntervalMs: '20', electionTimeoutMs: '100' };
    let sessionId = 0;
    let revision = 0;
    const metricsUrl = `http://127.0.0.1:${await freePort()}`;
    const first = await startServer(loadServerConfig({ flags: { ...flags, metricsUrl }, env: {} }), silent);
    try {
      const other = { ...flags, clientUrl: `tcp://127.0.0.1:${await freePort()}`, peerUrl: `tcp://127.0.0.1:${await freePort()}` };
      await assert.rejects(startServer(loadServerConfig({ flags: other, env: {} }), silent), (error: { code?: string }) => error.code === 'CONCORD_ERR_DATA_DIR_LOCKED');

      const connection = await connect(clientUrl);
      const rpc = new RpcClient(connection, clientMethods, { timeoutMs: 5000 });
      await waitFor('leadership', async () => (await rpc.call('cluster.status', {})).member.role === 'leader');
      const opened = await rpc.call('session.open', { ttlMs: 60_000 });
      sessionId = opened.sessionId;
      const put = await rpc.call('kv.put', { key: utf8('k'), value: utf8('v'), session: { sessionId, seq: 1, ackedSeq: 0 } });
      revision = put.revision;
      connection.destroy();
      // Prometheus metrics: the write is counted and the member reports itself leader.
      const body = await (await fetch(`${metricsUrl}/metrics`)).text();
      assert.match(body, /concord_requests_total\{[^}]*method="kv\.put"[^}]*code="ok"[^}]*\} 1/);
      assert.match(body, /concord_is_leader\{[^}]*\} 1/);
      assert.match(body, /concord_persist_duration_seconds_count/);
    } finally {
      await first.close();
    }

    // Restart with only the data directory and the URLs: name and cluster come from member.json.
    const again = await startServer(loadServerConfig({ flags: { dataDir: dir, clientUrl, peerUrl, heartbeatIntervalMs: '20', electionTimeoutMs: '100' }, env: {} }), silent);
    try {
      assert.equal(again.config.name, 'solo');
      const connection = await connect(clientUrl);
      const rpc = new RpcClient(connection, clientMethods, { timeoutMs: 5000 });
      await waitFor('leadership after restart', async () => (await rpc.call('cluster.status', {})).member.role === 'leader');
      const got = await rpc.call('kv.get', { key: utf8('k'), consistency: 'linearizable' });
      assert.equal(got.kv && text(got.kv.value), 'v');
      // The session survived the restart too: a retry of seq 1 gets the original answer, no second write.
      const retried = await rpc.call('kv.put', { key: utf8('k'), value: utf8('v'), session: { sessionId, seq: 1, ackedSeq: 0 } });
      assert.deepEqual([retried.revision, retried.version], [revision, 1]);
      const after = await rpc.call('kv.get', { key: utf8('k'), consistency: 'linearizable' });
      assert.equal(after.kv?.version, 1);
      connection.destroy();
    } finally {
      await again.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
