import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../src/common/clock.js';
import { ensureTlsMaterial, TlsMaterialError, type CertificateFiles, type TlsMaterial } from '../../src/cli/dev/tls-material.js';

const read = (path: string): Buffer => readFileSync(path);

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'concord-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Outcome {
  readonly ok: boolean;
  /** The client certificate's CN as the server saw it. */
  readonly peerCn: string | null;
  readonly error: string | null;
}

/**
 * One mutual-TLS handshake on loopback: a server with `server` requiring a
 * client certificate from `serverCa`, a client with `client` trusting `clientCa`.
 */
async function handshake(
  server: CertificateFiles,
  serverCa: string,
  client: CertificateFiles,
  clientCa: string,
  connect: { host: string; servername?: string },
): Promise<Outcome> {
  let peerCn: string | null = null;
  const srv = tls.createServer(
    { cert: read(server.certFile), key: read(server.keyFile), ca: read(serverCa), requestCert: true, rejectUnauthorized: true },
    (socket) => {
      const cn = socket.getPeerCertificate().subject?.CN;
      peerCn = typeof cn === 'string' ? cn : null;
      socket.end('hello');
    },
  );
  srv.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => srv.listen(0, connect.host, resolve));
  const { port } = srv.address() as AddressInfo;
  try {
    const result = await new Promise<Outcome>((resolve) => {
      const socket = tls.connect({
        host: connect.host,
        port,
        ...(connect.servername !== undefined ? { servername: connect.servername } : {}),
        cert: read(client.certFile),
        key: read(client.keyFile),
        ca: read(clientCa),
      });
      let data = '';
      socket.on('data', (chunk: Buffer) => (data += chunk.toString()));
      socket.on('end', () => resolve({ ok: data === 'hello', peerCn, error: null }));
      socket.on('error', (err: Error) => resolve({ ok: false, peerCn, error: (err as NodeJS.ErrnoException).code ?? err.message }));
      socket.setTimeout(20_000, () => socket.destroy(new Error('handshake did not finish')));
    });
    return result;
  } finally {
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
}

async function material(dir: string): Promise<TlsMaterial> {
  return ensureTlsMaterial({ dir, members: ['n1', 'n2'], clientUsers: ['root', 'alice'] });
}

test('dev TLS material: a CA, member and client certificates with private keys, loadable by node:tls', async (t) => {
  const dir = tempDir(t);
  const m = await material(dir);
  assert.equal(m.written.length, 2 + 2 * 2 + 2 * 2, 'CA, 2 members, 2 clients: cert + key each');
  for (const files of [{ certFile: m.caFile, keyFile: m.caKeyFile }, ...Object.values(m.members), ...Object.values(m.clients)]) {
    assert.equal(statSync(files.keyFile).mode & 0o777, 0o600, `${files.keyFile} is private`);
    tls.createSecureContext({ cert: read(files.certFile), key: read(files.keyFile) });
  }
  assert.equal(statSync(dir).mode & 0o077, 0, 'the directory is private');
  const n1 = new X509Certificate(read(m.members['n1']!.certFile));
  assert.match(n1.subject, /^CN=n1$/m);
  for (const name of ['DNS:n1', 'DNS:localhost', 'IP Address:127.0.0.1']) assert.ok(n1.subjectAltName?.includes(name), name);
  assert.ok(/IP Address:(::1|0:0:0:0:0:0:0:1)/.test(n1.subjectAltName ?? ''), '::1');
  assert.equal(n1.checkHost('n1'), 'n1');
  assert.equal(n1.checkIP('::1'), '::1');
  assert.ok(n1.checkIssued(new X509Certificate(read(m.caFile))));
  assert.match(new X509Certificate(read(m.clients['root']!.certFile)).subject, /^CN=root$/m);
});

test('mutual TLS on loopback succeeds with the material and fails with a certificate from another CA', async (t) => {
  const m = await material(tempDir(t));
  const other = await material(tempDir(t));
  const n1 = m.members['n1']!;
  // A client (CN root) to member n1, by IP, by localhost and by the member name.
  for (const connect of [{ host: '127.0.0.1' }, { host: '127.0.0.1', servername: 'localhost' }, { host: '127.0.0.1', servername: 'n1' }]) {
    const outcome = await handshake(n1, m.caFile, m.clients['root']!, m.caFile, connect);
    assert.deepEqual(outcome, { ok: true, peerCn: 'root', error: null }, JSON.stringify(connect));
  }
  const v6 = await handshake(n1, m.caFile, m.clients['alice']!, m.caFile, { host: '::1' }).catch(() => null);
  if (v6 !== null) assert.deepEqual(v6, { ok: true, peerCn: 'alice', error: null }, 'over ::1 (when the host has IPv6)');
  // Member to member: n2 dials n1 with its own certificate.
  assert.equal((await handshake(n1, m.caFile, m.members['n2']!, m.caFile, { host: '127.0.0.1', servername: 'n1' })).peerCn, 'n2');

  // A client certificate from another CA is refused by the server.
  const strangerClient = await handshake(n1, m.caFile, other.clients['root']!, m.caFile, { host: '127.0.0.1' });
  assert.equal(strangerClient.ok, false);
  assert.equal(strangerClient.peerCn, null, 'the connection handler never ran');
  // A server certificate from another CA is refused by the client.
  const strangerServer = await handshake(other.members['n1']!, m.caFile, m.clients['root']!, m.caFile, { host: '127.0.0.1' });
  assert.equal(strangerServer.ok, false);
  assert.match(strangerServer.error ?? '', /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|CERT/);
  // A member certificate does not pass for another name.
  const wrongName = await handshake(n1, m.caFile, m.clients['root']!, m.caFile, { host: '127.0.0.1', servername: 'n2' });
  assert.equal(wrongName.ok, false);
  assert.match(wrongName.error ?? '', /ERR_TLS_CERT_ALTNAME_INVALID/);
});

test('existing material is reused when good; a broken leaf is replaced alone; a broken CA replaces everything', async (t) => {
  const dir = tempDir(t);
  const first = await material(dir);
  const caBefore = readFileSync(first.caFile, 'utf8');
  const n2Before = readFileSync(first.members['n2']!.certFile, 'utf8');
  const again = await material(dir);
  assert.deepEqual(again.written, [], 'nothing rewritten');
  assert.equal(readFileSync(first.caFile, 'utf8'), caBefore);

  writeFileSync(first.members['n1']!.keyFile, 'garbage', { mode: 0o644 });
  const repaired = await material(dir);
  assert.deepEqual([...repaired.written].sort(), [first.members['n1']!.certFile, first.members['n1']!.keyFile].sort());
  assert.equal(readFileSync(first.caFile, 'utf8'), caBefore, 'the CA is kept');
  assert.equal(readFileSync(first.members['n2']!.certFile, 'utf8'), n2Before);
  assert.equal(statSync(first.members['n1']!.keyFile).mode & 0o777, 0o600);
  assert.equal((await handshake(repaired.members['n1']!, repaired.caFile, repaired.clients['root']!, repaired.caFile, { host: '127.0.0.1' })).ok, true);

  // A leaf signed by another CA (copied in) is replaced too.
  const other = await material(tempDir(t));
  writeFileSync(first.clients['alice']!.certFile, readFileSync(other.clients['alice']!.certFile));
  writeFileSync(first.clients['alice']!.keyFile, readFileSync(other.clients['alice']!.keyFile));
  assert.equal((await material(dir)).written.length, 2);

  rmSync(first.caKeyFile);
  const renewed = await material(dir);
  assert.equal(renewed.written.length, 10, 'a new CA reissues every certificate');
  assert.notEqual(readFileSync(first.caFile, 'utf8'), caBefore);
});

test('certificates about to expire are renewed; bad names are refused', async (t) => {
  const dir = tempDir(t);
  const longAgo = Date.now() - 400 * 24 * 3600 * 1000;
  // Only nowMs is read: the rest of the Clock is never called here.
  const clock = { nowMs: () => longAgo } as unknown as Clock;
  await ensureTlsMaterial({ dir, members: ['n1'], clientUsers: [], validityDays: 365, clock });
  const now = await ensureTlsMaterial({ dir, members: ['n1'], clientUsers: [] });
  assert.equal(now.written.length, 4, 'an expired CA and member are renewed');
  await assert.rejects(ensureTlsMaterial({ dir, members: ['../evil'] }), TlsMaterialError);
  await assert.rejects(ensureTlsMaterial({ dir, members: ['n1', 'n1'] }), /given twice/);
});
