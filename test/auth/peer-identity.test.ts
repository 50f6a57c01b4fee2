import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { certificateNamesMember, dnsNamesOf, membersNamedBy } from '../../src/auth/index.js';
import { ensureTlsMaterial } from '../../src/cli/dev/tls-material.js';

test('a certificate names a member by its CN or an exact DNS SAN, never by a pattern or an IP', () => {
  const cert = { subject: { CN: 'n2' }, subjectaltname: 'DNS:n2, DNS:localhost, IP Address:127.0.0.1' };
  assert.equal(certificateNamesMember(cert, 'n2'), true);
  assert.equal(certificateNamesMember(cert, 'n3'), false);
  assert.equal(certificateNamesMember(cert, '127.0.0.1'), false, 'IP SANs are not member names');
  assert.equal(certificateNamesMember({ subject: { CN: 'x' }, subjectaltname: 'DNS:n3' }, 'n3'), true);
  assert.equal(certificateNamesMember({ subject: { CN: '*' }, subjectaltname: 'DNS:*.example' }, 'n1.example'), false);
  assert.equal(certificateNamesMember(null, 'n1'), false);
  assert.deepEqual(dnsNamesOf(cert), ['n2', 'localhost']);
  assert.deepEqual(membersNamedBy(cert, ['n1', 'n2', 'n3']), ['n2']);
});

test('on a real mutual-TLS connection the peer certificate of member n2 names n2 and not n3', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'concord-peer-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const m = await ensureTlsMaterial({ dir, members: ['n1', 'n2'], clientUsers: [] });
  const read = (p: string) => readFileSync(p);
  let peer: tls.PeerCertificate | null = null;
  const server = tls.createServer(
    { cert: read(m.members['n1']!.certFile), key: read(m.members['n1']!.keyFile), ca: read(m.caFile), requestCert: true, rejectUnauthorized: true },
    (socket) => {
      peer = socket.getPeerCertificate();
      socket.end();
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'n1', cert: read(m.members['n2']!.certFile), key: read(m.members['n2']!.keyFile), ca: read(m.caFile) });
    socket.on('error', reject);
    socket.on('close', () => resolve());
    socket.resume();
  });
  assert.ok(peer !== null);
  assert.equal(certificateNamesMember(peer, 'n2'), true);
  assert.equal(certificateNamesMember(peer, 'n3'), false);
  assert.deepEqual(membersNamedBy(peer, ['n1', 'n2', 'n3']), ['n2']);
});
