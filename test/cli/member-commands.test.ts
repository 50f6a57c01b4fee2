/**
 * What `concord member list` and `concord member add` print (src/cli/commands/member.ts):
 * the list's columns, and the exact flags and environment a new member starts with.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatMembers, initialClusterOf, startInstructions } from '../../src/cli/commands/member.js';
import type { MemberEntry } from '../../src/client/index.js';

const header = { memberName: 'n1', leaderId: 'n1', leaderClientUrl: null, revision: 7 };
const entry = (name: string, role: 'voter' | 'learner', extra: Partial<MemberEntry> = {}): MemberEntry => ({
  name,
  id: `${name}00000000000000`.slice(0, 16),
  peerUrl: `tcp://10.0.0.${name.slice(1)}:7101`,
  clientUrl: `tcp://10.0.0.${name.slice(1)}:7001`,
  role,
  isLeader: false,
  matchIndex: 90,
  trailingEntries: 10,
  active: true,
  ...extra,
});
const members = [entry('n1', 'voter', { isLeader: true, trailingEntries: 0 }), entry('n2', 'voter'), entry('n4', 'learner', { clientUrl: null, active: false })];

test('member list: one row per member with its role, URLs and how far it trails the leader', () => {
  const lines = formatMembers(members).split('\n');
  assert.match(lines[0]!, /^NAME\s+ID\s+ROLE\s+PEER URL\s+CLIENT URL\s+TRAILS LEADER BY\s+ACTIVE$/);
  assert.match(lines[1]!, /^n1\s+n100000000000000\s+voter \(leader\)\s+tcp:\/\/10\.0\.0\.1:7101\s+tcp:\/\/10\.0\.0\.1:7001\s+-\s+true$/);
  assert.match(lines[3]!, /^n4\s+\S+\s+learner\s+tcp:\/\/10\.0\.0\.4:7101\s+-\s+10 entries\s+false$/);
});

test('member add prints the flags and the environment of the new member, with the whole new configuration', () => {
  const out = startInstructions({ header, member: members[2]!, members }, 'tcp://10.0.0.4:7001');
  const cluster = 'n1=tcp://10.0.0.1:7101,n2=tcp://10.0.0.2:7101,n4=tcp://10.0.0.4:7101';
  assert.equal(initialClusterOf(members), cluster);
  assert.ok(out.includes(`concord server --name n4 --data-dir DATA_DIR --peer-url tcp://10.0.0.4:7101 --client-url tcp://10.0.0.4:7001 \\\n    --initial-cluster ${cluster} --initial-cluster-state existing`), out);
  for (const line of ['CONCORD_NAME="n4"', `CONCORD_INITIAL_CLUSTER="${cluster}"`, 'CONCORD_INITIAL_CLUSTER_STATE="existing"', 'CONCORD_PEER_URL="tcp://10.0.0.4:7101"']) {
    assert.ok(out.split('\n').includes(line), `missing ${line}:\n${out}`);
  }
  assert.match(out, /concord member promote n4/, 'a learner is told to promote it later');
  assert.doesNotMatch(startInstructions({ header, member: members[1]!, members }, undefined), /promote/);
});
