/**
 * Session quotas and the auth revision race at the server (issue 12 §3):
 * - a real member: one user opening sessions past its quota gets the quota
 *   error, while another user still connects and writes;
 * - the client service over a state machine whose log order is scripted: a
 *   revoke that commits between a write's check and its apply wins, and the
 *   service checks again instead of failing an unrelated race;
 * - the bounds as `concord server` settings (flags, env, config file).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectSocket } from 'node:net';
import { pino } from 'pino';
import { connect, RemoteError, RpcClient } from '../../src/net/index.js';
import { clientMethods, ErrorCode, type StatusResponse } from '../../src/protocol/index.js';
import { AuthCommandKind as K, AuthOldRevisionError, KvStateMachine, PermissionDeniedError, SESSION_FIXED_BYTES, type ApplyResult, type Command } from '../../src/kv/index.js';
import { loadServerConfig, startServer } from '../../src/server/index.js';
import { AUTH_REVISION_ATTEMPTS_MAX, ClientService, type Replica } from '../../src/server/kv-service.js';
import { proposalHeadroomBytes } from '../../src/server/proposal-tracker.js';
import { systemClock } from '../../src/common/system-clock.js';
import { ensureTlsMaterial } from '../../src/cli/dev/tls-material.js';
import { freePort, utf8, waitFor } from './harness.js';
import { applyCommand } from '../../src/testing/kv-apply.js';

const silent = pino({ level: 'silent' });

test('a user past its session quota gets the quota error; another user still connects and writes', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'concord-quota-'));
  const metricsUrl = `http://127.0.0.1:${await freePort()}`;
  const clientUrl = `tcp://127.0.0.1:${await freePort()}`;
  const peerUrl = `tcp://127.0.0.1:${await freePort()}`;
  const config = loadServerConfig({
    flags: { name: 'n1', dataDir: dir, clientUrl, peerUrl, initialCluster: `n1=${peerUrl}`, heartbeatIntervalMs: '20', electionTimeoutMs: '100', metricsUrl },
    env: { CONCORD_SESSIONS_PER_USER_MAX: '3', CONCORD_SESSIONS_MAX: '8' },
  });
  assert.equal(config.sessionsPerUserMax, 3);
  const server = await startServer(config, silent);
  const connections: Awaited<ReturnType<typeof connect>>[] = [];
  const rpcAs = async (user: string | null, password = `${user}-pw`) => {
    const connection = await connect(clientUrl);
    connections.push(connection);
    const rpc = new RpcClient(connection, clientMethods, { timeoutMs: 10_000 });
    if (user !== null) await rpc.call('auth.authenticate', { user, password });
    return rpc;
  };
  try {
    const admin = await rpcAs(null);
    await waitFor('leadership', async () => (await admin.call('cluster.status', {})).member.role === 'leader');
    for (const name of ['root', 'mallory', 'alice']) await admin.call('user.add', { name, password: `${name}-pw` });
    await admin.call('role.add', { name: 'rw' });
    await admin.call('role.grantPermission', { name: 'rw', permission: { access: 'readwrite', key: new Uint8Array(0), rangeEnd: Uint8Array.of(0) } });
    for (const name of ['mallory', 'alice']) await admin.call('user.grantRole', { name, role: 'rw' });
    await admin.call('auth.enable', {});

    // mallory opens sessions, from two connections, until the quota.
    const mallory = [await rpcAs('mallory'), await rpcAs('mallory')];
    const opened: number[] = [];
    for (let i = 0; i < 3; i++) opened.push((await mallory[i % 2]!.call('session.open', { ttlMs: 0 })).sessionId);
    await assert.rejects(mallory[1]!.call('session.open', { ttlMs: 0 }), (error: unknown) => {
      assert.ok(error instanceof RemoteError);
      assert.equal(error.code, ErrorCode.UserQuotaExceeded);
      assert.match(error.message, /mallory.*sessionsPerUserMax \(3\)/);
      return true;
    });
    // Her sessions still work (the quota refuses only what would exceed it).
    await mallory[0]!.call('kv.put', { key: utf8('m'), value: utf8('1'), session: { sessionId: opened[0]!, seq: 1, ackedSeq: 0 } });

    // alice is not locked out: she connects, opens a session and writes through it.
    const alice = await rpcAs('alice');
    const session = (await alice.call('session.open', { ttlMs: 0 })).sessionId;
    const put = await alice.call('kv.put', { key: utf8('a'), value: utf8('mine'), session: { sessionId: session, seq: 1, ackedSeq: 0 } });
    assert.ok(put.revision > 0);
    assert.equal((await alice.call('kv.get', { key: utf8('a'), consistency: 'linearizable' })).kv?.value.length, 4);

    // Closing one of mallory's sessions frees a slot for her.
    await mallory[0]!.call('session.close', { sessionId: opened[2]! });
    await mallory[1]!.call('session.open', { ttlMs: 0 });

    // The table is visible to operators.
    const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
    const gauge = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(metrics)?.[1]);
    assert.equal(gauge('concord_sessions'), 4);
    assert.ok(gauge('concord_session_table_bytes') >= 4 * SESSION_FIXED_BYTES, 'four sessions and their saved results are counted');
  } finally {
    for (const connection of connections) connection.destroy();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('with --client-cert-auth the quota is per certificate user', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'concord-certquota-'));
  const material = await ensureTlsMaterial({ dir: join(dir, 'tls'), members: ['n1'], clientUsers: ['root', 'mallory', 'alice'] });
  const clientUrl = `tls://127.0.0.1:${await freePort()}`;
  const peerUrl = `tcp://127.0.0.1:${await freePort()}`;
  const config = loadServerConfig({
    flags: {
      name: 'n1',
      dataDir: join(dir, 'data'),
      clientUrl,
      peerUrl,
      initialCluster: `n1=${peerUrl}`,
      heartbeatIntervalMs: '20',
      electionTimeoutMs: '100',
      certFile: material.members['n1']!.certFile,
      keyFile: material.members['n1']!.keyFile,
      trustedCaFile: material.caFile,
      clientCertAuth: true,
      sessionsPerUserMax: '2',
      sessionsMax: '6',
    },
    env: {},
  });
  const server = await startServer(config, silent);
  const connections: Awaited<ReturnType<typeof connect>>[] = [];
  const rpcAs = async (user: string) => {
    const files = material.clients[user]!;
    const tls = { ca: readFileSync(material.caFile), cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
    const connection = await connect(clientUrl, { tls });
    connections.push(connection);
    return new RpcClient(connection, clientMethods, { timeoutMs: 10_000 });
  };
  try {
    const root = await rpcAs('root');
    await waitFor('leadership', async () => (await root.call('cluster.status', {})).member.role === 'leader');
    for (const name of ['root', 'mallory', 'alice']) await root.call('user.add', { name, password: null });
    await root.call('role.add', { name: 'rw' });
    await root.call('role.grantPermission', { name: 'rw', permission: { access: 'readwrite', key: new Uint8Array(0), rangeEnd: Uint8Array.of(0) } });
    for (const name of ['mallory', 'alice']) await root.call('user.grantRole', { name, role: 'rw' });
    await root.call('auth.enable', {});

    const mallory = await rpcAs('mallory');
    await mallory.call('session.open', { ttlMs: 0 });
    await mallory.call('session.open', { ttlMs: 0 });
    await assert.rejects(
      mallory.call('session.open', { ttlMs: 0 }),
      (error: unknown) => error instanceof RemoteError && error.code === ErrorCode.UserQuotaExceeded && /"mallory"/.test(error.message),
    );
    const alice = await rpcAs('alice');
    const sessionId = (await alice.call('session.open', { ttlMs: 0 })).sessionId;
    await alice.call('kv.put', { key: utf8('a'), value: utf8('v'), session: { sessionId, seq: 1, ackedSeq: 0 } });
  } finally {
    for (const connection of connections) connection.destroy();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the connection bounds are server settings: a silent connection is closed after handshakeTimeoutMs, connectionsMax caps a listener', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'concord-netflags-'));
  const port = await freePort();
  const peerUrl = `tcp://127.0.0.1:${await freePort()}`;
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify({ connectionsMax: 2, partialFrameBytesMax: 1 << 20 }));
  const config = loadServerConfig({
    flags: { name: 'n1', dataDir: join(dir, 'data'), clientUrl: `tcp://127.0.0.1:${port}`, peerUrl, initialCluster: `n1=${peerUrl}`, handshakeTimeoutMs: '3000', config: configFile },
    env: {},
  });
  assert.deepEqual([config.connectionsMax, config.handshakeTimeoutMs, config.partialFrameBytesMax], [2, 3000, 1 << 20]);
  const server = await startServer(config, silent);
  const sockets: ReturnType<typeof connectSocket>[] = [];
  const openSocket = () =>
    new Promise<{ closedAfterMs: Promise<number> }>((resolve, reject) => {
      const started = performance.now();
      const socket = connectSocket(port, '127.0.0.1');
      sockets.push(socket);
      const closedAfterMs = new Promise<number>((done) => socket.on('close', () => done(performance.now() - started)));
      socket.on('error', () => {});
      socket.once('connect', () => resolve({ closedAfterMs }));
      socket.once('error', reject);
    });
  try {
    const first = await openSocket();
    const second = await openSocket();
    const third = await openSocket();
    // The third is over connectionsMax: closed at once; the two silent ones by the handshake timeout.
    assert.ok((await third.closedAfterMs) < 2500, 'refused at the cap, long before the handshake timeout');
    for (const s of [first, second]) {
      const ms = await s.closedAfterMs;
      assert.ok(ms >= 2900 && ms < 30_000, `closed by the handshake timeout after ${ms} ms`);
    }
  } finally {
    for (const socket of sockets) socket.destroy();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('session bounds from flags, env and the config file are checked so that one full user cannot lock out the others', () => {
  const dir = mkdtempSync(join(tmpdir(), 'concord-quotaconfig-'));
  const base = { name: 'n1', dataDir: dir, clientUrl: 'tcp://127.0.0.1:1', peerUrl: 'tcp://127.0.0.1:2', initialCluster: 'n1=tcp://127.0.0.1:2' };
  try {
    const defaults = loadServerConfig({ flags: base, env: {} });
    assert.deepEqual(
      [defaults.sessionsMax, defaults.sessionsPerUserMax, defaults.sessionResultBytesPerUserMax, defaults.sessionTableBytesMax, defaults.connectionsMax],
      [10_000, 1_000, 64 * 1024 * 1024, 256 * 1024 * 1024, undefined],
    );
    assert.equal(loadServerConfig({ flags: { ...base, sessionTableBytesMax: '300000000' }, env: {} }).sessionTableBytesMax, 300_000_000);
    assert.throws(() => loadServerConfig({ flags: base, env: { CONCORD_SESSIONS_PER_USER_MAX: '6000' } }), /sessionsPerUserMax \(6000\) must be at most half of sessionsMax/);
    assert.throws(() => loadServerConfig({ flags: { ...base, sessionTableBytesMax: '100000000' }, env: {} }), /sessionTableBytesMax \(100000000\) must be at least twice/);
    assert.throws(() => loadServerConfig({ flags: { ...base, sessionResultBytesPerUserMax: '100' }, env: {} }), /must hold at least one saved result/);
    assert.throws(() => loadServerConfig({ flags: { ...base, idleTimeoutMs: '0' }, env: {} }), /idleTimeoutMs.*positive integer/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * A leader whose log order the test scripts: `beforeApply` runs once before each proposal is
 * applied, as entries committed ahead of it would (a revoke proposed by another request).
 */
class ScriptedReplica implements Replica {
  readonly name = 'n1';
  readonly kv = new KvStateMachine();
  readonly limits = this.kv.options;
  proposals = 0;
  beforeApply: (() => void) | null = null;
  private nowMs = 1_000;

  run(command: Command): ApplyResult {
    // Root's own changes, checked at the current revision.
    return applyCommand(this.kv, this.kv.appliedIndex + 1, command, this.nowMs, { user: 'root', authRevision: this.kv.auth.revision });
  }
  isLeader(): boolean {
    return true;
  }
  leaderId(): string {
    return 'n1';
  }
  leaderClientUrl(): string | null {
    return null;
  }
  hint() {
    return { leaderId: 'n1', leaderClientUrl: null };
  }
  async propose(payload: Uint8Array): Promise<ApplyResult> {
    this.proposals++;
    this.beforeApply?.();
    return this.kv.apply(this.kv.appliedIndex + 1, payload.subarray(proposalHeadroomBytes));
  }
  async readBarrier(): Promise<void> {}
  async catchUp(): Promise<void> {}
  checkAcceptingWrites(): void {}
  checkAccepting(): void {}
  status(): Omit<StatusResponse, 'header'> {
    throw new Error('not used');
  }
  get(key: Uint8Array) {
    return this.kv.get(key);
  }
  scan() {
    return { entries: [], next: null };
  }
  readTimeMs(): number {
    return 1_000;
  }
  lease(id: number, keys: boolean) {
    return this.kv.lease(id, keys);
  }
  leaseList() {
    return this.kv.leaseList();
  }
  sessionTable() {
    return { count: this.kv.sessionCount, bytes: this.kv.sessionBytes, infos: () => this.kv.sessionInfos() };
  }
  readTxn(body: Parameters<KvStateMachine['readTxn']>[0]) {
    return this.kv.readTxn(body);
  }
  revision(): number {
    return this.kv.appliedIndex;
  }
  get auth() {
    return this.kv.auth;
  }
}

async function scripted(): Promise<{ replica: ScriptedReplica; service: ClientService; put: { key: Uint8Array; value: Uint8Array; session: { sessionId: number; seq: number; ackedSeq: number } } }> {
  const replica = new ScriptedReplica();
  for (const command of [
    { kind: K.UserAdd, name: 'root', password: null },
    { kind: K.UserAdd, name: 'alice', password: null },
    { kind: K.RoleAdd, name: 'w' },
    { kind: K.RoleGrantPermission, name: 'w', permission: { access: 'readwrite', key: utf8('a/'), rangeEnd: utf8('a0') } },
    { kind: K.UserGrantRole, name: 'alice', role: 'w' },
    { kind: K.AuthEnable },
  ] as Command[]) {
    assert.equal(replica.run(command).kind, 'ok');
  }
  const forwarder = { forward: () => Promise.reject(new Error('not a follower')) };
  const service = new ClientService(replica, forwarder, 5_000, systemClock);
  // alice's session, owned by her (the entry carries the user the leader checked).
  const { sessionId } = await service.handlers['session.open']({ ttlMs: 0 }, asAlice);
  assert.equal(replica.kv.sessionUsageOf('alice').sessions, 1);
  replica.proposals = 0;
  return { replica, service, put: { key: utf8('a/x'), value: utf8('v'), session: { sessionId, seq: 1, ackedSeq: 0 } } };
}

// A forwarded context names the user the way a follower does; the leader checks it as that user.
const asAlice = { forwarded: true, forwardedUser: 'alice' } as const;

test('auth revision race: a revoke committed between the check and the apply wins; the service checks again', async () => {
  const { replica, service, put } = await scripted();
  replica.beforeApply = () => {
    replica.beforeApply = null;
    replica.run({ kind: K.RoleRevokePermission, name: 'w', range: { key: utf8('a/'), rangeEnd: utf8('a0') } });
  };
  await assert.rejects(service.handlers['kv.put'](put, asAlice), PermissionDeniedError);
  assert.equal(replica.proposals, 1, 'refused on apply, then refused by the second check: proposed once');
  assert.equal(replica.kv.get(utf8('a/x')), null, 'nothing written');
});

test('auth revision race: an unrelated auth change in between costs one more proposal, not an error', async () => {
  const { replica, service, put } = await scripted();
  replica.beforeApply = () => {
    replica.beforeApply = null;
    replica.run({ kind: K.UserAdd, name: 'carol', password: null });
  };
  const response = await service.handlers['kv.put'](put, asAlice);
  assert.equal(replica.proposals, 2);
  assert.equal(replica.kv.get(utf8('a/x'))?.modRevision, response.revision);
  // The stale attempt saved nothing: a retry of the same seq gets the one result that applied.
  assert.equal((await service.handlers['kv.put'](put, asAlice)).revision, response.revision);
  assert.equal(replica.kv.get(utf8('a/x'))?.version, 1);
});

test(`auth revision race: auth changing under every attempt ends with AuthOldRevisionError after ${AUTH_REVISION_ATTEMPTS_MAX} proposals`, async () => {
  const { replica, service, put } = await scripted();
  let n = 0;
  replica.beforeApply = () => void replica.run({ kind: K.UserAdd, name: `u${n++}`, password: null });
  await assert.rejects(service.handlers['kv.put'](put, asAlice), AuthOldRevisionError);
  assert.equal(replica.proposals, AUTH_REVISION_ATTEMPTS_MAX);
  assert.equal(replica.kv.get(utf8('a/x')), null);
  // Admin commands are covered too: root's role.add raced by changes fails typed, applied never.
  replica.proposals = 0;
  await assert.rejects(service.handlers['role.add']({ name: 'late' }, { forwarded: true, forwardedUser: 'root' }), AuthOldRevisionError);
  assert.equal(replica.proposals, AUTH_REVISION_ATTEMPTS_MAX);
  assert.equal(replica.kv.auth.role('late'), undefined);
});
