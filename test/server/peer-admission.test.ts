/** The pure parts of peer security: the term bound, cluster ID agreement, and the peer TLS settings. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../src/common/rng.js';
import { clusterIdPattern, newClusterId, settleClusterId } from '../../src/server/cluster-id.js';
import { termAcceptable, termAdoptMax } from '../../src/server/peer-protocol.js';
import { InvalidConfigError, validateServerConfig, type ServerConfig } from '../../src/server/config.js';

test('no single message jumps the term to the end of the term space', () => {
  assert.equal(termAcceptable(5, 1), true);
  assert.equal(termAcceptable(termAdoptMax, 1), true);
  assert.equal(termAcceptable(termAdoptMax + 1, 1), false);
  assert.equal(termAcceptable(Number.MAX_SAFE_INTEGER, 1), false);
  // Above the bound the term still climbs one campaign at a time, up to the largest term the schema accepts.
  assert.equal(termAcceptable(termAdoptMax + 1, termAdoptMax), true);
  assert.equal(termAcceptable(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1), true);
  assert.ok(Number.isSafeInteger(termAdoptMax + 2 ** 32));
});

test('members bootstrapping together settle on one cluster ID; a running member\'s ID wins', () => {
  const random = new Prng(7);
  const [a, b, c] = [newClusterId(random), newClusterId(random), newClusterId(random)];
  for (const id of [a, b, c]) assert.match(id, clusterIdPattern);
  const min = [a, b, c].sort()[0]!;
  assert.equal(settleClusterId(a, [{ probing: true, clusterId: b }, { probing: true, clusterId: c }]), min);
  assert.equal(settleClusterId(b, [{ probing: true, clusterId: a }, { probing: true, clusterId: c }]), min);
  assert.equal(settleClusterId(a, [{ probing: true, clusterId: b }, { probing: false, clusterId: 'f'.repeat(32) }]), 'f'.repeat(32));
  assert.equal(settleClusterId(a, []), a);
});

test('peer TLS files come together, and then every peer URL is tls://', () => {
  const base: ServerConfig = {
    name: 'n1',
    dataDir: '/tmp/x',
    clientUrl: 'tcp://127.0.0.1:1',
    peerUrl: 'tls://127.0.0.1:2',
    initialCluster: { n1: 'tls://127.0.0.1:2', n2: 'tls://127.0.0.1:3' },
    initialClusterState: 'new',
    heartbeatIntervalMs: 100,
    electionTimeoutMs: 1000,
    snapshotEveryEntries: 10,
    snapshotCatchUpEntries: 10,
    keyBytesMax: 10,
    valueBytesMax: 10,
    requestTimeoutMs: 10,
    pendingRequestsMax: 10,
    shutdownTimeoutMs: 10,
    logLevel: 'info',
    logFormat: 'json',
    sessionsMax: 10_000,
    sessionsPerUserMax: 1_000,
    sessionResultBytesPerUserMax: 64 * 1024 * 1024,
    sessionTableBytesMax: 256 * 1024 * 1024,
    idleTimeoutMs: 300_000,
    handshakeTimeoutMs: 10_000,
    receiveRateMinBytesPerSec: 8192,
    receiveRateGraceMs: 10_000,
    partialFrameBytesMax: 256 * 1024 * 1024,
  } as ServerConfig;
  const files = { peerCertFile: 'c', peerKeyFile: 'k', peerTrustedCaFile: 'ca' };
  validateServerConfig({ ...base, ...files });
  assert.throws(() => validateServerConfig(base), InvalidConfigError);
  assert.throws(() => validateServerConfig({ ...base, peerCertFile: 'c' }), /all of --peer-cert-file/);
  assert.throws(
    () => validateServerConfig({ ...base, ...files, initialCluster: { n1: 'tls://127.0.0.1:2', n2: 'tcp://127.0.0.1:3' } }),
    /initialCluster.n2 .* must be tls:\/\//,
  );
});
