/**
 * A 3-member cluster of real server processes on loopback: replication,
 * stale reads from every member, exactly-once retries, forwarding from
 * followers, bad input, and graceful shutdown.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { ConnectionClosedError, RemoteError } from '../../src/net/index.js';
import { ErrorCode } from '../../src/protocol/index.js';
import { TestCluster, forEachConcurrent, text, utf8, waitFor } from './harness.js';

describe('a three-member cluster', { timeout: 180_000 }, () => {
  let cluster: TestCluster;
  let sessionId: number;
  let seq = 0;

  before(async () => {
    cluster = await TestCluster.start({ size: 3 });
    sessionId = await cluster.openSession();
  });
  after(async () => {
    await cluster?.stop();
  });

  const session = () => {
    seq++;
    return { sessionId, seq, ackedSeq: 0 };
  };

  test('1,000 keys written through every member read back equal from each member (stale reads)', async () => {
    const keys = Array.from({ length: 1000 }, (_, i) => `key-${String(i).padStart(4, '0')}`);
    const names = cluster.members.map((m) => m.name);
    const sessions = new Map<number, number>();
    // Each writer uses its own session so that its seqs are in order.
    const writerSessions = await Promise.all(Array.from({ length: 8 }, () => cluster.openSession()));
    await forEachConcurrent(keys, 64, async (key, i) => {
      const writer = writerSessions[i % writerSessions.length]!;
      const writerSeq = (sessions.get(writer) ?? 0) + 1;
      sessions.set(writer, writerSeq);
      // Spread the writes over all members: followers forward to the leader.
      const member = names[i % names.length]!;
      const response = await cluster.call(member, 'kv.put', {
        key: utf8(key),
        value: utf8(`value of ${key}`),
        session: { sessionId: writer, seq: writerSeq, ackedSeq: 0 },
      });
      assert.equal(response.version, 1);
      assert.ok(response.revision > 0);
      // Also through a follower: the header's revision includes the write it answers.
      assert.ok(response.header.revision >= response.revision, `header revision ${response.header.revision} < write revision ${response.revision}`);
    });
    await cluster.waitForConvergence();
    for (const name of names) {
      const seen: string[] = [];
      let after: Uint8Array | undefined;
      for (;;) {
        const page = await cluster.call(name, 'kv.scan', {
          prefix: utf8('key-'),
          limit: 300,
          consistency: 'stale',
          ...(after ? { after } : {}),
        });
        for (const item of page.items) {
          assert.equal(text(item.value), `value of ${text(item.key)}`);
          seen.push(text(item.key));
        }
        if (page.next === null) break;
        after = page.next;
      }
      assert.deepEqual(seen, keys, `member ${name} holds every key, in order`);
      // And point reads agree too.
      for (const key of ['key-0000', 'key-0500', 'key-0999']) {
        const got = await cluster.call(name, 'kv.get', { key: utf8(key), consistency: 'stale' });
        assert.equal(got.kv && text(got.kv.value), `value of ${key}`);
        assert.equal(got.header.memberName, name);
      }
    }
  });

  test('a linearizable read on a follower sees a write acknowledged just before, and names the leader', async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.members.find((m) => m.name !== leader)!.name;
    const put = await cluster.call(leader, 'kv.put', { key: utf8('lin'), value: utf8('v1'), session: session() });
    const got = await cluster.call(follower, 'kv.get', { key: utf8('lin'), consistency: 'linearizable' });
    assert.equal(got.kv && text(got.kv.value), 'v1');
    assert.equal(got.kv?.modRevision, put.revision);
    assert.equal(got.header.leaderId, leader);
    assert.equal(got.header.leaderClientUrl, cluster.member(leader).clientUrl);
    const missing = await cluster.call(follower, 'kv.get', { key: utf8('no-such-key'), consistency: 'linearizable' });
    assert.equal(missing.kv, null);
  });

  test('a retried write with the same session and seq applies once', async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.members.find((m) => m.name !== leader)!.name;
    const ref = session();
    const request = { key: utf8('once'), value: utf8('first'), session: ref };
    const first = await cluster.call(leader, 'kv.put', request);
    // The same request again, to the leader and through a follower: the original result, no new write.
    const retried = await cluster.call(leader, 'kv.put', request);
    const viaFollower = await cluster.call(follower, 'kv.put', request);
    assert.deepEqual([retried.revision, retried.version], [first.revision, first.version]);
    assert.deepEqual([viaFollower.revision, viaFollower.version], [first.revision, first.version]);
    const got = await cluster.call(leader, 'kv.get', { key: utf8('once'), consistency: 'linearizable' });
    assert.equal(got.kv?.version, 1, 'applied exactly once');
    // A new seq is a new write.
    const second = await cluster.call(leader, 'kv.put', { key: utf8('once'), value: utf8('second'), session: session() });
    assert.equal(second.version, 2);
  });

  test('update of a missing key, compare-and-set and delete answer with their typed errors and results', async () => {
    await assert.rejects(
      cluster.callAny('kv.update', { key: utf8('missing'), value: utf8('x'), session: session() }),
      (error: unknown) => error instanceof RemoteError && error.code === ErrorCode.KeyNotFound,
    );
    const created = await cluster.callAny('kv.put', { key: utf8('cas'), value: utf8('a'), session: session(), expectedVersion: 0 });
    assert.equal(created.version, 1);
    await assert.rejects(
      cluster.callAny('kv.put', { key: utf8('cas'), value: utf8('b'), session: session(), expectedVersion: 0 }),
      (error: unknown) =>
        error instanceof RemoteError &&
        error.code === ErrorCode.VersionMismatch &&
        (error.details as { actualVersion: number }).actualVersion === 1,
    );
    const updated = await cluster.callAny('kv.update', { key: utf8('cas'), value: utf8('c'), session: session(), expectedModRevision: created.revision });
    assert.equal(updated.version, 2);
    const deleted = await cluster.callAny('kv.delete', { key: utf8('cas'), session: session() });
    assert.equal(deleted.deleted, true);
    const again = await cluster.callAny('kv.delete', { key: utf8('cas'), session: session() });
    assert.equal(again.deleted, false);
  });

  test('bad input gets a clear error and the cluster keeps serving without losing data', async () => {
    const leader = await cluster.waitForLeader();
    // An oversize value: a specific error, nothing written.
    await assert.rejects(
      cluster.call(leader, 'kv.put', { key: utf8('big'), value: new Uint8Array(1024 * 1024 + 1), session: session() }),
      (error: unknown) => error instanceof RemoteError && error.code === ErrorCode.ValueTooLarge,
    );
    // An oversize key and an empty key.
    await assert.rejects(
      cluster.call(leader, 'kv.put', { key: new Uint8Array(4097), value: utf8('v'), session: session() }),
      (error: unknown) => error instanceof RemoteError && error.code === ErrorCode.KeyTooLarge,
    );
    await assert.rejects(
      cluster.call(leader, 'kv.get', { key: new Uint8Array(0), consistency: 'stale' }),
      (error: unknown) => error instanceof RemoteError && error.code === ErrorCode.EmptyKey,
    );
    // A malformed request (wrong field types): the net layer answers with a decode error naming
    // the field and closes that connection (bad input); the member itself goes on serving.
    await assert.rejects(
      cluster.call(leader, 'kv.put', { key: 'not bytes', value: 42, session: {} } as never),
      (error: unknown) =>
        (error instanceof RemoteError && error.code === 'CONCORD_ERR_DECODE' && /key/.test(error.message)) ||
        (error instanceof ConnectionClosedError),
    );
    // Garbage bytes on a raw socket: that connection is closed, nobody else notices.
    for (const member of cluster.members) {
      const port = Number(new URL(member.clientUrl.replace('tcp://', 'http://')).port);
      await new Promise<void>((resolve) => {
        const socket = netConnect(port, '127.0.0.1', () => {
          socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8]));
          socket.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
        });
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
        socket.setTimeout(5000, () => socket.destroy());
      });
    }
    // Still serving, and the data from before is intact everywhere.
    await cluster.callAny('kv.put', { key: utf8('after-garbage'), value: utf8('ok'), session: session() });
    await cluster.waitForConvergence();
    for (const member of cluster.members) {
      const got = await cluster.call(member.name, 'kv.get', { key: utf8('key-0123'), consistency: 'stale' });
      assert.equal(got.kv && text(got.kv.value), 'value of key-0123');
      const fresh = await cluster.call(member.name, 'kv.get', { key: utf8('after-garbage'), consistency: 'stale' });
      assert.equal(fresh.kv && text(fresh.kv.value), 'ok');
    }
  });

  test('status reports every member with its URLs, role, term and indexes', async () => {
    const leader = await cluster.waitForLeader();
    for (const member of cluster.members) {
      const status = await cluster.status(member.name);
      assert.equal(status.member.name, member.name);
      assert.equal(status.member.clientUrl, member.clientUrl);
      assert.equal(status.member.peerUrl, member.peerUrl);
      assert.equal(status.member.leaderId, leader);
      assert.equal(status.member.role, member.name === leader ? 'leader' : 'follower');
      assert.ok(status.member.term >= 1);
      assert.ok(status.member.appliedIndex <= status.member.commitIndex);
      assert.deepEqual(status.members.map((m) => m.name).sort(), ['n1', 'n2', 'n3']);
      await waitFor('client URLs learned from hellos', async () => {
        const s = await cluster.status(member.name);
        return s.members.every((m) => m.clientUrl === cluster.member(m.name).clientUrl);
      });
    }
  });

  test('SIGTERM on the leader: it hands over leadership, exits 0, and a restart rejoins with only its data dir and URLs', async () => {
    const leader = await cluster.waitForLeader();
    const before = await cluster.callAny('kv.put', { key: utf8('before-shutdown'), value: utf8('kept'), session: session() });
    const code = await cluster.terminate(leader);
    assert.equal(code, 0, 'graceful shutdown exits 0');
    const next = await cluster.waitForLeader();
    assert.notEqual(next, leader);
    await cluster.restart(leader);
    await cluster.waitForLeader();
    await cluster.waitForConvergence();
    const got = await cluster.call(leader, 'kv.get', { key: utf8('before-shutdown'), consistency: 'stale' });
    assert.equal(got.kv?.modRevision, before.revision);
  });
});
