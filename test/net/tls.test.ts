import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, ConnectError, defineMethods, listen, RpcClient, RpcServer, s, type TlsOptions } from '../../src/net/index.js';
import { captureLogger, fixtures } from './helpers.js';

const read = (name: string) => readFileSync(new URL(name, fixtures));
const ca = read('ca.crt');
const serverTls: TlsOptions = { cert: read('server.crt'), key: read('server.key'), ca };
const clientCert = { cert: read('client.crt'), key: read('client.key') };
const stranger = { cert: read('stranger.crt'), key: read('stranger.key') };

const methods = defineMethods({ whoami: { id: 1, request: s.object({}), response: s.object({ name: s.string() }) } });

async function start(tls: TlsOptions) {
  const logger = captureLogger();
  const rpc = new RpcServer(methods, { whoami: () => ({ name: 'server' }) });
  const server = await listen('tls://127.0.0.1:0', { tls, logger, onConnection: (c) => rpc.serve(c) });
  return { server, logger };
}

test('tls:// with a server certificate signed by a trusted CA', async () => {
  const { server } = await start(serverTls);
  const client = new RpcClient(await connect(server.address, { tls: { ca } }), methods);
  assert.deepEqual(await client.call('whoami', {}), { name: 'server' });
  await client.connection.close();
  await server.close();
});

test('tls:// refuses a server whose certificate is not from a trusted CA', async () => {
  const { server } = await start(serverTls);
  await assert.rejects(connect(server.address, { tls: { ca: read('other-ca.crt') } }), ConnectError);
  await server.close();
});

test('mutual TLS: a client certificate from the CA is accepted', async () => {
  const { server } = await start({ ...serverTls, requestClientCert: true });
  const client = new RpcClient(await connect(server.address, { tls: { ca, ...clientCert } }), methods);
  assert.deepEqual(await client.call('whoami', {}), { name: 'server' });
  await client.connection.close();
  await server.close();
});

test('mutual TLS: no client certificate, or one from another CA, is refused and logged', async () => {
  const { server, logger } = await start({ ...serverTls, requestClientCert: true });
  for (const identity of [{}, stranger]) {
    // With TLS 1.3 the client may only learn of the refusal on its first read.
    const outcome = await connect(server.address, { tls: { ca, ...identity } }).then(
      async (connection) => {
        const client = new RpcClient(connection, methods);
        return client.call('whoami', {}, { timeoutMs: 10_000 }).then(
          () => 'answered',
          (error: Error) => error.name,
        );
      },
      (error: Error) => error.name,
    );
    assert.notEqual(outcome, 'answered');
  }
  assert.equal(server.connections.size, 0);
  assert.ok(logger.entries.some((e) => e.msg.includes('before it was established')));
  await server.close();
});
