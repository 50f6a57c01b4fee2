import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidConfigError, loadServerConfig, parseInitialCluster } from '../../src/server/config.js';
import { writeMemberFile } from '../../src/server/member-file.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'concord-config-test-'));
}

const cluster = 'n1=tcp://127.0.0.1:7101,n2=tcp://127.0.0.1:7102,n3=tcp://127.0.0.1:7103';

test('flags win over env, env over the config file, the file over defaults', () => {
  const dir = tempDir();
  try {
    const file = join(dir, 'concord.json');
    writeFileSync(
      file,
      JSON.stringify({
        name: 'n1',
        dataDir: join(dir, 'data'),
        clientUrl: 'tcp://127.0.0.1:1',
        peerUrl: 'tcp://127.0.0.1:2',
        initialCluster: { n1: 'tcp://127.0.0.1:2', n2: 'tcp://127.0.0.1:3' },
        heartbeatIntervalMs: 50,
        electionTimeoutMs: 900,
        snapshotEveryEntries: 77,
      }),
    );
    const config = loadServerConfig({
      flags: { config: file, electionTimeoutMs: '700' },
      env: { CONCORD_ELECTION_TIMEOUT_MS: '800', CONCORD_SNAPSHOT_EVERY_ENTRIES: '88' },
    });
    assert.equal(config.electionTimeoutMs, 700, 'flag');
    assert.equal(config.snapshotEveryEntries, 88, 'env');
    assert.equal(config.heartbeatIntervalMs, 50, 'file');
    assert.equal(config.valueBytesMax, 1024 * 1024, 'default');
    assert.deepEqual(config.initialCluster, { n1: 'tcp://127.0.0.1:2', n2: 'tcp://127.0.0.1:3' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('environment variables alone configure a member', () => {
  const dir = tempDir();
  try {
    const config = loadServerConfig({
      env: {
        CONCORD_NAME: 'n2',
        CONCORD_DATA_DIR: dir,
        CONCORD_CLIENT_URL: 'tcp://127.0.0.1:7002',
        CONCORD_PEER_URL: 'tcp://127.0.0.1:7102',
        CONCORD_INITIAL_CLUSTER: cluster,
        CONCORD_LOG_FORMAT: 'json',
      },
    });
    assert.equal(config.name, 'n2');
    assert.equal(config.logFormat, 'json');
    assert.equal(Object.keys(config.initialCluster).length, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a restarted member needs only its data dir and URLs; another name for the same data dir is refused', () => {
  const dir = tempDir();
  try {
    writeMemberFile(dir, { name: 'n3', initialCluster: parseInitialCluster(cluster) });
    const config = loadServerConfig({ flags: { dataDir: dir, clientUrl: 'tcp://127.0.0.1:7003', peerUrl: 'tcp://127.0.0.1:7103' }, env: {} });
    assert.equal(config.name, 'n3');
    assert.equal(config.initialCluster['n1'], 'tcp://127.0.0.1:7101');
    assert.throws(
      () => loadServerConfig({ flags: { name: 'n1', dataDir: dir, clientUrl: 'tcp://a:1', peerUrl: 'tcp://a:2' }, env: {} }),
      (error: unknown) => error instanceof InvalidConfigError && /belongs to member "n3"/.test(error.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad settings are refused with a message naming the setting and its source', () => {
  const dir = tempDir();
  const base = { name: 'n1', dataDir: dir, clientUrl: 'tcp://127.0.0.1:1', peerUrl: 'tcp://127.0.0.1:2', initialCluster: 'n1=tcp://127.0.0.1:2' };
  try {
    assert.throws(() => loadServerConfig({ flags: { ...base, heartbeatIntervalMs: 'fast' }, env: {} }), /heartbeatIntervalMs \(from flag --heartbeat-interval-ms\)/);
    assert.throws(() => loadServerConfig({ flags: base, env: { CONCORD_VALUE_BYTES_MAX: '-1' } }), /valueBytesMax \(from env CONCORD_VALUE_BYTES_MAX\)/);
    assert.throws(() => loadServerConfig({ flags: { ...base, initialCluster: 'n2=tcp://x:1' }, env: {} }), /does not include this member "n1"/);
    assert.throws(() => loadServerConfig({ flags: { ...base, initialCluster: 'n1' }, env: {} }), /not name=url/);
    assert.throws(() => loadServerConfig({ flags: { ...base, electionTimeoutMs: '100', heartbeatIntervalMs: '100' }, env: {} }), /at least twice/);
    assert.throws(() => loadServerConfig({ flags: { ...base, logLevel: 'loud' }, env: {} }), /logLevel/);
    assert.throws(() => loadServerConfig({ flags: { dataDir: dir }, env: {} }), /name is required/);
    assert.throws(() => loadServerConfig({ flags: { ...base, clientUrl: 'http://x:1' }, env: {} }), /clientUrl: invalid address/);
    assert.throws(() => loadServerConfig({ flags: { ...base, initialCluster: 'n1=tcp://127.0.0.1:2,n2=nowhere' }, env: {} }), /initialCluster\.n2/);
    assert.throws(() => loadServerConfig({ flags: { ...base, metricsUrl: 'tcp://x:1' }, env: {} }), /metricsUrl/);
    assert.throws(() => loadServerConfig({ flags: { ...base, dashboard: true }, env: {} }), /dashboard is served on the metrics listener/);
    assert.equal(loadServerConfig({ flags: { ...base, metricsUrl: 'http://127.0.0.1:3' }, env: { CONCORD_DASHBOARD: 'true' } }).dashboard, true);
    assert.throws(() => loadServerConfig({ flags: { ...base, respUrl: 'tcp://127.0.0.1:3', respCluster: 'proxy' }, env: {} }), /respCluster must be one of off\|emulated/);
    assert.throws(() => loadServerConfig({ flags: base, env: { CONCORD_RESP_CLUSTER: 'emulated' } }), /respCluster emulated needs respUrl/);
    assert.equal(loadServerConfig({ flags: { ...base, respUrl: 'tcp://127.0.0.1:3', respCluster: 'emulated' }, env: {} }).respCluster, 'emulated');
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ nmae: 'typo' }));
    assert.throws(() => loadServerConfig({ flags: { ...base, config: file }, env: {} }), /unknown setting "nmae"/);
    writeFileSync(file, '{ not json');
    assert.throws(() => loadServerConfig({ flags: { ...base, config: file }, env: {} }), /not valid JSON/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
