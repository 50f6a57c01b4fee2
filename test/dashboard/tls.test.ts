/**
 * The dashboard of a member whose client URL is tls:// with
 * --client-cert-auth (what `concord dev --tls` runs): its API reaches the
 * member over TLS, presenting the member's own certificate, which names the
 * member and carries no user: once auth is on, nothing is readable until a
 * browser user logs in, and then the calls act as that user.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type KvClient } from '../../src/client/index.js';
import { LocalCluster, MemberOutput } from '../../src/cli/dev/local-cluster.js';
import { freePortRange } from '../../src/cli/dev/free-ports.js';
import { ensureTlsMaterial } from '../../src/cli/dev/tls-material.js';

let dataDir: string;
let cluster: LocalCluster;
let root: KvClient;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'concord-dashboard-tls-'));
  const names = ['n1', 'n2', 'n3'];
  const material = await ensureTlsMaterial({ dir: join(dataDir, 'tls'), members: names, clientUsers: ['root'] });
  const base = await freePortRange(3, 300);
  cluster = await LocalCluster.start({
    nodes: 3,
    dataDir,
    clientPortBase: base,
    peerPortBase: base + 100,
    metricsPortBase: base + 200,
    peerTls: { caFile: material.caFile, members: material.members },
    clientTls: { caFile: material.caFile, members: material.members, clientCertAuth: true, probe: material.clients['root']! },
    output: MemberOutput.Ignore,
    serverArgs: ['--dashboard', '--log-level', 'warn'],
  });
  await cluster.waitForLeader({ timeoutMs: 60_000 });
  const cert = material.clients['root']!;
  root = await connect({
    endpoints: cluster.endpoints,
    timeoutMs: 30_000,
    tls: { ca: readFileSync(material.caFile), cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) },
  });
});

after(async () => {
  await root?.close().catch(() => undefined);
  if (cluster !== undefined) await cluster.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const json = async (response: Response): Promise<Record<string, any>> => (await response.json()) as Record<string, any>;

test('the dashboard API works over a tls:// client URL with client certificates, and acts as the logged-in user once auth is on', { timeout: 180_000 }, async () => {
  const ui = cluster.members[1]!.metricsUrl;
  assert.ok(cluster.endpoints.every((e) => e.startsWith('tls://')));
  const status = await fetch(`${ui}/api/status`);
  assert.equal(status.status, 200);
  assert.equal((await json(status)).cluster.members.length, 3);
  await root.put('tls/key', 'over tls');
  assert.equal(Buffer.from((await json(await fetch(`${ui}/api/key?key=tls/key`))).value, 'base64').toString(), 'over tls');

  await root.admin('user.add', { name: 'root', password: null });
  await root.admin('user.add', { name: 'alice', password: 'alicepw' });
  await root.admin('role.add', { name: 'rw' });
  await root.admin('role.grantPermission', { name: 'rw', permission: { access: 'readwrite', key: new TextEncoder().encode('tls/'), rangeEnd: new TextEncoder().encode('tls0') } });
  await root.admin('user.grantRole', { name: 'alice', role: 'rw' });
  await root.admin('auth.enable', {});
  // The dashboard's own certificate names the member, not a user: no rights of its own.
  const anonymous = await fetch(`${ui}/api/key?key=tls/key`);
  assert.equal(anonymous.status, 401, JSON.stringify(await anonymous.clone().json()));
  const login = await fetch(`${ui}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-concord-dashboard': '1' }, body: JSON.stringify({ user: 'alice', password: 'alicepw' }) });
  assert.equal(login.status, 200);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  const put = await fetch(`${ui}/api/key`, { method: 'PUT', headers: { cookie, 'content-type': 'application/json', 'x-concord-dashboard': '1' }, body: JSON.stringify({ key: 'tls/by-alice', value: 'hi' }) });
  assert.equal(put.status, 200);
  assert.equal((await root.get('tls/by-alice'))?.valueString(), 'hi');
  // Alice's rights, not more: outside tls/ she is refused.
  const outside = await fetch(`${ui}/api/key`, { method: 'PUT', headers: { cookie, 'content-type': 'application/json', 'x-concord-dashboard': '1' }, body: JSON.stringify({ key: 'elsewhere', value: 'no' }) });
  assert.equal(outside.status, 403);
  await root.admin('auth.disable', {});
});
