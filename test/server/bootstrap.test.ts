/**
 * A member restarted with an empty data directory under a name the cluster
 * knows must not bootstrap a fresh log at term 1 (it could vote twice in a
 * term, or help elect a leader lacking committed entries): with
 * --initial-cluster-state new it asks its peers and refuses once one shows
 * the cluster ran; with existing it never bootstraps. Real member processes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { TestCluster, utf8 } from './harness.js';

describe('an empty data directory under a known member name', { timeout: 120_000 }, () => {
  let cluster: TestCluster;

  before(async () => {
    cluster = await TestCluster.start({ size: 3 });
    const sessionId = await cluster.openSession();
    await cluster.callAny('kv.put', { key: utf8('k'), value: utf8('v'), session: { sessionId, seq: 1, ackedSeq: 0 } });
    await cluster.waitForConvergence();
    await cluster.kill('n3');
    rmSync(cluster.member('n3').dataDir, { recursive: true, force: true });
  });
  after(async () => {
    await cluster?.stop();
  });

  test('--initial-cluster-state new (the default): refused, because a peer answers with a log beyond the bootstrap', async () => {
    const { exit, log } = await cluster.startExpectingExit('n3', ['--name', 'n3', '--initial-cluster', cluster.initialCluster]);
    assert.notEqual(exit, 0, log);
    assert.match(log, /cluster already ran/, log);
    assert.match(log, /refuses to bootstrap/);
    assert.match(log, /restore its data directory/, 'the log says how to bring the member back');
    assert.match(log, /CONCORD_ERR_BOOTSTRAP_REFUSED/);
  });

  test('--initial-cluster-state existing: never bootstraps an empty data directory', async () => {
    rmSync(cluster.member('n3').dataDir, { recursive: true, force: true });
    const { exit, log } = await cluster.startExpectingExit('n3', ['--name', 'n3', '--initial-cluster', cluster.initialCluster, '--initial-cluster-state', 'existing']);
    assert.notEqual(exit, 0, log);
    assert.match(log, /initial-cluster-state is existing/, log);
    assert.match(log, /restore its data directory/);
  });

  test('the two remaining members still serve writes', async () => {
    const sessionId = await cluster.openSession();
    const response = await cluster.callAny('kv.put', { key: utf8('k2'), value: utf8('v2'), session: { sessionId, seq: 1, ackedSeq: 0 } });
    assert.ok(response.revision > 0);
  });
});
