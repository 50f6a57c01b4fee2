/**
 * The dashboard of a member whose client URL is tls:// with
 * --client-cert-auth (what `concord dev --tls` runs), served on an https://
 * metrics URL: its API reaches the member over TLS, presenting the member's
 * own certificate, which names the member and carries no user: once auth is
 * on, nothing is readable until a browser user logs in, by password or by a
 * client certificate whose CN becomes the user, and then the calls act as
 * that user.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type KvClient } from '../../src/client/index.js';
import { LocalCluster, MemberOutput } from '../../src/cli/dev/local-cluster.js';
import { freePortRange } from '../../src/cli/dev/free-ports.js';
import { ensureTlsMaterial } from '../../src/cli/dev/tls-material.js';

let dataDir: string;
let cluster: LocalCluster;
let root: KvClient;
let ca: Buffer;
let aliceCert: { cert: Buffer; key: Buffer };
let strangerCert: { cert: Buffer; key: Buffer };

interface Answer {
  readonly status: number;
  readonly body: Record<string, any>;
  readonly cookie: string;
}

/** One call to the dashboard's API over https (with a browser certificate when given). */
function call(url: string, options: { method?: string; body?: unknown; cookie?: string; cert?: { cert: Buffer; key: Buffer } } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const method = options.method ?? 'GET';
    const headers: Record<string, string> = { ...(options.cookie !== undefined ? { cookie: options.cookie } : {}) };
    if (method !== 'GET') Object.assign(headers, { 'content-type': 'application/json', 'x-concord-dashboard': '1' });
    const req = httpsRequest(url, { method, headers, ca, ...(options.cert ?? {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, any>, cookie: (res.headers['set-cookie']?.[0] ?? '').split(';')[0]! }),
      );
    });
    req.on('error', reject);
    req.end(method === 'GET' ? undefined : JSON.stringify(options.body ?? {}));
  });
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'concord-dashboard-tls-'));
  const names = ['n1', 'n2', 'n3'];
  const material = await ensureTlsMaterial({ dir: join(dataDir, 'tls'), members: names, clientUsers: ['root', 'alice', 'stranger'] });
  ca = readFileSync(material.caFile);
  const files = (user: string) => ({ cert: readFileSync(material.clients[user]!.certFile), key: readFileSync(material.clients[user]!.keyFile) });
  aliceCert = files('alice');
  strangerCert = files('stranger');
  const base = await freePortRange(3, 300);
  cluster = await LocalCluster.start({
    nodes: 3,
    dataDir,
    clientPortBase: base,
    peerPortBase: base + 100,
    metricsPortBase: base + 200,
    metricsScheme: 'https',
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

test('the dashboard API works over tls:// client URLs; once auth is on it acts as the user logged in by password or by certificate', { timeout: 180_000 }, async () => {
  const ui = cluster.members[1]!.metricsUrl!;
  assert.ok(ui.startsWith('https://') && cluster.endpoints.every((e) => e.startsWith('tls://')));
  const status = await call(`${ui}/api/status`);
  assert.equal(status.status, 200);
  assert.equal(status.body.cluster.members.length, 3);
  await root.put('tls/key', 'over tls');
  assert.equal(Buffer.from((await call(`${ui}/api/key?key=tls/key`)).body.value, 'base64').toString(), 'over tls');

  await root.admin('user.add', { name: 'root', password: null });
  await root.admin('user.add', { name: 'alice', password: 'alicepw' });
  await root.admin('role.add', { name: 'rw' });
  await root.admin('role.grantPermission', { name: 'rw', permission: { access: 'readwrite', key: new TextEncoder().encode('tls/'), rangeEnd: new TextEncoder().encode('tls0') } });
  await root.admin('user.grantRole', { name: 'alice', role: 'rw' });
  await root.admin('auth.enable', {});
  try {
    // The dashboard's own certificate names the member, not a user: no rights of its own.
    assert.equal((await call(`${ui}/api/key?key=tls/key`)).status, 401);

    // A password login acts as that user, within that user's rights.
    const login = await call(`${ui}/api/login`, { method: 'POST', body: { user: 'alice', password: 'alicepw' } });
    assert.equal(login.status, 200);
    const put = await call(`${ui}/api/key`, { method: 'PUT', cookie: login.cookie, body: { key: 'tls/by-password', value: 'hi' } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal((await root.get('tls/by-password'))?.valueString(), 'hi');
    assert.equal((await call(`${ui}/api/key`, { method: 'PUT', cookie: login.cookie, body: { key: 'elsewhere', value: 'no' } })).status, 403);

    // A browser certificate signed by --trusted-ca-file: its CN is the user, no password asked.
    const byCert = await call(`${ui}/api/key?key=tls/key`, { cert: aliceCert });
    assert.equal(byCert.status, 200, JSON.stringify(byCert.body));
    assert.equal(byCert.body.user, 'alice');
    assert.equal((await call(`${ui}/api/key`, { method: 'PUT', cert: aliceCert, body: { key: 'tls/by-certificate', value: 'yes' } })).status, 200);
    assert.equal((await root.get('tls/by-certificate'))?.valueString(), 'yes');
    const outside = await call(`${ui}/api/key`, { method: 'PUT', cert: aliceCert, body: { key: 'elsewhere', value: 'no' } });
    assert.equal(outside.status, 403);
    assert.match(outside.body.error.message, /alice/);
    // A certificate whose CN is no user gets nothing.
    assert.equal((await call(`${ui}/api/key?key=tls/key`, { cert: strangerCert })).status, 401);
  } finally {
    await root.admin('auth.disable', {});
  }
});
