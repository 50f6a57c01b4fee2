/**
 * The health endpoints (/livez, /readyz, /health), the etcd-named metrics and
 * `concord endpoint health | status`, against real members on loopback:
 * answers on a healthy cluster; readiness follows the loss of the leader, is
 * lost by a member whose peers are all stopped, and comes back when they rejoin.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TestCluster, utf8, waitFor } from './harness.js';

const cliMain = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

let cluster: TestCluster | undefined;
after(async () => {
  await cluster?.stop();
});

async function get(base: string, path: string): Promise<{ status: number; body: string; contentType: string }> {
  const response = await fetch(base + path, { signal: AbortSignal.timeout(5000) });
  return { status: response.status, body: await response.text(), contentType: response.headers.get('content-type') ?? '' };
}

function metricsUrl(c: TestCluster, name: string): string {
  const url = c.member(name).metricsUrl;
  assert.ok(url !== undefined);
  return url;
}

/** The value of the sample `name` (with the labels given as a substring of the label set, if any). */
function sample(body: string, name: string, labels = ''): number | undefined {
  for (const line of body.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
    if (labels !== '' && !rest.includes(labels)) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

function runCli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliMain, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function writeKeys(c: TestCluster, count: number): Promise<void> {
  const sessionId = await c.openSession();
  for (let seq = 1; seq <= count; seq++) {
    await c.callAny('kv.put', { key: utf8(`health-${seq}`), value: utf8(`value ${seq}`), session: { sessionId, seq, ackedSeq: seq - 1 } });
  }
}

const ready = async (c: TestCluster, name: string): Promise<boolean> => {
  try {
    return (await get(metricsUrl(c, name), '/readyz')).status === 200;
  } catch {
    return false;
  }
};

test('healthy cluster: /livez, /readyz, /health, /metrics and endpoint health | status', { timeout: 120_000 }, async () => {
  cluster = await TestCluster.start({ size: 3, metrics: true });
  const c = cluster;
  const writes = 50;
  await writeKeys(c, writes);
  await c.waitForConvergence();
  const names = c.members.map((m) => m.name);
  await waitFor('every member ready', async () => (await Promise.all(names.map((n) => ready(c, n)))).every(Boolean));

  let leaders = 0;
  for (const name of names) {
    const base = metricsUrl(c, name);
    assert.deepEqual(await get(base, '/livez'), { status: 200, body: 'ok\n', contentType: 'text/plain; charset=utf-8' });
    assert.equal((await get(base, '/readyz')).body, 'ok\n');
    const verbose = await get(base, '/readyz?verbose');
    assert.equal(verbose.status, 200);
    for (const check of ['loop', 'storage', 'leader', 'applied']) assert.match(verbose.body, new RegExp(`^\\[\\+\\]${check} ok$`, 'm'));
    assert.match(verbose.body, /\nok\n$/);
    const excluded = await get(base, '/readyz?verbose&exclude=leader');
    assert.equal(excluded.status, 200);
    assert.match(excluded.body, /^\[\+\]leader excluded: ok$/m);
    const health = await get(base, '/health');
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.body), { health: 'true', reason: '' });
    assert.equal((await get(base, '/nowhere')).status, 404);

    const metrics = (await get(base, '/metrics')).body;
    assert.equal(sample(metrics, 'concord_server_has_leader'), 1, `${name} has a leader`);
    leaders += sample(metrics, 'concord_server_is_leader') ?? 0;
    assert.ok((sample(metrics, 'concord_server_leader_changes_seen_total') ?? 0) >= 1, `${name} saw the election`);
    assert.ok((sample(metrics, 'concord_server_proposals_committed_total') ?? 0) >= writes, `${name} commit index covers the writes`);
    assert.ok((sample(metrics, 'concord_server_proposals_applied_total') ?? 0) >= writes, `${name} applied the writes`);
    assert.equal(sample(metrics, 'concord_server_proposals_pending'), 0);
    assert.equal(sample(metrics, 'concord_server_proposals_failed_total'), 0);
    assert.equal(sample(metrics, 'concord_server_storage_failed'), 0);
    assert.ok((sample(metrics, 'concord_disk_wal_fsync_duration_seconds_count') ?? 0) > 0, `${name} timed its WAL writes`);
    assert.ok(sample(metrics, 'concord_disk_wal_fsync_duration_seconds_bucket', 'le="0.001"') !== undefined, "etcd's first bucket");
    assert.ok(sample(metrics, 'concord_disk_wal_fsync_duration_seconds_bucket', 'le="8.192"') !== undefined, "etcd's last bucket");
    assert.ok((sample(metrics, 'concord_mvcc_db_total_size_in_bytes') ?? 0) > 0, `${name} data size`);
    // The metrics from before keep their names.
    assert.ok((sample(metrics, 'concord_raft_applied_index') ?? 0) >= writes);
    assert.ok(sample(metrics, 'concord_raft_term') !== undefined);
  }
  assert.equal(leaders, 1, 'exactly one member reports concord_server_is_leader 1');
  const leader = await c.waitForLeader();
  const leaderMetrics = (await get(metricsUrl(c, leader), '/metrics')).body;
  for (const follower of names.filter((n) => n !== leader)) {
    // The leader sent every write to each follower: at least the values' bytes.
    assert.ok((sample(leaderMetrics, 'concord_network_peer_sent_bytes_total', `To="${follower}"`) ?? 0) > writes * 'value 00'.length, `bytes sent to ${follower}`);
    assert.ok((sample(leaderMetrics, 'concord_network_peer_received_bytes_total', `From="${follower}"`) ?? 0) > 0, `bytes received from ${follower}`);
    const count = sample(leaderMetrics, 'concord_network_peer_round_trip_time_seconds_count', `To="${follower}"`) ?? 0;
    assert.ok(count > 0, `the leader timed heartbeats to ${follower}`);
    const sum = sample(leaderMetrics, 'concord_network_peer_round_trip_time_seconds_sum', `To="${follower}"`) ?? -1;
    assert.ok(sum >= 0 && sum / count < 5, `a sane mean round trip to ${follower}: ${sum / count} s`);
  }

  const endpoints = c.members.map((m) => m.clientUrl).join(',');
  const health = await runCli(['endpoint', 'health', '--endpoints', endpoints]);
  assert.equal(health.code, 0, health.stderr);
  for (const m of c.members) assert.match(health.stdout, new RegExp(`^${m.clientUrl} is healthy \\(${m.name}\\)$`, 'm'));
  const healthJson = await runCli(['endpoint', 'health', '--endpoints', endpoints, '--json']);
  assert.equal(healthJson.code, 0, healthJson.stderr);
  assert.deepEqual(
    (JSON.parse(healthJson.stdout) as { name: string; health: boolean; error: string }[]).map((r) => [r.name, r.health, r.error]),
    names.map((n) => [n, true, '']),
  );

  const status = await runCli(['endpoint', 'status', '--endpoints', endpoints]);
  assert.equal(status.code, 0, status.stderr);
  const [header, ...rows] = status.stdout.trimEnd().split('\n').filter((line) => !/^[-+\s|]*$/.test(line));
  for (const column of ['ENDPOINT', 'ID', 'VERSION', 'DB SIZE', 'IS LEADER', 'IS LEARNER', 'RAFT TERM', 'RAFT INDEX', 'RAFT APPLIED INDEX', 'ERRORS']) {
    assert.ok(header!.includes(column), `column ${column} in ${header}`);
  }
  assert.equal(rows.length, 3, status.stdout);
  const statusJson = await runCli(['endpoint', 'status', '--endpoints', endpoints, '--json']);
  assert.equal(statusJson.code, 0, statusJson.stderr);
  const parsed = JSON.parse(statusJson.stdout) as {
    endpoint: string; id: string; version: string; dataSizeBytes: number; isLeader: boolean; isLearner: boolean;
    raftTerm: number; raftIndex: number; raftAppliedIndex: number; errors: string[];
  }[];
  assert.deepEqual(parsed.map((r) => r.id), names);
  assert.equal(parsed.filter((r) => r.isLeader).length, 1);
  for (const r of parsed) {
    assert.equal(r.isLearner, false);
    assert.ok(r.dataSizeBytes > 0);
    assert.ok(r.raftTerm >= 1);
    assert.ok(r.raftIndex >= writes && r.raftAppliedIndex >= writes);
    assert.deepEqual(r.errors, []);
    assert.match(r.version, /\d/);
  }
});

test('/readyz follows the leader: re-election after it stops, not ready alone, ready again after the peers rejoin', { timeout: 180_000 }, async () => {
  const c = cluster!;
  const names = c.members.map((m) => m.name);
  const firstLeader = await c.waitForLeader();
  await c.kill(firstLeader);
  const survivors = names.filter((n) => n !== firstLeader);
  const secondLeader = await c.waitForLeader();
  assert.notEqual(secondLeader, firstLeader);
  await waitFor('the survivors ready under the new leader', async () => (await Promise.all(survivors.map((n) => ready(c, n)))).every(Boolean));
  const endpoints = c.members.map((m) => m.clientUrl).join(',');
  const degraded = await runCli(['endpoint', 'health', '--endpoints', endpoints]);
  assert.equal(degraded.code, 3, 'a stopped member makes the cluster unhealthy');
  assert.match(degraded.stdout, new RegExp(`is unhealthy \\(${firstLeader}\\): unreachable`));

  // Stop the second leader too: the last member has no peer left.
  await c.kill(secondLeader);
  const alone = survivors.find((n) => n !== secondLeader)!;
  const base = metricsUrl(c, alone);
  const notReady = await waitFor('the lone member not ready', async () => {
    const answer = await get(base, '/readyz');
    return answer.status === 503 ? answer : null;
  });
  assert.match(notReady.body, /^\[-\]leader failed: no leader known/m);
  assert.match(notReady.body, /readyz check failed\n$/);
  assert.equal((await get(base, '/readyz?exclude=leader')).status, 200, 'only the leader check fails');
  assert.equal((await get(base, '/livez')).status, 200, 'the process is still live');
  const health = await get(base, '/health');
  assert.equal(health.status, 503);
  assert.deepEqual(JSON.parse(health.body), { health: 'false', reason: 'RAFT NO LEADER' });
  assert.equal(sample((await get(base, '/metrics')).body, 'concord_server_has_leader'), 0);
  const statusAlone = await runCli(['endpoint', 'status', '--endpoints', c.member(alone).clientUrl, '--json']);
  assert.equal(statusAlone.code, 3);
  const aloneRow = (JSON.parse(statusAlone.stdout) as { id: string; errors: string[] }[]).find((r) => r.id === alone);
  assert.deepEqual(aloneRow?.errors, ['no leader']);

  await c.restart(firstLeader);
  await c.restart(secondLeader);
  await c.waitForLeader();
  await waitFor('every member ready again', async () => (await Promise.all(names.map((n) => ready(c, n)))).every(Boolean), 30_000);
  const healthy = await runCli(['endpoint', 'health', '--endpoints', endpoints]);
  assert.equal(healthy.code, 0, healthy.stdout + healthy.stderr);
});
