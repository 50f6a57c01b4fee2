/**
 * TTLs, multi-key commands, MULTI/EXEC/WATCH and AUTH with real Redis clients
 * against three real Concord members: ioredis (RESP3 and RESP2) on a
 * follower, node-redis RESP3 on the leader, redis-cli and redis-benchmark
 * (`-t mset`). A TTL set on one member is seen, and expires, on every member;
 * EXEC is one transaction; a WATCHed key changed by another client makes
 * EXEC answer null; with Concord auth on, AUTH logs in as a Concord user and
 * its permissions apply.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import type { LocalCluster, LocalMember } from '../../src/cli/dev/local-cluster.js';
import { portOf, run, startRespCluster, type RespCluster } from './resp-cluster-harness.js';

const concord = join(import.meta.dirname, '../../../bin/concord.js');


describe('TTLs, MULTI and AUTH with Redis clients against a real three-member cluster', { timeout: 300_000 }, () => {
  let started: RespCluster | undefined;
  let cluster: LocalCluster;
  let leader: LocalMember;
  let follower: LocalMember;

  before(async () => {
    started = await startRespCluster('concord-redis-txn-');
    ({ cluster, leader, follower } = started);
  });

  after(async () => {
    await started?.stop();
  });

  for (const protocol of [3, 2] as const) {
    test(`ioredis (protocol ${protocol}) on a follower: TTLs set, read and expired through the log; MSET, RENAME`, async () => {
      const r = new Redis({ host: '127.0.0.1', port: portOf(follower), protocol, maxRetriesPerRequest: 0, lazyConnect: true });
      const other = new Redis({ host: '127.0.0.1', port: portOf(leader), protocol, maxRetriesPerRequest: 0, lazyConnect: true });
      try {
        // Inside the try: a client whose connect fails must still be disconnected (ioredis retries forever).
        await r.connect();
        await other.connect();
        const p = `ttl${protocol}:`;
        assert.equal(await r.set(`${p}a`, 'v', 'EX', 100), 'OK');
        const ttl = await r.ttl(`${p}a`);
        assert.ok(ttl >= 99 && ttl <= 100, `ttl ${ttl}`);
        const at = await other.pexpiretime(`${p}a`);
        assert.ok(Math.abs(at - (Date.now() + 100_000)) < 5_000, 'the deadline is on the (wall-clock) entry clock, the same on the leader');
        assert.equal(await r.expire(`${p}a`, 50, 'GT'), 0);
        assert.equal(await r.expire(`${p}a`, 50, 'LT'), 1);
        assert.equal(await r.persist(`${p}a`), 1);
        assert.equal(await r.ttl(`${p}a`), -1);
        assert.equal(await r.set(`${p}short`, 'v', 'PX', 300), 'OK');
        assert.equal(await r.incr(`${p}n`), 1);
        assert.equal(await r.pexpire(`${p}n`, 300), 1);
        assert.equal(await r.incr(`${p}n`), 2, 'INCR keeps the TTL');
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        assert.equal(await other.get(`${p}short`), null);
        assert.equal(await r.exists(`${p}short`, `${p}n`), 0);
        assert.equal(await r.mset(`${p}m1`, '1', `${p}m2`, '2'), 'OK');
        assert.equal(await r.msetnx(`${p}m2`, 'x', `${p}m3`, '3'), 0);
        assert.deepEqual(await r.mget(`${p}m1`, `${p}m2`, `${p}m3`), ['1', '2', null]);
        assert.equal(await r.setex(`${p}src`, 100, 'moved'), 'OK');
        assert.equal(await r.rename(`${p}src`, `${p}dst`), 'OK');
        assert.equal(await other.get(`${p}dst`), 'moved');
        assert.ok((await other.ttl(`${p}dst`)) > 90, 'the TTL moved with the key');
        await assert.rejects(r.rename(`${p}src`, `${p}dst`), /ERR no such key/);
        assert.equal(await r.getex(`${p}dst`, 'PERSIST'), 'moved');
        assert.equal(await r.ttl(`${p}dst`), -1);
      } finally {
        r.disconnect();
        other.disconnect();
      }
    });
  }

  test('ioredis MULTI/EXEC and WATCH: one transaction, replies in order; a WATCHed key changed by another client: null', async () => {
    const r = new Redis({ host: '127.0.0.1', port: portOf(follower), maxRetriesPerRequest: 0, lazyConnect: true });
    const other = new Redis({ host: '127.0.0.1', port: portOf(leader), maxRetriesPerRequest: 0, lazyConnect: true });
    try {
      await r.connect();
      await other.connect();
      const result = await r.multi().set('tx:a', '1').incr('tx:a').get('tx:a').expire('tx:a', 100).mset('tx:b', 'x', 'tx:c', 'y').exec();
      assert.deepEqual(result, [[null, 'OK'], [null, 2], [null, '2'], [null, 1], [null, 'OK']]);
      assert.ok((await other.ttl('tx:a')) > 90);
      await r.watch('tx:a');
      await other.set('tx:a', 'changed');
      assert.equal(await r.multi().set('tx:out', 'no').exec(), null, 'EXEC answers null');
      assert.equal(await other.get('tx:out'), null);
      await r.watch('tx:a');
      const ok = await r.multi().incr('tx:counter').exec();
      assert.deepEqual(ok, [[null, 1]]);
      await assert.rejects(r.multi().set('tx:z', '1').call('nosuch').exec(), /EXECABORT/);
    } finally {
      r.disconnect();
      other.disconnect();
    }
  });

  test('node-redis (RESP3) MULTI with concurrent transactions: every INCR counted once', async () => {
    const clients = cluster.members.map((m) => createClient({ socket: { host: '127.0.0.1', port: portOf(m) }, RESP: 3 }));
    try {
      await Promise.all(clients.map((c) => c.connect()));
      const rounds = 10;
      await Promise.all(
        clients.map(async (c) => {
          for (let i = 0; i < rounds; i++) {
            const [n, appended] = await c.multi().incr('nr:count').append('nr:log', 'x').exec();
            assert.equal(typeof n, 'number');
            assert.equal(typeof appended, 'number');
          }
        }),
      );
      assert.equal(await clients[0]!.get('nr:count'), String(rounds * clients.length));
      assert.equal((await clients[1]!.get('nr:log'))!.length, rounds * clients.length);
    } finally {
      await Promise.all(clients.map((c) => (c.isOpen ? c.quit() : c.disconnect().catch(() => {}))));
    }
  });

  test('redis-cli TTL commands and a MULTI session; redis-benchmark -t mset exits 0', async (t) => {
    if (!existsSync('/usr/bin/redis-cli') || !existsSync('/usr/bin/redis-benchmark')) {
      t.skip('redis-tools not installed (scripts/install-test-deps.sh installs it)');
      return;
    }
    const port = String(portOf(leader));
    assert.equal((await run('redis-cli', ['-p', port, 'set', 'cli:t', 'v', 'EX', '60'])).stdout.trim(), 'OK');
    assert.equal((await run('redis-cli', ['-p', port, 'ttl', 'cli:t'])).stdout.trim(), '60');
    const session = await run('redis-cli', ['-p', port], 'multi\nset cli:m 5\nincrby cli:m 5\nexec\n');
    assert.deepEqual(session.stdout.trim().split('\n'), ['OK', 'QUEUED', 'QUEUED', 'OK', '10']);
    const bench = await run('redis-benchmark', ['-p', port, '-t', 'mset', '-n', '2000', '-c', '20', '-q']);
    assert.equal(bench.code, 0, bench.stderr);
    assert.match(bench.stdout, /MSET/);
  });

  test('with Concord auth on: AUTH and HELLO AUTH log in as a Concord user, NOAUTH and WRONGPASS, permissions per key', async () => {
    const endpoints = cluster.members.map((m) => m.clientUrl).join(',');
    const cli = (...args: string[]) => run(process.execPath, [concord, ...args, '--endpoints', endpoints]);
    for (const args of [
      ['user', 'add', 'root', '--password', 'rootpw'],
      ['user', 'add', 'app', '--password', 'apppw'],
      ['role', 'add', 'approle', '--user', 'root:rootpw'],
      ['role', 'grant-permission', 'approle', 'readwrite', 'app:', '--prefix', '--user', 'root:rootpw'],
      ['user', 'grant-role', 'app', 'approle', '--user', 'root:rootpw'],
      ['auth', 'enable', '--user', 'root:rootpw'],
    ]) {
      const out = await cli(...args);
      assert.equal(out.code, 0, `${args.join(' ')}: ${out.stderr}`);
    }
    // RESP2: ioredis's RESP3 connect sends HELLO 3 without credentials, which Redis 7 (and Concord)
    // refuse with NOAUTH once auth is on; the RESP3 login (HELLO 3 AUTH) is node-redis's, below.
    const r = new Redis({ host: '127.0.0.1', port: portOf(follower), protocol: 2, maxRetriesPerRequest: 0, lazyConnect: true, enableReadyCheck: false });
    try {
      await r.connect();
      await assert.rejects(r.get('app:x'), /NOAUTH Authentication required/);
      await assert.rejects(r.auth('app', 'wrong'), /WRONGPASS invalid username-password pair or user is disabled/);
      assert.equal(await r.auth('app', 'apppw'), 'OK');
      assert.equal(await r.set('app:x', '1', 'EX', 100), 'OK');
      assert.equal(await r.get('app:x'), '1');
      await assert.rejects(r.set('other:x', '1'), /NOPERM/);
    } finally {
      r.disconnect();
    }
    const n = createClient({ socket: { host: '127.0.0.1', port: portOf(leader) }, RESP: 3, username: 'app', password: 'apppw' });
    try {
      await n.connect();
      assert.equal(await n.get('app:x'), '1', 'node-redis logs in with HELLO 3 AUTH');
    } finally {
      if (n.isOpen) await n.quit();
      else await n.disconnect().catch(() => {});
    }
  });
});
