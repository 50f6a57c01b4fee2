/**
 * Client TLS and authentication against real members on loopback (issue 12
 * §2): three in-process members serving tls:// client URLs, the client
 * library logging in, and every refusal typed, with nothing written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ensureTlsMaterial, type TlsMaterial } from '../../src/cli/dev/tls-material.js';
import { AuthenticationFailedError, connect, PermissionDeniedError, type ConnectOptions, type KvClient } from '../../src/client/index.js';
import { loadServerConfig, startServer, type RunningServer } from '../../src/server/index.js';
import { freePort } from './harness.js';

const silent = pino({ level: 'silent' });
const names = ['n1', 'n2', 'n3'] as const;

interface Cluster {
  readonly servers: RunningServer[];
  readonly material: TlsMaterial;
  readonly clientUrls: string[];
  close(): Promise<void>;
}

async function startCluster(clientCertAuth: boolean): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'concord-clientauth-'));
  const material = await ensureTlsMaterial({ dir: join(dir, 'tls'), members: names, clientUsers: ['root', 'alice'] });
  const peerUrls = await Promise.all(names.map(async () => `tcp://127.0.0.1:${await freePort()}`));
  const clientUrls = await Promise.all(names.map(async () => `tls://127.0.0.1:${await freePort()}`));
  const initialCluster = names.map((n, i) => `${n}=${peerUrls[i]}`).join(',');
  const servers: RunningServer[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // All at once: a member that starts after the others formed the cluster refuses to bootstrap.
    const configs = names.map((name, i) => {
      const flags: Record<string, string | boolean> = {
        name,
        dataDir: join(dir, name),
        clientUrl: clientUrls[i]!,
        peerUrl: peerUrls[i]!,
        initialCluster,
        heartbeatIntervalMs: '50',
        electionTimeoutMs: '500',
        certFile: material.members[name]!.certFile,
        keyFile: material.members[name]!.keyFile,
        trustedCaFile: material.caFile,
      };
      if (clientCertAuth) flags['clientCertAuth'] = true;
      return loadServerConfig({ flags: flags as never, env: {} });
    });
    const started = await Promise.allSettled(configs.map((config) => startServer(config, silent)));
    for (const s of started) if (s.status === 'fulfilled') servers.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
  } catch (error) {
    await close();
    throw error;
  }
  return { servers, material, clientUrls, close };
}

function tlsFor(material: TlsMaterial, user?: string): NonNullable<ConnectOptions['tls']> {
  const ca = readFileSync(material.caFile);
  if (user === undefined) return { ca };
  return { ca, cert: readFileSync(material.clients[user]!.certFile), key: readFileSync(material.clients[user]!.keyFile) };
}

async function client(cluster: Cluster, options: Partial<ConnectOptions> & { endpoints?: string[] } = {}): Promise<KvClient> {
  return connect({ endpoints: cluster.clientUrls, tls: tlsFor(cluster.material), timeoutMs: 15_000, openSessionOnConnect: false, ...options });
}

async function leaderIndex(cluster: Cluster): Promise<number> {
  for (;;) {
    const i = cluster.servers.findIndex((s) => s.status().member.role === 'leader');
    if (i >= 0) return i;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('client TLS with auth: refusals are typed and write nothing; root works; a forwarded write is checked; disabling works', { timeout: 120_000 }, async () => {
  const cluster = await startCluster(false);
  try {
    // Set up users and roles while auth is off, then enable it.
    const admin = await client(cluster);
    await admin.put('a/1', 'one');
    await admin.put('b/x', 'secret');
    await admin.admin('user.add', { name: 'root', password: 'rootpw' });
    await admin.admin('user.add', { name: 'reader', password: 'readerpw' });
    await admin.admin('user.add', { name: 'alice', password: 'alicepw' });
    await admin.admin('role.add', { name: 'ro' });
    await admin.admin('role.grantPermission', { name: 'ro', permission: { access: 'read', key: new Uint8Array(0), rangeEnd: Uint8Array.of(0) } });
    await admin.admin('role.add', { name: 'a-prefix' });
    await admin.admin('role.grantPermission', { name: 'a-prefix', permission: { access: 'readwrite', key: Buffer.from('a/'), rangeEnd: Buffer.from('a0') } });
    await admin.admin('user.grantRole', { name: 'reader', role: 'ro' });
    await admin.admin('user.grantRole', { name: 'alice', role: 'a-prefix' });
    await admin.admin('auth.enable', {});
    await admin.close();

    // No credentials: reads, writes and cluster.status are refused.
    const anonymous = await client(cluster);
    await assert.rejects(anonymous.get('a/1'), AuthenticationFailedError);
    await assert.rejects(anonymous.put('a/2', 'no'), AuthenticationFailedError);
    await assert.rejects(anonymous.admin('user.list', {}), AuthenticationFailedError);
    await assert.rejects(anonymous.members.list(), AuthenticationFailedError);
    await assert.rejects(anonymous.openSnapshot(), AuthenticationFailedError);
    await anonymous.close();

    // Wrong password, unknown user: the login on the first connection fails, typed (not retried to a timeout).
    for (const auth of [{ user: 'alice', password: 'wrong' }, { user: 'nobody', password: 'wrong' }]) {
      const refused = await client(cluster, { auth });
      await assert.rejects(refused.get('a/1'), AuthenticationFailedError);
      refused.abort();
    }

    // A read-only role writing.
    const reader = await client(cluster, { auth: { user: 'reader', password: 'readerpw' } });
    assert.equal((await reader.get('b/x'))?.valueString(), 'secret');
    await assert.rejects(reader.put('a/3', 'no'), (error: unknown) => error instanceof PermissionDeniedError && /reader/.test(error.message));
    await assert.rejects(reader.openSnapshot(), PermissionDeniedError); // a backup is everything: admin only
    await reader.close();

    // A role on prefix a/ reading b/x, and scanning beyond its prefix; a forwarded write through a follower is checked too.
    const leader = await leaderIndex(cluster);
    const follower = cluster.clientUrls[(leader + 1) % 3]!;
    const alice = await client(cluster, { endpoints: [follower], auth: { user: 'alice', password: 'alicepw' } });
    await assert.rejects(alice.get('b/x'), PermissionDeniedError);
    await assert.rejects(alice.scan({ prefix: '' }).entries().next(), PermissionDeniedError);
    await assert.rejects(alice.put('b/y', 'no'), PermissionDeniedError);
    await assert.rejects(alice.admin('user.add', { name: 'mallory', password: 'x' }), PermissionDeniedError);
    // Membership changes are administration; listing the members needs a login only.
    await assert.rejects(alice.members.remove('n3'), PermissionDeniedError);
    await assert.rejects(alice.members.add('n4', { peerUrl: 'tcp://127.0.0.1:1', learner: true }), PermissionDeniedError);
    await assert.rejects(alice.leader.transfer(), PermissionDeniedError);
    assert.equal((await alice.members.list()).members.length, 3);
    await alice.put('a/2', 'two'); // forwarded by the follower, allowed
    assert.equal((await alice.get('a/2'))?.valueString(), 'two');
    await alice.close();

    // Leases: revoking, renewing or inspecting one needs write access to every key attached to it (etcd's rule),
    // through a follower too (it checks, and the leader checks again as the forwarded user).
    const owner = await client(cluster, { auth: { user: 'root', password: 'rootpw' } });
    const guarded = await owner.lease.grant(60_000);
    await owner.put('b/leased', 'x', { lease: guarded.id });
    const tenant = await client(cluster, { endpoints: [follower], auth: { user: 'alice', password: 'alicepw' } });
    const denied = async (what: string, call: Promise<unknown>): Promise<void> => {
      await assert.rejects(call, (error: unknown) => {
        assert.ok(error instanceof PermissionDeniedError, `${what}: ${(error as Error).message}`);
        return true;
      });
    };
    await denied('revoke', tenant.lease.revoke(guarded.id));
    await denied('keep-alive', tenant.lease.keepAliveOnce(guarded.id));
    await denied('time to live', tenant.lease.timeToLive(guarded.id, { keys: true }));
    await denied('put on the lease', tenant.put('b/other', 'x', { lease: guarded.id }));
    const own = await tenant.lease.grant(60_000);
    await tenant.put('a/leased', 'y', { lease: own.id });
    assert.equal((await tenant.lease.revoke(own.id)).deletedKeys, 1);
    await tenant.close();
    assert.ok(await owner.get('b/leased'), 'the refused revoke deleted nothing');
    assert.equal((await owner.lease.revoke(guarded.id)).deletedKeys, 1);
    await owner.close();

    // root works, and sees that nothing refused was written.
    const root = await client(cluster, { auth: { user: 'root', password: 'rootpw' } });
    for (const key of ['a/3', 'b/y']) assert.equal(await root.get(key), null);
    assert.deepEqual((await root.admin('user.list', {})).users, ['alice', 'reader', 'root']);
    assert.equal((await root.admin('auth.status', {})).enabled, true);
    assert.deepEqual((await root.members.list()).members.map((m) => `${m.name}:${m.role}`), ['n1:voter', 'n2:voter', 'n3:voter']);
    const moved = await root.leader.transfer();
    assert.notEqual(moved.leader, moved.previousLeader);
    // The leader removing itself hands over first and sends the request on, as root still.
    const removed = await root.members.remove(moved.leader);
    assert.equal(removed.member.name, moved.leader);
    assert.deepEqual(removed.members.map((m) => m.name).sort(), names.filter((n) => n !== moved.leader));
    await cluster.servers.find((s) => s.config.name === moved.leader)!.removed; // it learns it was removed and stops
    await root.status();
    const backup = await root.openSnapshot({ chunkBytesMax: 4096 });
    let backupBytes = 0;
    for await (const chunk of backup) backupBytes += chunk.length;
    assert.equal(backupBytes, backup.info.totalBytes);
    assert.ok(backup.info.keys >= 3);
    await root.admin('auth.disable', {});
    await root.close();
    // A follower checks a request against its own auth state: let both members left apply the switch first.
    const left = cluster.servers.filter((s) => s.config.name !== moved.leader);
    for (;;) {
      const commit = Math.max(...left.map((s) => s.status().member.commitIndex));
      if (left.every((s) => s.status().member.appliedIndex >= commit)) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    // Disabled: anyone may write again.
    const open = await client(cluster);
    await open.put('b/y', 'now');
    assert.equal((await open.get('b/y'))?.valueString(), 'now');
    await open.close();
  } finally {
    await cluster.close();
  }
});

test('--client-cert-auth: the certificate CN is the user; no certificate, no connection', { timeout: 120_000 }, async () => {
  const cluster = await startCluster(true);
  try {
    const root = await client(cluster, { tls: tlsFor(cluster.material, 'root') });
    await root.admin('user.add', { name: 'root', password: null });
    await root.admin('user.add', { name: 'alice', password: null });
    await root.admin('role.add', { name: 'a-prefix' });
    await root.admin('role.grantPermission', { name: 'a-prefix', permission: { access: 'readwrite', key: Buffer.from('a/'), rangeEnd: Buffer.from('a0') } });
    await root.admin('user.grantRole', { name: 'alice', role: 'a-prefix' });
    await root.admin('auth.enable', {});
    await root.put('b/x', 'root wrote this');

    const alice = await client(cluster, { tls: tlsFor(cluster.material, 'alice') });
    await alice.put('a/1', 'mine');
    await assert.rejects(alice.get('b/x'), (error: unknown) => error instanceof PermissionDeniedError && /alice/.test(error.message));
    await alice.close();

    // Without a client certificate the TLS handshake itself is refused.
    const noCertificate = await client(cluster, { timeoutMs: 2_000 });
    await assert.rejects(noCertificate.get('a/1'));
    noCertificate.abort();
    await root.admin('auth.disable', {});
    await root.close();
  } finally {
    await cluster.close();
  }
});
