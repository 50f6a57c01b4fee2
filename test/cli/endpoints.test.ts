/** Where CLI commands connect, and how `status` prints a cluster. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultDevEndpoints, endpointsEnv, resolveEndpoints } from '../../src/cli/endpoints.js';
import { formatStatus } from '../../src/cli/commands/status.js';
import type { MemberStatus } from '../../src/protocol/index.js';

test('--endpoints wins over CONCORD_ENDPOINTS, which wins over the dev cluster default', () => {
  const env = { [endpointsEnv]: 'tcp://a:1, tcp://b:2' };
  assert.deepEqual(resolveEndpoints('unix:///x.sock', env), ['unix:///x.sock']);
  assert.deepEqual(resolveEndpoints(undefined, env), ['tcp://a:1', 'tcp://b:2']);
  assert.deepEqual(resolveEndpoints(undefined, {}), ['tcp://127.0.0.1:7001', 'tcp://127.0.0.1:7002', 'tcp://127.0.0.1:7003']);
  assert.deepEqual(resolveEndpoints('  ', { [endpointsEnv]: '' }), [...defaultDevEndpoints]);
});

test('status prints one aligned row per member and says why a member is unreachable', () => {
  const member = (name: string, role: MemberStatus['role']): MemberStatus => ({
    name,
    clientUrl: `tcp://127.0.0.1:700${name.slice(1)}`,
    peerUrl: `tcp://127.0.0.1:710${name.slice(1)}`,
    role,
    term: 7,
    commitIndex: 42,
    appliedIndex: 41,
    snapshotIndex: 0,
    firstLogIndex: 1,
    lastLogIndex: 42,
    leaderId: 'n1',
    leaderClientUrl: 'tcp://127.0.0.1:7001',
    storageFailed: false,
    version: '0.1.0',
  });
  const text = formatStatus({
    leaderId: 'n1',
    members: [
      { name: 'n1', peerUrl: 'tcp://127.0.0.1:7101', clientUrl: 'tcp://127.0.0.1:7001', voter: true, status: member('n1', 'leader'), error: null },
      { name: 'n2', peerUrl: 'tcp://127.0.0.1:7102', clientUrl: 'tcp://127.0.0.1:7002', voter: true, status: member('n2', 'follower'), error: null },
      { name: 'n3', peerUrl: 'tcp://127.0.0.1:7103', clientUrl: 'tcp://127.0.0.1:7003', voter: true, status: null, error: 'connect ECONNREFUSED' },
    ],
  });
  assert.equal(
    text,
    [
      'NAME  CLIENT URL            PEER URL              ROLE         TERM  COMMIT  APPLIED  LEADER',
      'n1    tcp://127.0.0.1:7001  tcp://127.0.0.1:7101  leader       7     42      41       n1',
      'n2    tcp://127.0.0.1:7002  tcp://127.0.0.1:7102  follower     7     42      41       n1',
      'n3    tcp://127.0.0.1:7003  tcp://127.0.0.1:7103  unreachable  -     -       -        -',
      '',
      'n3: connect ECONNREFUSED',
    ].join('\n'),
  );
});
