/**
 * The `concord` CLI end to end: `concord dev` runs a real three-process
 * cluster on loopback (free ports, a temp data dir), and the key commands,
 * `status`, the exit codes, Ctrl-C (SIGINT) and a restart over the same data
 * are exercised through the real command line.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePortRange } from '../../src/cli/dev/free-ports.js';
import { spawn } from 'node:child_process';
import { cliMain, concord, concordWithInput, DevProcess, peerPortOffset } from './dev-process.js';
import { Redis } from 'ioredis';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function portAcceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('concord CLI against a `concord dev` cluster', () => {
  let workDir: string | undefined;
  let clientPort: number;
  let respPort: number;
  let env: NodeJS.ProcessEnv;
  let devArgs: string[];
  const devs: DevProcess[] = [];

  const startDev = async (): Promise<DevProcess> => {
    const dev = new DevProcess(devArgs, workDir!);
    devs.push(dev);
    await dev.ready();
    return dev;
  };

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'concord-cli-test-'));
    workDir = dir;
    clientPort = await freePortRange(3, peerPortOffset);
    // Never Redis's 6379 here: a redis-server or another test may hold it.
    respPort = await freePortRange(3, 0);
    for (let i = 0; i < 20 && respPort <= clientPort + 2 + peerPortOffset && respPort + 2 >= clientPort; i++) respPort = await freePortRange(3, 0);
    devArgs = [
      '--resp-port-base', String(respPort),
      '--client-port', String(clientPort),
      '--peer-port', String(clientPort + peerPortOffset),
      '--data-dir', join(dir, 'dev'),
      '--heartbeat-interval-ms', '50',
      '--election-timeout-ms', '300',
    ];
    env = { CONCORD_ENDPOINTS: [0, 1, 2].map((i) => `tcp://127.0.0.1:${clientPort + i}`).join(',') };
  });

  after(() => {
    for (const dev of devs) dev.killAll();
    if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
  });

  test('dev starts three members and prints endpoints and a line to try', async () => {
    const dev = await startDev();
    assert.match(dev.stdout, /Starting a 3-member cluster/);
    assert.equal(dev.memberPids.length, 3);
    assert.match(dev.stdout, new RegExp(`Endpoints: tcp://127\\.0\\.0\\.1:${clientPort},`));
    assert.match(dev.stdout, /concord put hello world/);
    // The web dashboard is on in dev, on the first member's metrics listener (client port + 200).
    assert.match(dev.stdout, new RegExp(`Dashboard: http://127\\.0\\.0\\.1:${clientPort + 200}/ui`));
    const ui = await fetch(`http://127.0.0.1:${clientPort + 200}/ui`);
    assert.equal(ui.status, 200);
    assert.match(ui.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.match(await ui.text(), /<script type="module" src="\/ui\/app.js">/);
    assert.match(dev.stdout, new RegExp(`n1 .* redis tcp://127\\.0\\.0\\.1:${respPort} `));
    assert.match(dev.stdout, new RegExp(`redis-cli -p ${respPort} get hello`));
  });

  test('put, get, update and get again', async () => {
    const put = await concord(['put', 'hello', 'world'], env);
    assert.equal(put.code, 0, put.stderr);
    assert.match(put.stdout, /^OK \(version 1, revision \d+\)/);

    const get = await concord(['get', 'hello'], env);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout, 'world\n');

    const update = await concord(['update', 'hello', 'there', '--json'], env);
    assert.equal(update.code, 0, update.stderr);
    assert.equal(JSON.parse(update.stdout).version, 2);

    const json = await concord(['get', 'hello', '--json'], env);
    const kv = JSON.parse(json.stdout);
    assert.deepEqual([kv.key, kv.value, kv.version], ['hello', 'there', 2]);
    assert.ok(kv.modRevision > kv.createRevision);

    const stale = await concord(['get', 'hello', '--consistency', 'stale', '--endpoints', `tcp://127.0.0.1:${clientPort + 2}`], env);
    assert.equal(stale.code, 0, stale.stderr);
  });

  test('Redis clients and the CLI share one keyspace', async () => {
    const redis = new Redis({ host: '127.0.0.1', port: respPort + 1, maxRetriesPerRequest: 0, lazyConnect: true });
    try {
      await redis.connect();
      assert.equal(await redis.get('hello'), 'there', 'the key concord put/update wrote');
      assert.equal(await redis.set('from-redis', 'yes'), 'OK');
      const get = await concord(['get', 'from-redis'], env);
      assert.equal(get.stdout, 'yes\n');
    } finally {
      redis.disconnect();
    }
  });

  test('dev fails with a message naming --resp-port-base when the RESP port is taken', async () => {
    const blocker = net.createServer();
    const port = await freePortRange(3, 0);
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const base = await freePortRange(3, peerPortOffset);
      const dev = new DevProcess(['--client-port', String(base), '--peer-port', String(base + peerPortOffset), '--resp-port-base', String(port), '--data-dir', join(workDir!, 'dev-taken')], workDir!);
      devs.push(dev);
      const code = await dev.exited;
      assert.notEqual(code, 0);
      assert.match(dev.stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use .*--resp-port-base N, or not at all with --no-resp`));
    } finally {
      blocker.close();
    }
  });

  test('a missing key exits 1 with a message on stderr', async () => {
    const get = await concord(['get', 'no-such-key'], env);
    assert.equal(get.code, 1);
    assert.equal(get.stdout, '');
    assert.match(get.stderr, /no-such-key.*not found/);

    const update = await concord(['update', 'no-such-key', 'v'], env);
    assert.equal(update.code, 1);
    assert.match(update.stderr, /not found/);
  });

  test('del removes a key; deleting it again exits 1', async () => {
    await concord(['put', 'doomed', 'x'], env);
    const del = await concord(['del', 'doomed'], env);
    assert.equal(del.code, 0, del.stderr);
    assert.equal((await concord(['get', 'doomed'], env)).code, 1);
    const again = await concord(['del', 'doomed'], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /not found/);
  });

  test('compare-and-set through the CLI: a stale expected version exits 1', async () => {
    await concord(['put', 'cas', 'v1'], env);
    const wrong = await concord(['put', 'cas', 'v2', '--expected-version', '7'], env);
    assert.equal(wrong.code, 1);
    const right = await concord(['put', 'cas', 'v2', '--expected-version', '1'], env);
    assert.equal(right.code, 0, right.stderr);
  });

  test('scan lists keys by prefix in order, with --limit', async () => {
    for (const k of ['fruit/cherry', 'fruit/apple', 'fruit/banana', 'veg/kale']) await concord(['put', k, k.toUpperCase()], env);
    const scan = await concord(['scan', 'fruit/'], env);
    assert.equal(scan.code, 0, scan.stderr);
    assert.equal(scan.stdout, 'fruit/apple\tFRUIT/APPLE\nfruit/banana\tFRUIT/BANANA\nfruit/cherry\tFRUIT/CHERRY\n');
    const limited = await concord(['scan', 'fruit/', '--limit', '2', '--json'], env);
    assert.deepEqual(
      JSON.parse(limited.stdout).map((kv: { key: string }) => kv.key),
      ['fruit/apple', 'fruit/banana'],
    );
  });

  test('leases: grant, put --lease, ttl --keys, list, keep-alive until Ctrl-C, revoke; put --ttl; a value from stdin', async () => {
    const grant = await concord(['lease', 'grant', '30'], env);
    assert.equal(grant.code, 0, grant.stderr);
    const match = /^lease (\d+) granted with TTL\(30s\)$/m.exec(grant.stdout);
    assert.ok(match, grant.stdout);
    const id = match[1]!;
    assert.equal((await concord(['put', 'leased/a', 'x', '--lease', id], env)).code, 0);
    const json = JSON.parse((await concord(['get', 'leased/a', '--json'], env)).stdout);
    assert.equal(json.lease, Number(id));
    const ttl = await concord(['lease', 'ttl', id, '--keys'], env);
    assert.equal(ttl.code, 0, ttl.stderr);
    assert.match(ttl.stdout, new RegExp(`^lease ${id} granted with TTL\\(30s\\), remaining\\([\\d.]+s\\), attached keys\\(\\[leased/a\\]\\)`));
    const list = await concord(['lease', 'list', '--json'], env);
    assert.deepEqual(JSON.parse(list.stdout).leases.map((l: { id: number }) => l.id), [Number(id)]);

    const keeper = spawn(process.execPath, [cliMain, 'lease', 'keep-alive', id], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    keeper.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    const exited = new Promise<number | null>((resolve) => keeper.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    while (!out.includes(`lease ${id} keepalived with TTL(30s)`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /keepalived/);
    keeper.kill('SIGINT');
    assert.equal(await exited, 0, 'Ctrl-C ends keep-alive cleanly');

    const revoke = await concord(['lease', 'revoke', id], env);
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.match(revoke.stdout, /revoked \(1 keys deleted/);
    assert.equal((await concord(['get', 'leased/a'], env)).code, 1);
    const again = await concord(['lease', 'revoke', id], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /not found/);
    assert.equal((await concord(['put', 'leased/b', 'x', '--lease', id], env)).code, 1);
    assert.equal((await concord(['lease', 'ttl', id], env)).code, 1);

    assert.equal((await concord(['put', 'short', 'x', '--ttl', '1'], env)).code, 0);
    assert.equal((await concord(['put', 'both', 'x', '--ttl', '1', '--lease', id], env)).code, 2);
    const deadline2 = Date.now() + 20_000;
    while ((await concord(['get', 'short'], env)).code === 0 && Date.now() < deadline2) await new Promise((r) => setTimeout(r, 200));
    assert.equal((await concord(['get', 'short'], env)).code, 1, 'a key with --ttl 1 is gone after about a second');

    const bytes = Uint8Array.from([0, 1, 2, 255, 10, 13]);
    const piped = await concordWithInput(['put', 'from-stdin', '-'], bytes, env);
    assert.equal(piped.code, 0, piped.stderr);
    const read = JSON.parse((await concord(['get', 'from-stdin', '--json'], env)).stdout);
    assert.equal(read.value, Buffer.from(bytes).toString('utf8'));
  });

  test('status shows every member with one leader', async () => {
    const table = await concord(['status'], env);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.match(lines[0]!, /^NAME\s+CLIENT URL\s+PEER URL\s+ROLE\s+TERM\s+COMMIT\s+APPLIED\s+LEADER$/);
    assert.equal(lines.length, 4);
    assert.equal(lines.filter((l) => /\sleader\s/.test(l)).length, 1);

    const json = JSON.parse((await concord(['status', '--json'], env)).stdout);
    assert.deepEqual(
      json.members.map((m: { name: string }) => m.name),
      ['n1', 'n2', 'n3'],
    );
    assert.ok(json.leaderId !== null);
    for (const member of json.members) {
      assert.equal(member.status.leaderId, json.leaderId);
      assert.ok(member.status.appliedIndex > 0);
    }
  });

  test('bench runs a closed-loop load, counts only after the warm-up, and reports one JSON object', async () => {
    const run = await concord(
      ['bench', '--workload', 'mixed', '--clients', '8', '--keys', '50', '--warmup', '0.3', '--duration', '0.5', '--json'],
      env,
    );
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(result.workload, 'mixed');
    assert.equal(result.warmupS, 0.3);
    assert.equal(result.errors, 0, result.firstError);
    assert.ok(result.ops > 0);
    // Measured over the duration only: the warm-up's requests are not in it.
    assert.ok(result.durationS >= 0.5 && result.durationS < 0.5 + 0.3 + 5, `durationS ${result.durationS}`);
    assert.ok(result.latencyMs.p50 > 0 && result.latencyMs.p50 <= result.latencyMs.p99);
    // The bench's keys are there afterwards (the mixed workload preloads every key).
    const get = await concord(['get', 'bench/00000049'], env);
    assert.equal(get.code, 0, get.stderr);

    assert.equal((await concord(['bench', '--warmup', '-1'], env)).code, 2);
  });

  test('usage errors exit 2; --help exits 0', async () => {
    const missingArg = await concord(['get'], env);
    assert.equal(missingArg.code, 2);
    assert.match(missingArg.stderr, /missing required argument/);
    assert.equal((await concord(['frobnicate'], env)).code, 2);
    assert.equal((await concord(['get', 'k', '--no-such-flag'], env)).code, 2);
    assert.equal((await concord(['scan', '--limit', 'many'], env)).code, 2);
    assert.equal((await concord(['get', 'k', '--consistency', 'sometimes'], env)).code, 2);
    const help = await concord(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: concord/);
    const putHelp = await concord(['put', '--help']);
    assert.equal(putHelp.code, 0);
    assert.match(putHelp.stdout, /--expected-version/);
  });

  test('an unreachable cluster exits 3 quickly with a clear message', async () => {
    const port = await freePortRange(1, 0);
    const result = await concord(['get', 'k', '--endpoints', `tcp://127.0.0.1:${port}`, '--timeout', '300']);
    assert.equal(result.code, 3);
    assert.match(result.stderr, /no member could serve/);
  });

  test('SIGINT stops every member cleanly; a restart keeps the data', async () => {
    const first = devs[0]!;
    const pids = first.memberPids;
    first.child.kill('SIGINT');
    assert.equal(await first.exited, 0, first.stderr);
    assert.match(first.stdout, /Cluster stopped/);
    for (const pid of pids) assert.equal(isAlive(pid), false, `member pid ${pid} still running`);
    assert.equal(await portAcceptsConnections(clientPort), false);

    const second = await startDev();
    assert.match(second.stdout, /Restarting a 3-member cluster/);
    const get = await concord(['get', 'hello'], env);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout, 'there\n');
    second.child.kill('SIGINT');
    assert.equal(await second.exited, 0);
    for (const pid of second.memberPids) assert.equal(isAlive(pid), false);
  });
});
