/**
 * Issue 12 §1 against real members on loopback: a three-member cluster with
 * mutual TLS between members (certificates from tls-material.ts) refuses
 * forged Raft traffic from a plain socket, from a certificate of another
 * member's name, from another CA and from a member of another cluster ID;
 * none of it changes a term, and the cluster keeps electing and committing,
 * also across a member restart.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Connection } from '../../src/net/index.js';
import { ensureTlsMaterial, type TlsMaterial } from '../../src/cli/dev/tls-material.js';
import { EntryPacker } from '../../src/server/packed-entries.js';
import { fromRaftMessage, peerMessages, type PeerMessages } from '../../src/server/peer-protocol.js';
import { readMemberFile } from '../../src/server/member-file.js';
import { EntryType } from '../../src/raft/types.js';
import type { Message } from '../../src/raft/index.js';
import { TestCluster, sleep, utf8, waitFor } from './harness.js';

const hugeTerm = Number.MAX_SAFE_INTEGER;

function heartbeat(from: string, to: string): Message {
  return { type: 'Heartbeat', from, to, term: hugeTerm, commit: 1_000_000, context: new Uint8Array(0) } as Message;
}
function append(from: string, to: string): Message {
  return {
    type: 'AppendEntries',
    from,
    to,
    term: hugeTerm,
    prevLogIndex: 0,
    prevLogTerm: 0,
    entries: [{ index: 1, term: hugeTerm, type: EntryType.Normal, data: utf8('forged') }],
    leaderCommit: 1,
  } as Message;
}

describe('mutual TLS between members', () => {
  let root: string;
  let material: TlsMaterial;
  let other: TlsMaterial;
  let cluster: TestCluster;
  let session = 0;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'concord-peer-tls-'));
    material = await ensureTlsMaterial({ dir: join(root, 'pki'), members: ['n1', 'n2', 'n3'] });
    other = await ensureTlsMaterial({ dir: join(root, 'other-pki'), members: ['n1', 'n2', 'n3'] });
    cluster = await TestCluster.start({
      peerScheme: 'tls',
      memberArgs: (name) => [
        '--peer-cert-file',
        material.members[name]!.certFile,
        '--peer-key-file',
        material.members[name]!.keyFile,
        '--peer-trusted-ca-file',
        material.caFile,
      ],
    });
    session = await cluster.openSession();
  });
  after(async () => {
    await cluster?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const put = (key: string) => cluster.callAny('kv.put', { key: utf8(key), value: utf8('v'), session: { sessionId: session, seq: ++seq, ackedSeq: seq - 1 } } as never);
  let seq = 0;

  async function terms(): Promise<number[]> {
    return Promise.all(cluster.members.map(async (m) => (await cluster.status(m.name)).member.term));
  }

  /** A TLS peer connection to `member` with the given certificate (of `material` unless another is given). */
  async function dial(member: string, certOf: string, pki: TlsMaterial = material): Promise<Connection<PeerMessages>> {
    return connect<PeerMessages>(cluster.member(member).peerUrl, {
      messages: peerMessages,
      timeoutMs: 2000,
      tls: { ca: readFileSync(material.caFile), cert: readFileSync(pki.members[certOf]!.certFile), key: readFileSync(pki.members[certOf]!.keyFile) },
    });
  }

  function forge(connection: Connection<PeerMessages>, claimedName: string, to: string, clusterId: string | undefined): void {
    const packer = new EntryPacker();
    connection.post({
      type: 'hello',
      body: { name: claimedName, clientUrl: 'tcp://198.51.100.7:1', peerUrl: 'tcp://198.51.100.7:2', ...(clusterId === undefined ? {} : { clusterId }) },
    });
    connection.post({ type: 'raft', body: fromRaftMessage(heartbeat(claimedName, to), packer) });
    connection.post({ type: 'raft', body: fromRaftMessage(append(claimedName, to), packer) });
  }

  async function assertUnharmed(): Promise<void> {
    await sleep(300);
    for (const term of await terms()) assert.ok(term < 1000, `a forged term was adopted: ${term}`);
    for (const m of cluster.members) {
      const status = await cluster.status(m.name);
      assert.ok(status.member.commitIndex < 1_000_000);
    }
    await put(`after-${seq}`);
  }

  test('the cluster elects and commits over mutual TLS, with one cluster ID in every data dir', async () => {
    await put('first');
    const ids = cluster.members.map((m) => readMemberFile(m.dataDir)?.clusterId);
    assert.match(ids[0] ?? '', /^[0-9a-f]{32}$/);
    assert.deepEqual(new Set(ids).size, 1, `members disagree on the cluster ID: ${ids.join(', ')}`);
  });

  test('a forged heartbeat and append over a plain socket are refused', async () => {
    for (const m of cluster.members) {
      const socket = netConnect({ host: '127.0.0.1', port: Number(new URL(m.peerUrl.replace('tls:', 'http:')).port) });
      await new Promise<void>((resolve) => {
        socket.once('connect', () => {
          // A message frame as a plain-TCP peer would send it: the TLS listener sees no ClientHello.
          socket.write(Buffer.from([0, 0, 0, 8, 2, 0, 1, 0x81, 0xa1, 0x74, 0xcb, 0x43]));
          socket.end();
        });
        socket.once('close', () => resolve());
        socket.once('error', () => resolve());
      });
    }
    await assertUnharmed();
  });

  test('a valid certificate of another member cannot speak as a member it does not name', async () => {
    // n2's certificate, claiming to be n3, against n1; and n3's claiming n2, against n1 and n2.
    const attempts: [string, string, string][] = [
      ['n1', 'n2', 'n3'],
      ['n1', 'n3', 'n2'],
      ['n2', 'n3', 'n2'],
    ];
    const clusterId = readMemberFile(cluster.member('n1').dataDir)?.clusterId;
    for (const [target, cert, claimed] of attempts) {
      const connection = await dial(target, cert);
      forge(connection, claimed, target, clusterId);
      // The same frames with the true name but a wrong `from` field.
      const packer = new EntryPacker();
      connection.post({ type: 'raft', body: fromRaftMessage(heartbeat(claimed, target), packer) });
      await sleep(100);
      connection.destroy();
    }
    await assertUnharmed();
    const log = readFileSync(cluster.member('n1').logFile, 'utf8');
    assert.match(log, /hello naming another member than the authenticated peer/);
  });

  test('a member of another cluster ID is refused with a clear log line', async () => {
    const connection = await dial('n1', 'n3');
    forge(connection, 'n3', 'n1', 'f'.repeat(32));
    await sleep(200);
    connection.destroy();
    await assertUnharmed();
    await waitFor('the refusal in the log', () => /belongs to another cluster/.test(readFileSync(cluster.member('n1').logFile, 'utf8')));
  });

  test('a certificate from another CA is refused at the handshake', async () => {
    let refused = false;
    try {
      const connection = await dial('n1', 'n3', other);
      forge(connection, 'n3', 'n1', readMemberFile(cluster.member('n1').dataDir)?.clusterId);
      await waitFor('the server to close the connection', () => connection.state === 'closed', 5000);
      refused = true;
    } catch {
      refused = true;
    }
    assert.ok(refused);
    await assertUnharmed();
    await waitFor('the handshake failure in the log', () => /connection failed before it was established/.test(readFileSync(cluster.member('n1').logFile, 'utf8')));
  });

  test('the TLS cluster survives a member restart and keeps its cluster ID', async () => {
    const before = readMemberFile(cluster.member('n2').dataDir)?.clusterId;
    await cluster.terminate('n2');
    await put('while-n2-down');
    await cluster.restart('n2');
    await cluster.waitForConvergence();
    await put('after-restart');
    assert.equal(readMemberFile(cluster.member('n2').dataDir)?.clusterId, before);
    for (const term of await terms()) assert.ok(term < 1000);
  });
});

describe('plain-TCP peers (loopback development)', () => {
  let cluster: TestCluster;
  let session = 0;
  let seq = 0;
  before(async () => {
    cluster = await TestCluster.start();
    session = await cluster.openSession();
  });
  after(async () => {
    await cluster?.stop();
  });

  test('a forged heartbeat at term 2^53-1 is not adopted: the term stays usable and the cluster keeps committing', async () => {
    // Without TLS a peer is whoever its hello says, and the cluster ID is no secret:
    // the term bound (termAcceptable) is what keeps the term space usable.
    const clusterId = readMemberFile(cluster.member('n1').dataDir)?.clusterId;
    assert.ok(clusterId !== undefined);
    for (const target of ['n1', 'n2', 'n3']) {
      const claimed = target === 'n1' ? 'n2' : 'n1';
      const connection = await connect<PeerMessages>(cluster.member(target).peerUrl, { messages: peerMessages, timeoutMs: 2000 });
      const packer = new EntryPacker();
      connection.post({ type: 'hello', body: { name: claimed, clientUrl: 'tcp://127.0.0.1:1', peerUrl: cluster.member(claimed).peerUrl, clusterId } });
      connection.post({ type: 'raft', body: fromRaftMessage(heartbeat(claimed, target), packer) });
      connection.post({ type: 'raft', body: fromRaftMessage(append(claimed, target), packer) });
      await sleep(100);
      connection.destroy();
    }
    await sleep(300);
    for (const m of cluster.members) assert.ok((await cluster.status(m.name)).member.term < 1000);
    // A new election and a commit after it: the leader steps down by transfer (restart), the term is still usable.
    const leader = await cluster.waitForLeader();
    await cluster.terminate(leader);
    await cluster.waitForLeader();
    await cluster.callAny('kv.put', { key: utf8('after-forgery'), value: utf8('v'), session: { sessionId: session, seq: ++seq, ackedSeq: seq - 1 } } as never);
    await cluster.restart(leader);
    for (const m of cluster.members) assert.ok((await cluster.status(m.name)).member.term < 1000);
    assert.match(readFileSync(cluster.member('n1').logFile, 'utf8'), /term beyond what this member adopts/);
  });
});
