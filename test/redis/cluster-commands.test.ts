/**
 * Emulated Redis Cluster (--resp-cluster emulated) over the command layer:
 * KEYSLOT as Redis computes it (CRC16, hash tags), CLUSTER SLOTS/SHARDS/
 * NODES/INFO/MYID describing one shard led by the leader, MOVED for commands
 * with keys on a follower (and inside MULTI: EXECABORT), READONLY reads
 * served on the follower, no MOVED without a leader; and without the option,
 * Redis's cluster-disabled answers.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Reply } from '../../src/resp/index.js';
import { CLUSTER_DISABLED_TEXT, endpointOf, keySlot, type ClusterMemberView, type ClusterTopology } from '../../src/redis/index.js';
import { redisNodeId } from '../../src/server/resp-listener.js';
import { bulk, err, norm, setup } from './command-harness.js';

const nodeIdOf = (name: string): string => name.padStart(40, '0');

class FakeTopology implements ClusterTopology {
  leader: string | null = 'n2';
  readonly views: ClusterMemberView[] = [
    { name: 'n1', nodeId: nodeIdOf('n1'), respUrl: 'tcp://127.0.0.1:6379', peerUrl: 'tcp://127.0.0.1:7101', reachable: true },
    { name: 'n2', nodeId: nodeIdOf('n2'), respUrl: 'tcp://127.0.0.1:6380', peerUrl: 'tcp://127.0.0.1:7102', reachable: true },
    { name: 'n3', nodeId: nodeIdOf('n3'), respUrl: 'tcp://127.0.0.1:6381', peerUrl: 'tcp://127.0.0.1:7103', reachable: false },
  ];
  constructor(readonly self = 'n1') {}
  leaderId(): string | null {
    return this.leader;
  }
  members(): readonly ClusterMemberView[] {
    return this.views;
  }
}

const text = (r: Reply): string => {
  assert.equal(r.type, 'bulk', JSON.stringify(r));
  return plain(r) as string;
};
/** A reply as plain values: bulk -> string, integer -> number, arrays and maps (as [key, value] pairs) -> arrays. */
const plain = (r: Reply): unknown => {
  switch (r.type) {
    case 'bulk':
      return Buffer.from(r.value).toString();
    case 'integer':
      return Number(r.value);
    case 'array':
    case 'set':
      return r.items.map(plain);
    case 'map':
      return r.entries.map(([k, v]) => [plain(k), plain(v)]);
    default:
      return r;
  }
};

describe('KEYSLOT', () => {
  test("Redis's documented values and the CRC16/XMODEM check value", async () => {
    // redis.io CLUSTER KEYSLOT: somekey 11058, foo{hash_tag} and bar{hash_tag} 2515.
    assert.equal(keySlot(Buffer.from('somekey')), 11058);
    assert.equal(keySlot(Buffer.from('foo{hash_tag}')), 2515);
    assert.equal(keySlot(Buffer.from('bar{hash_tag}')), 2515);
    // CRC16/XMODEM("123456789") = 0x31C3.
    assert.equal(keySlot(Buffer.from('123456789')), 0x31c3 & 0x3fff);
    const { exec } = setup(undefined, new FakeTopology());
    assert.equal(plain(await exec('cluster', 'keyslot', 'somekey')), 11058);
  });

  test('hash tags as the cluster spec defines them', () => {
    const slot = (k: string) => keySlot(Buffer.from(k));
    assert.equal(slot('{user1000}.following'), slot('{user1000}.followers'));
    assert.equal(slot('{user1000}.following'), slot('user1000'));
    // The first { and the first } after it; an empty tag hashes the whole key.
    assert.equal(slot('foo{{bar}}zap'), slot('{bar'));
    assert.equal(slot('foo{bar}{zap}'), slot('bar'));
    assert.notEqual(slot('foo{}{bar}'), slot('bar'));
    // No closing brace: no tag.
    assert.notEqual(slot('foo{bar'), slot('bar'));
    // Binary keys: the bytes, not a UTF-8 reading of them.
    assert.equal(keySlot(Buffer.from([0xff, 0x00, 0x7b, 0x61, 0x7d])), slot('a'));
  });
});

describe('cluster support disabled (no --resp-cluster)', () => {
  test('CLUSTER, READONLY, READWRITE answer as Redis does; INFO says cluster_enabled:0', async () => {
    const { exec } = setup();
    for (const args of [['cluster', 'slots'], ['cluster', 'info'], ['cluster', 'nosuch'], ['readonly'], ['readwrite']]) {
      assert.deepEqual(await exec(...args), err(CLUSTER_DISABLED_TEXT), args.join(' '));
    }
    assert.deepEqual(await exec('cluster'), err("ERR wrong number of arguments for 'cluster' command"));
    const info = text(await exec('info'));
    assert.match(info, /\r\ncluster_enabled:0\r\n/);
    assert.match(info, /redis_mode:standalone/);
    assert.deepEqual(await exec('set', 'k', 'v'), { type: 'simple', value: 'OK' });
  });
});

describe('emulated cluster', () => {
  test('CLUSTER SLOTS: one range 0-16383, the leader first, reachable replicas after it', async () => {
    const { exec } = setup(undefined, new FakeTopology());
    assert.deepEqual(plain(await exec('cluster', 'slots')), [
      [0, 16383, ['127.0.0.1', 6380, nodeIdOf('n2'), []], ['127.0.0.1', 6379, nodeIdOf('n1'), []]],
    ]);
  });

  test('CLUSTER NODES, SHARDS, INFO, MYID; INFO says cluster_enabled:1', async () => {
    const { exec } = setup(undefined, new FakeTopology());
    const lines = text(await exec('cluster', 'nodes')).trimEnd().split('\n');
    assert.deepEqual(lines, [
      `${nodeIdOf('n1')} 127.0.0.1:6379@7101 myself,slave ${nodeIdOf('n2')} 0 0 0 connected`,
      `${nodeIdOf('n2')} 127.0.0.1:6380@7102 master - 0 0 0 connected 0-16383`,
      `${nodeIdOf('n3')} 127.0.0.1:6381@7103 slave,fail ${nodeIdOf('n2')} 0 0 0 disconnected`,
    ]);
    assert.equal(text(await exec('cluster', 'myid')), nodeIdOf('n1'));
    const info = text(await exec('cluster', 'info'));
    assert.match(info, /^cluster_state:ok\r\n/);
    assert.match(info, /\r\ncluster_known_nodes:3\r\n/);
    assert.match(info, /\r\ncluster_size:1\r\n/);
    const node = (name: string, port: number, role: string, health: string) => [
      ['id', nodeIdOf(name)],
      ['port', port],
      ['ip', '127.0.0.1'],
      ['endpoint', '127.0.0.1'],
      ['role', role],
      ['replication-offset', 0],
      ['health', health],
    ];
    assert.deepEqual(plain(await exec('cluster', 'shards')), [
      [
        ['slots', [0, 16383]],
        ['nodes', [node('n2', 6380, 'master', 'online'), node('n1', 6379, 'replica', 'online'), node('n3', 6381, 'replica', 'failed')]],
      ],
    ]);
    assert.match(text(await exec('info')), /\r\ncluster_enabled:1\r\n/);
  });

  test('on a follower a command with keys answers MOVED <slot> <leader>; keyless commands are served', async () => {
    const { exec } = setup(undefined, new FakeTopology());
    assert.deepEqual(await exec('set', 'somekey', 'v'), err('MOVED 11058 127.0.0.1:6380'));
    assert.deepEqual(await exec('get', 'foo{hash_tag}'), err('MOVED 2515 127.0.0.1:6380'));
    assert.deepEqual(await exec('mset', 'somekey', 'a', 'other', 'b'), err('MOVED 11058 127.0.0.1:6380'));
    assert.deepEqual(await exec('ping'), { type: 'simple', value: 'PONG' });
    assert.equal((await exec('dbsize')).type, 'integer');
  });

  test('READONLY: reads are served on the follower, writes still MOVED; READWRITE undoes it', async () => {
    const { exec, state } = setup(undefined, new FakeTopology());
    assert.deepEqual(await exec('readonly'), { type: 'simple', value: 'OK' });
    assert.equal(state.replicaReads, true);
    assert.deepEqual(await exec('get', 'somekey'), { type: 'null' });
    assert.deepEqual(await exec('exists', 'somekey'), { type: 'integer', value: 0 });
    assert.deepEqual(await exec('set', 'somekey', 'v'), err('MOVED 11058 127.0.0.1:6380'));
    assert.deepEqual(await exec('readwrite'), { type: 'simple', value: 'OK' });
    assert.deepEqual(await exec('get', 'somekey'), err('MOVED 11058 127.0.0.1:6380'));
  });

  test('a connection not logged in is not MOVED (the driver answers NOAUTH first, as Redis checks auth first)', async () => {
    const { exec, state } = setup(undefined, new FakeTopology());
    state.authenticated = false;
    assert.deepEqual(await exec('get', 'somekey'), { type: 'null' });
    state.authenticated = true;
    assert.deepEqual(await exec('get', 'somekey'), err('MOVED 11058 127.0.0.1:6380'));
  });

  test('a MOVED inside MULTI fails the transaction (EXECABORT), as in Redis', async () => {
    const { exec } = setup(undefined, new FakeTopology());
    assert.deepEqual(await exec('multi'), { type: 'simple', value: 'OK' });
    assert.deepEqual(await exec('set', 'somekey', 'v'), err('MOVED 11058 127.0.0.1:6380'));
    assert.deepEqual(await exec('exec'), err('EXECABORT Transaction discarded because of previous errors.'));
  });

  test('on the leader commands run; with no leader, or no RESP address for it, nothing is MOVED (the ordinary path waits)', async () => {
    const topology = new FakeTopology('n2');
    const { exec } = setup(undefined, topology);
    assert.deepEqual(await exec('set', 'somekey', 'v'), { type: 'simple', value: 'OK' });
    assert.deepEqual(norm(await exec('get', 'somekey')), bulk('v'));
    topology.leader = null;
    assert.deepEqual(norm(await exec('get', 'somekey')), bulk('v'));
    assert.deepEqual(plain(await exec('cluster', 'slots')), []);
    assert.match(text(await exec('cluster', 'info')), /^cluster_state:fail\r\n/);
    const follower = new FakeTopology('n1');
    follower.views[1] = { ...follower.views[1]!, respUrl: 'unix:///tmp/concord.sock' };
    const onFollower = setup(undefined, follower);
    assert.deepEqual(await onFollower.exec('set', 'somekey', 'w'), { type: 'simple', value: 'OK' });
  });

  test('endpointOf: tcp and tls give host:port (IPv6 without brackets), unix none', () => {
    assert.deepEqual(endpointOf('tcp://127.0.0.1:6379'), { host: '127.0.0.1', port: 6379 });
    assert.deepEqual(endpointOf('tls://[::1]:6380'), { host: '::1', port: 6380 });
    assert.equal(endpointOf('unix:///tmp/x.sock'), null);
    assert.equal(endpointOf(null), null);
  });

  test("members' node IDs: 40 hex digits, distinct, the same on every call (every member computes them)", () => {
    const ids = ['n1', 'n2', 'n3', 'a-much-longer-member-name-than-twenty-bytes', 'a-much-longer-member-name-than-twenty-bytez'].map(redisNodeId);
    for (const id of ids) assert.match(id, /^[0-9a-f]{40}$/);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(redisNodeId('n1'), ids[0]);
  });
});
