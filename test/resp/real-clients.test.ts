/**
 * Real Redis clients against the protocol layer (the tiny Map-backed test server): ioredis with
 * its defaults (RESP3 via HELLO 3) and with protocol 2, node-redis with RESP3, redis-cli when the
 * machine has it; and raw sockets for closing behaviour and write backpressure. Loopback only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { startTestServer, type TestServer } from './test-server.js';

async function withServer(fn: (port: number, store: Map<string, Buffer>, server: TestServer) => Promise<void>): Promise<void> {
  const server = await startTestServer();
  try {
    await fn(server.port, server.store, server);
  } finally {
    await server.close();
  }
}

for (const protocol of [3, 2] as const) {
  test(`ioredis (protocol ${protocol}): PING, SET/GET, binary values, a pipeline of 200`, async () => {
    await withServer(async (port, _store, server) => {
      const client = new Redis({ host: '127.0.0.1', port, protocol, maxRetriesPerRequest: 0, lazyConnect: true });
      try {
        await client.connect();
        assert.equal(await client.ping(), 'PONG');
        assert.deepEqual(server.protocols(), [protocol], protocol === 3 ? 'ioredis said HELLO 3' : 'RESP2 stays');
        assert.equal(await client.set('k', 'v'), 'OK');
        assert.equal(await client.get('k'), 'v');
        assert.equal(await client.get('missing'), null);
        const binary = Buffer.from([0, 13, 10, 255, 42]);
        await client.set('bin', binary);
        assert.deepEqual(await client.getBuffer('bin'), binary);
        const pipeline = client.pipeline();
        for (let i = 0; i < 100; i++) pipeline.set(`p${i}`, `v${i}`).get(`p${i}`);
        const results = await pipeline.exec();
        assert.equal(results!.length, 200);
        for (let i = 0; i < 100; i++) {
          assert.deepEqual(results![2 * i], [null, 'OK']);
          assert.deepEqual(results![2 * i + 1], [null, `v${i}`]);
        }
        await assert.rejects(client.call('lpush', 'l', 'x'), /unknown command 'lpush', with args beginning with: 'l' 'x'/);
        assert.equal(await client.quit(), 'OK');
      } finally {
        client.disconnect();
      }
    });
  });
}

test('node-redis (RESP3): PING, SET/GET, auto-pipelined batch', async () => {
  await withServer(async (port, _store, server) => {
    const client = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false }, RESP: 3 });
    client.on('error', () => {});
    await client.connect();
    try {
      assert.equal(await client.ping(), 'PONG');
      assert.deepEqual(server.protocols(), [3]);
      assert.equal(await client.set('a', '1'), 'OK');
      assert.equal(await client.get('a'), '1');
      const values = await Promise.all(Array.from({ length: 100 }, (_, i) => client.set(`n${i}`, String(i)).then(() => client.get(`n${i}`))));
      assert.deepEqual(values, Array.from({ length: 100 }, (_, i) => String(i)));
    } finally {
      client.destroy();
    }
  });
});

test('redis-cli one-shot commands', { skip: existsSync('/usr/bin/redis-cli') ? false : 'no /usr/bin/redis-cli on this machine' }, async () => {
  await withServer(async (port) => {
    const cli = (...args: string[]): Promise<string> =>
      new Promise((resolve, reject) => execFile('/usr/bin/redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], (e, out) => (e ? reject(e) : resolve(out.trim()))));
    assert.equal(await cli('PING'), 'PONG');
    assert.equal(await cli('SET', 'x', 'hello world'), 'OK');
    assert.equal(await cli('GET', 'x'), 'hello world');
  });
});

function rawExchange(port: number, send: string): Promise<{ data: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (b) => (data += b.toString('latin1')));
    socket.on('close', () => resolve({ data, closed: true }));
    socket.on('error', () => {});
    socket.write(send);
  });
}

test('a protocol error is sent and then the server closes the socket', async () => {
  await withServer(async (port) => {
    const { data, closed } = await rawExchange(port, 'PING\r\n*1\r\n$-5\r\nPING\r\n');
    assert.equal(data, '+PONG\r\n-ERR Protocol error: invalid bulk length\r\n');
    assert.ok(closed);
  });
});

test('an HTTP POST is closed without a byte of reply', async () => {
  await withServer(async (port) => {
    const { data } = await rawExchange(port, 'POST /set HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n');
    assert.equal(data, '');
  });
});

test('a client that does not read stops the server dispatching; all replies arrive once it reads', async () => {
  await withServer(async (port, store, server) => {
    const big = Buffer.alloc(512 * 1024, 0x78);
    store.set('big', big);
    const count = 64;
    const socket: Socket = connect(port, '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.pause();
    socket.write('GET big\r\n'.repeat(count));
    // Let the server run until it blocks on the full socket.
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(server.getCalls() < count, `dispatch stopped while the client did not read (${server.getCalls()} of ${count})`);
    const expectedBytes = count * (`$${big.length}\r\n`.length + big.length + 2);
    let received = 0;
    const done = new Promise<void>((resolve) =>
      socket.on('data', (b: Buffer) => {
        received += b.length;
        if (received >= expectedBytes) resolve();
      }),
    );
    socket.resume();
    await done;
    assert.equal(received, expectedBytes);
    socket.destroy();
  });
});
