/**
 * Redis clients against real Concord members (three processes on loopback,
 * --resp-url on each): ioredis (RESP3 via HELLO 3, and protocol 2), node-redis
 * RESP3, redis-cli when installed; string commands, pipelines, SCAN
 * streams, writes through a follower (forwarded under the connection's
 * session), and a leader SIGKILL during writes: every write is acknowledged
 * or reported failed/unknown, and every acknowledged INCR is counted once;
 * pipelines of SETs (one transaction each) across a leader SIGKILL apply
 * each SET at most once, every acknowledged one exactly once.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import type { LocalCluster, LocalMember } from '../../src/cli/dev/local-cluster.js';
import { portOf, run, startRespCluster, type RespCluster } from './resp-cluster-harness.js';
import { connect } from '../../src/client/index.js';



describe('Redis clients against a real three-member cluster', { timeout: 300_000 }, () => {
  let started: RespCluster | undefined;
  let cluster: LocalCluster;
  let leader: LocalMember;
  let follower: LocalMember;

  before(async () => {
    started = await startRespCluster('concord-redis-real-');
    ({ cluster, leader, follower } = started);
  });

  after(async () => {
    await started?.stop();
  });

  for (const protocol of [3, 2] as const) {
    test(`ioredis (protocol ${protocol}) on a follower: string commands with Redis's answers and errors`, async () => {
      const r = new Redis({ host: '127.0.0.1', port: portOf(follower), protocol, maxRetriesPerRequest: 0, lazyConnect: true });
      await r.connect();
      try {
        const p = `io${protocol}:`;
        assert.equal(await r.set(`${p}a`, 'hello'), 'OK');
        assert.equal(await r.get(`${p}a`), 'hello', 'read-after-write through a follower');
        assert.equal(await r.set(`${p}a`, 'x', 'NX'), null);
        assert.equal(await r.set(`${p}new`, 'x', 'XX'), null);
        assert.equal(await r.set(`${p}a`, 'world', 'XX', 'GET'), 'hello');
        assert.equal(await r.setnx(`${p}a`, 'no'), 0);
        assert.equal(await r.getset(`${p}a`, 'v2'), 'world');
        assert.equal(await r.append(`${p}a`, '!!'), 4);
        assert.equal(await r.strlen(`${p}a`), 4);
        assert.equal(await r.getrange(`${p}a`, 1, -1), '2!!');
        assert.equal(await r.setrange(`${p}a`, 1, 'XY'), 4);
        assert.equal(await r.get(`${p}a`), 'vXY!');
        assert.equal(await r.incr(`${p}n`), 1);
        assert.equal(await r.incrby(`${p}n`, 41), 42);
        assert.equal(await r.decrby(`${p}n`, 2), 40);
        assert.equal(await r.decr(`${p}n`), 39);
        assert.equal(await r.incrbyfloat(`${p}n`, '0.5'), '39.5');
        await assert.rejects(r.incr(`${p}a`), /^ReplyError: ERR value is not an integer or out of range$/);
        assert.equal(await r.type(`${p}a`), 'string');
        assert.equal(await r.type(`${p}none`), 'none');
        assert.deepEqual(await r.mget(`${p}a`, `${p}none`, `${p}n`), ['vXY!', null, '39.5']);
        assert.equal(await r.exists(`${p}a`, `${p}none`, `${p}a`), 2);
        assert.equal(await r.getdel(`${p}a`), 'vXY!');
        assert.equal(await r.get(`${p}a`), null);
        assert.equal(await r.del(`${p}n`, `${p}none`), 1);
        await assert.rejects(r.call('lpush', `${p}l`, 'x'), /ERR unknown command 'lpush', with args beginning with: /);
        await assert.rejects(r.call('get'), /ERR wrong number of arguments for 'get' command/);
        await assert.rejects(r.call('set', 'k', 'v', 'NX', 'XX'), /ERR syntax error/);
        const info = await r.info();
        assert.match(info, /# Raft\r\nraft_member:n\d/);
        assert.match(info, /loading:0/);
        const pipeline = r.pipeline();
        for (let i = 0; i < 100; i++) pipeline.set(`${p}pipe${i}`, `v${i}`).get(`${p}pipe${i}`).incr(`${p}pipecount`);
        const results = await pipeline.exec();
        for (let i = 0; i < 100; i++) {
          assert.deepEqual(results![3 * i], [null, 'OK']);
          assert.deepEqual(results![3 * i + 1], [null, `v${i}`], 'a pipelined read sees the same connection\'s earlier write');
          assert.deepEqual(results![3 * i + 2], [null, i + 1]);
        }
        const scanned: string[] = [];
        await new Promise<void>((resolve, reject) => {
          r.scanStream({ match: `${p}pipe*`, count: 7 })
            .on('data', (keys: string[]) => scanned.push(...keys))
            .on('end', resolve)
            .on('error', reject);
        });
        const expected = [...Array.from({ length: 100 }, (_, i) => `${p}pipe${i}`), `${p}pipecount`].sort();
        assert.deepEqual(scanned, expected, 'SCAN returns every key once, in order');
        assert.deepEqual((await r.keys(`${p}pipe?`)).sort(), Array.from({ length: 10 }, (_, i) => `${p}pipe${i}`).sort());
      } finally {
        r.disconnect();
      }
    });
  }

  test('node-redis (RESP3): commands, scanIterator, concurrent INCRs count exactly', async () => {
    const clients = await Promise.all(
      cluster.members.map(async (m) => {
        const c = createClient({ socket: { host: '127.0.0.1', port: portOf(m), reconnectStrategy: false }, RESP: 3 });
        c.on('error', () => {});
        await c.connect();
        return c;
      }),
    );
    try {
      const [c] = clients;
      assert.equal(await c!.set('nr:k', 'v'), 'OK');
      assert.equal(await c!.get('nr:k'), 'v');
      await Promise.all(clients.flatMap((client) => Array.from({ length: 30 }, () => client.incr('nr:counter'))));
      assert.equal(await c!.get('nr:counter'), '90', 'INCR is atomic across members');
      const seen: string[] = [];
      for await (const batch of c!.scanIterator({ MATCH: 'nr:*', COUNT: 1 })) seen.push(...(Array.isArray(batch) ? batch : [batch]));
      assert.deepEqual(seen.sort(), ['nr:counter', 'nr:k']);
      assert.equal(await c!.dbSize() >= 2, true);
    } finally {
      for (const c of clients) await c.quit().catch(() => {});
    }
  });

  test('redis-cli: one-shot commands, --scan, a piped session, and redis-benchmark', async (t) => {
    if (!existsSync('/usr/bin/redis-cli') || !existsSync('/usr/bin/redis-benchmark')) {
      t.skip('redis-tools not installed (scripts/install-test-deps.sh installs it)');
      return;
    }
    const port = String(portOf(leader));
    assert.equal((await run('redis-cli', ['-p', port, 'set', 'cli:a', 'one'])).stdout.trim(), 'OK');
    assert.equal((await run('redis-cli', ['-p', port, 'get', 'cli:a'])).stdout.trim(), 'one');
    assert.equal((await run('redis-cli', ['-p', port, 'incrby', 'cli:n', '5'])).stdout.trim(), '5');
    const scan = await run('redis-cli', ['-p', port, '--scan', '--pattern', 'cli:*']);
    assert.deepEqual(scan.stdout.trim().split('\n').sort(), ['cli:a', 'cli:n']);
    const piped = await run('redis-cli', ['-p', port], 'ping\nset cli:b two\nget cli:b\nhset h f v\n');
    assert.deepEqual(piped.stdout.trim().split('\n'), ['PONG', 'OK', 'two', "ERR unknown command 'hset', with args beginning with: 'h' 'f' 'v'"]);
    for (const extra of [[], ['-P', '16']]) {
      const bench = await run('redis-benchmark', ['-p', port, '-t', 'ping,set,get,incr', '-n', '2000', '-c', '10', '-q', ...extra]);
      assert.equal(bench.code, 0, bench.stderr + bench.stdout);
      assert.match(bench.stdout, /SET: [\d.]+ requests per second/);
    }
  });

  test('redis-cli interactive under a pseudo-terminal (script -qc)', async (t) => {
    if (!existsSync('/usr/bin/redis-cli') || !existsSync('/usr/bin/script')) {
      t.skip('redis-cli or script(1) not installed (scripts/install-test-deps.sh installs redis-tools)');
      return;
    }
    const child = spawn('script', ['-qc', `redis-cli -p ${portOf(leader)}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'dumb', HOME: started!.dataDir } });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    const waitFor = async (pattern: RegExp): Promise<void> => {
      for (let i = 0; i < 600 && !pattern.test(out); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(out, pattern);
    };
    try {
      await waitFor(/127\.0\.0\.1:\d+> /);
      child.stdin!.write('set pty:a hello\r');
      await waitFor(/OK/);
      child.stdin!.write('get pty:a\r');
      await waitFor(/"hello"/);
      child.stdin!.write('incr pty:a\r');
      await waitFor(/\(error\) ERR value is not an integer or out of range/);
      child.stdin!.write('quit\r');
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.equal(code, 0, out);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  test('a leader SIGKILL during writes: every write is acknowledged or reported, none lost or doubled', async (t) => {
    const writers = cluster.members.filter((m) => m !== leader).map((m) => new Redis({ host: '127.0.0.1', port: portOf(m), maxRetriesPerRequest: 0, lazyConnect: true }));
    await Promise.all(writers.map((w) => w.connect()));
    let acknowledged = 0;
    let unknown = 0;
    let failed = 0;
    let killed = false;
    let acknowledgedAfterKill = 0;
    const loops = writers.map(async (w, i) => {
      // Bounded: until 40 writes were acknowledged after the kill (a new leader serves), at most 5000 each.
      for (let n = 0; n < 5000 && acknowledgedAfterKill < 40; n++) {
        try {
          await w.incr('kill:counter');
          acknowledged++;
          if (killed) acknowledgedAfterKill++;
        } catch (error) {
          const message = String((error as Error).message);
          if (/outcome unknown/.test(message)) unknown++;
          else if (/TRYAGAIN/.test(message)) failed++;
          else throw new Error(`writer ${i}: unexpected error ${message}`);
        }
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await cluster.stopMember(leader.name, 'SIGKILL');
    killed = true;
    await Promise.all(loops);
    t.diagnostic(`acknowledged ${acknowledged} (${acknowledgedAfterKill} after the kill), unknown ${unknown}, failed ${failed}`);
    try {
      const value = Number(await writers[0]!.get('kill:counter'));
      assert.ok(value >= acknowledged && value <= acknowledged + unknown, `counter ${value}: acknowledged ${acknowledged}, unknown ${unknown}, failed ${failed}`);
      assert.ok(acknowledged > 0);
    } finally {
      for (const w of writers) w.disconnect();
      cluster.restartMember(leader.name);
    }
  });

  test('pipelined SETs through a follower across a leader SIGKILL: each applies once if acknowledged, at most once otherwise', async (t) => {
    const current = (await cluster.waitForLeader({ timeoutMs: 60_000 })).leader;
    const via = cluster.members.find((m) => m !== current && m.name !== leader.name) ?? cluster.members.find((m) => m !== current)!;
    const r = new Redis({ host: '127.0.0.1', port: portOf(via), maxRetriesPerRequest: 0, lazyConnect: true });
    await r.connect();
    const outcomes = new Map<string, 'ok' | 'unknown' | 'tryagain'>();
    const pipelineWrites = 50;
    let killedAt = -1;
    try {
      // Bounded: 60 pipelines; the leader is killed while the 10th is in flight.
      for (let round = 0; round < 60; round++) {
        const pipeline = r.pipeline();
        for (let i = 0; i < pipelineWrites; i++) pipeline.set(`pk:${round}:${i}`, `v${round}`);
        const sent = pipeline.exec();
        if (round === 10) {
          killedAt = round;
          await cluster.stopMember(current.name, 'SIGKILL');
        }
        const results = (await sent)!;
        results.forEach(([error], i) => {
          const message = error === null ? null : String(error.message);
          const outcome = message === null ? 'ok' : /outcome unknown/.test(message) ? 'unknown' : /TRYAGAIN/.test(message) ? 'tryagain' : null;
          assert.ok(outcome !== null, `pk:${round}:${i}: unexpected error ${message}`);
          outcomes.set(`pk:${round}:${i}`, outcome);
        });
      }
    } finally {
      r.disconnect();
    }
    cluster.restartMember(current.name);
    const kv = await connect({ endpoints: cluster.members.filter((m) => m !== current).map((m) => m.clientUrl), timeoutMs: 20_000 });
    try {
      const counts = { ok: 0, unknown: 0, tryagain: 0 };
      for (const [key, outcome] of outcomes) {
        counts[outcome]++;
        const entry = await kv.get(key);
        if (outcome === 'ok') assert.equal(entry?.version, 1, `${key} acknowledged: applied exactly once`);
        else if (outcome === 'unknown') assert.ok(entry === null || entry.version === 1, `${key} outcome unknown: applied at most once`);
        else assert.equal(entry, null, `${key} TRYAGAIN: never applied`);
      }
      t.diagnostic(`killed during pipeline ${killedAt}; SETs acknowledged ${counts.ok}, unknown ${counts.unknown}, TRYAGAIN ${counts.tryagain}`);
      assert.ok(counts.ok > pipelineWrites * 10, 'the pipelines before the kill and after the new leader were acknowledged');
    } finally {
      await kv.close();
    }
  });
});
