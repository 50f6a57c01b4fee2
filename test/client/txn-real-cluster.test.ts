/**
 * Transactions against real server processes (three members on loopback):
 * the builder and plain forms, one revision per transaction, read-only
 * transactions served by any member without the log, range compares and
 * deletes, the ops bound as a typed error, atomicity under concurrent
 * writers and readers, and `concord txn` (JSON file, JSON on stdin,
 * etcdctl's line form, --json), and put ops attaching a lease or a TTL
 * (builder, JSON and line form).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Compare, connect, LeaseNotFoundError, Op, TxnTooLargeError, type KvClient, type TxnOpResult } from '../../src/client/index.js';
import { LocalCluster, MemberOutput } from '../../src/cli/dev/local-cluster.js';
import { freePortRange } from '../../src/cli/dev/free-ports.js';

const cliMain = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function concord(args: readonly string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [cliMain, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
    child.stdin!.end(stdin ?? '');
  });
}

const valueOf = (r: TxnOpResult | undefined): string | null => (r?.type === 'get' ? r.kv?.valueString() ?? null : null);

describe('transactions on a real three-member cluster', { timeout: 240_000 }, () => {
  let dataDir: string | undefined;
  let cluster: LocalCluster;
  let kv: KvClient;

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'concord-txn-real-'));
    dataDir = dir;
    const base = await freePortRange(3, 100);
    cluster = await LocalCluster.start({
      nodes: 3,
      dataDir: dir,
      clientPortBase: base,
      peerPortBase: base + 100,
      output: MemberOutput.Ignore,
      serverArgs: ['--heartbeat-interval-ms', '50', '--election-timeout-ms', '300', '--log-level', 'warn'],
    });
    await cluster.waitForLeader({ timeoutMs: 60_000 });
    kv = await connect({ endpoints: cluster.endpoints, timeoutMs: 30_000 });
  });

  after(async () => {
    if (kv !== undefined) await kv.close().catch(() => undefined);
    if (cluster !== undefined) await cluster.stop();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  test('a lock with the builder: create-if-absent, else read the owner; both puts take one revision', async () => {
    const first = await kv
      .txn()
      .if(Compare.createRevision('lock/a', '=', 0))
      .then(Op.put('lock/a', 'client-1'), Op.put('lock/a-owner-since', 'now'))
      .else(Op.get('lock/a'))
      .commit();
    assert.equal(first.succeeded, true);
    const [p1, p2] = first.results as readonly { type: string; modRevision?: number }[];
    assert.equal(p1!.modRevision, first.revision);
    assert.equal(p2!.modRevision, first.revision, 'one revision for the whole transaction');
    const second = await kv.txn({ compare: [Compare.createRevision('lock/a', '=', 0)], success: [Op.put('lock/a', 'client-2')], failure: [Op.get('lock/a')] });
    assert.equal(second.succeeded, false);
    assert.equal(valueOf(second.results[0]), 'client-1');
    assert.equal(second.revision, first.revision, 'nothing written: the revision read');
    assert.equal((await kv.get('lock/a'))?.modRevision, first.revision);
  });

  test('read-only transactions are served by every member (linearizable and stale) and take no revision', async () => {
    await kv.put('ro/x', '1');
    const { revision } = await kv.put('ro/y', '2');
    for (const endpoint of cluster.endpoints) {
      const client = await connect({ endpoints: [endpoint], timeoutMs: 30_000, openSessionOnConnect: false });
      try {
        const r = await client.txn({ compare: [Compare.value('ro/x', '=', '1')], success: [Op.get('ro/y'), Op.scan({ key: 'ro/', prefix: true })] });
        assert.equal(r.succeeded, true);
        assert.ok(r.revision >= revision);
        assert.equal(valueOf(r.results[0]), '2');
        assert.equal((r.results[1] as unknown as { kvs: unknown[] }).kvs.length, 2);
        const stale = await client.txn({ success: [Op.get('ro/x')] }, { consistency: 'stale' });
        assert.ok(stale.revision > 0);
      } finally {
        await client.close();
      }
    }
    assert.equal((await kv.get('ro/y'))?.modRevision, revision);
  });

  test('range compares and a prefix delete, nested transaction', async () => {
    await Promise.all(['rng/1', 'rng/2', 'rng/3'].map((k) => kv.put(k, 'v')));
    const r = await kv.txn({
      compare: [{ key: 'rng/', prefix: true, target: 'version', op: '=', value: 1 }],
      success: [Op.delete({ key: 'rng/', prefix: true }), Op.txn({ compare: [Compare.version({ key: 'rng/', prefix: true }, '=', 0)], success: [Op.put('rng/empty', 'yes')] })],
    });
    assert.equal(r.succeeded, true);
    assert.deepEqual(r.results[0], { type: 'delete', deleted: 3 });
    assert.equal((r.results[1] as { succeeded: boolean }).succeeded, true, 'the nested compare saw the delete');
    assert.equal((await kv.get('rng/empty'))?.valueString(), 'yes');
  });

  test('more ops than txnOpsMax: TxnTooLargeError naming the limit, nothing applied', async () => {
    const success = Array.from({ length: 10_001 }, (_, i) => Op.put(`big/${i}`, 'v'));
    await assert.rejects(kv.txn({ success }), (error: unknown) => error instanceof TxnTooLargeError && error.details.limit === 'txnOpsMax' && /txnOpsMax 10000/.test(error.message));
    assert.equal(await kv.get('big/0'), null);
  });

  test('a put op attaches a lease or a TTL of its own; an unknown lease fails the whole transaction, nothing applied', async () => {
    const { id } = await kv.lease.grant(60_000);
    const r = await kv.txn().then(Op.put('tl/a', '1', { lease: id }), Op.put('tl/b', '2'), Op.put('tl/gone', '3', { expiresAtMs: 1 })).commit();
    assert.equal(r.succeeded, true);
    assert.equal((await kv.get('tl/a'))?.lease, id);
    assert.equal((await kv.get('tl/b'))?.lease, 0);
    assert.equal(await kv.get('tl/gone'), null, 'an expiry already passed: the key reads as absent');
    await assert.rejects(kv.txn({ success: [Op.put('tl/b', 'changed'), Op.put('tl/c', 'x', { lease: id + 1_000_000 })] }), (error: unknown) => error instanceof LeaseNotFoundError);
    assert.equal((await kv.get('tl/b'))?.valueString(), '2', 'the earlier op of the failed transaction is not applied');
    assert.equal(await kv.get('tl/c'), null);
    await kv.lease.revoke(id);
    assert.equal(await kv.get('tl/a'), null, 'revoking the lease deleted the key the transaction attached');
  });

  test('atomicity: concurrent readers never see part of a transaction', async () => {
    let stop = false;
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; i < 25; i++) {
        const v = `${w}-${i}`;
        await kv.txn({ success: [Op.put('atom/a', v), Op.put('atom/b', v), Op.put(`atom/log/${v}`, v)] });
      }
    });
    let reads = 0;
    const readers = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const r = await kv.txn({ success: [Op.get('atom/a'), Op.get('atom/b')] });
        assert.equal(valueOf(r.results[0]), valueOf(r.results[1]), 'a and b are always written together');
        const page = await kv.scan({ prefix: 'atom/' }, { limit: 1000 }).toArray();
        const a = page.find((e) => e.keyString() === 'atom/a')?.valueString();
        const b = page.find((e) => e.keyString() === 'atom/b')?.valueString();
        assert.equal(a, b);
        if (a !== undefined) assert.ok(page.some((e) => e.keyString() === `atom/log/${a}`), 'the third put of the same transaction is there too');
        reads++;
      }
    });
    await Promise.all(writers);
    stop = true;
    await Promise.all(readers);
    assert.ok(reads > 0);
    const log = await kv.scan({ prefix: 'atom/log/' }).toArray();
    assert.equal(log.length, 200);
  });

  test('concord txn: JSON from a file and from stdin, the line form, --json', async () => {
    const endpoints = ['--endpoints', cluster.endpoints.join(',')];
    const file = join(dataDir!, 'txn.json');
    writeFileSync(file, JSON.stringify({ compare: [{ key: 'cli/k', target: 'createRevision', op: '=', value: 0 }], success: [{ type: 'put', key: 'cli/k', value: 'one' }], failure: [{ type: 'get', key: 'cli/k' }] }));
    const first = await concord(['txn', '-f', file, ...endpoints]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, 'SUCCESS\n\nOK\n');
    const second = await concord(['txn', '--json', ...endpoints], JSON.stringify({ compare: [{ key: 'cli/k', target: 'createRevision', op: '=', value: 0 }], success: [], failure: [{ type: 'get', key: 'cli/k' }] }));
    assert.equal(second.code, 0, second.stderr);
    const json = JSON.parse(second.stdout);
    assert.equal(json.succeeded, false);
    assert.equal(json.results[0].kv.value, 'one');
    const lines = ['val("cli/k") = "one"', 'version("cli/k") > "0"', '', 'put cli/k "two words"', 'put cli/other x', 'get cli/ --prefix', '', 'del cli/k', ''].join('\n');
    const third = await concord(['txn', '--interactive', ...endpoints], lines);
    assert.equal(third.code, 0, third.stderr);
    assert.equal(third.stdout, 'SUCCESS\n\nOK\nOK\ncli/k\ntwo words\ncli/other\nx\n');
    const bad = await concord(['txn', '-i', ...endpoints], 'mod(cli/k) >> 3\n');
    assert.equal(bad.code, 2, 'a syntax error is a usage error');
    const notJson = await concord(['txn', ...endpoints], '{ nope');
    assert.equal(notJson.code, 2);
    // A put op's lease, from JSON and from the line form.
    const { id } = await kv.lease.grant(60_000);
    const leased = await concord(['txn', ...endpoints], JSON.stringify({ success: [{ type: 'put', key: 'cli/leased', value: 'v', lease: id }] }));
    assert.equal(leased.code, 0, leased.stderr);
    assert.equal((await kv.get('cli/leased'))?.lease, id);
    const lineLeased = await concord(['txn', '-i', ...endpoints], `\nput cli/line v --lease ${id}\nput cli/ttl v --ttl 60\n\n`);
    assert.equal(lineLeased.code, 0, lineLeased.stderr);
    assert.equal((await kv.get('cli/line'))?.lease, id);
    assert.equal((await kv.get('cli/ttl'))?.lease, 0);
    assert.notEqual(await kv.get('cli/ttl'), null);
    const unknown = await concord(['txn', ...endpoints], JSON.stringify({ success: [{ type: 'put', key: 'cli/none', value: 'v', lease: id + 1_000_000 }] }));
    assert.notEqual(unknown.code, 0, 'an unknown lease fails the command');
    assert.match(unknown.stderr, /lease/i);
    assert.equal(await kv.get('cli/none'), null);
    const both = await concord(['txn', '-i', ...endpoints], `\nput cli/both v --lease ${id} --ttl 5\n\n`);
    assert.equal(both.code, 2, 'a lease and a ttl together are a usage error');
  });
});
