/**
 * The membership safety rules (member-rules.ts), the replicated member table
 * (member-table.ts) and its place in snapshots (membership-snapshot.ts),
 * deterministically: no processes, no clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/protocol/index.js';
import { ConfChangeType, decodeConfChange, encodeConfChange } from '../../src/raft/index.js';
import { checkAdd, checkPromote, checkRemove, isRepeatedAdd, learnerTrailingEntriesMax, quorumOf, type LeaderView } from '../../src/server/member-rules.js';
import { MemberTable, encodeAddContext, initialMemberId } from '../../src/server/member-table.js';
import { splitMembers, withMemberTable } from '../../src/server/membership-snapshot.js';
import { transferCandidates, quorumReachable } from '../../src/server/leader-transfer.js';
import type { CoreStatus, StateMachine } from '../../src/server/ports.js';

const urls = { n1: 'tcp://h:1', n2: 'tcp://h:2', n3: 'tcp://h:3' };

function view(overrides: Partial<LeaderView> = {}): LeaderView {
  return {
    self: 'n1',
    voters: ['n1', 'n2', 'n3'],
    learners: [],
    pendingIndex: null,
    lastIndex: 5000,
    match: { n2: 5000, n3: 4990 },
    active: { n2: true, n3: true },
    ...overrides,
  };
}

function code(error: Error | null): string | null {
  return error === null ? null : (error as unknown as { code: string }).code;
}

test('quorum sizes', () => {
  assert.deepEqual([1, 2, 3, 4, 5].map(quorumOf), [1, 2, 2, 3, 3]);
});

test('add: a learner always may join; a name or peer URL in use is refused; one change at a time', () => {
  assert.equal(checkAdd(view(), urls, { name: 'n4', peerUrl: 'tcp://h:4', learner: true }), null);
  assert.equal(code(checkAdd(view(), urls, { name: 'n2', peerUrl: 'tcp://h:9', learner: true })), ErrorCode.MemberExists);
  const taken = checkAdd(view(), urls, { name: 'n9', peerUrl: 'tcp://h:2', learner: true });
  assert.equal(code(taken), ErrorCode.MemberExists);
  assert.match(taken!.message, /belongs to member "n2"/);
  assert.equal(code(checkAdd(view({ pendingIndex: 77 }), urls, { name: 'n4', peerUrl: 'tcp://h:4', learner: true })), ErrorCode.MemberChangePending);
});

test('add: repeating an add that is already in the configuration is recognised, a changed URL or role is not', () => {
  assert.equal(isRepeatedAdd(view(), urls, { name: 'n2', peerUrl: 'tcp://h:2', learner: false }), true);
  assert.equal(isRepeatedAdd(view(), urls, { name: 'n2', peerUrl: 'tcp://h:9', learner: false }), false);
  assert.equal(isRepeatedAdd(view(), urls, { name: 'n2', peerUrl: 'tcp://h:2', learner: true }), false, 'n2 is a voter');
  assert.equal(isRepeatedAdd(view(), urls, { name: 'n4', peerUrl: 'tcp://h:4', learner: true }), false);
});

test('add a voter: refused when the live voters would be short of the new quorum, unless forced', () => {
  assert.equal(checkAdd(view(), urls, { name: 'n4', peerUrl: 'tcp://h:4', learner: false }), null, '3 live of 4 voters: quorum 3');
  const oneDown = view({ active: { n2: true, n3: false } });
  const refused = checkAdd(oneDown, urls, { name: 'n4', peerUrl: 'tcp://h:4', learner: false });
  assert.equal(code(refused), ErrorCode.QuorumAtRisk);
  assert.deepEqual((refused as unknown as { details: unknown }).details, { name: 'n4', reason: (refused as unknown as { details: { reason: string } }).details.reason, voters: 4, liveVoters: 2, quorum: 3 });
  assert.equal(checkAdd(oneDown, urls, { name: 'n4', peerUrl: 'tcp://h:4', learner: false, force: true }), null);
});

test('promote: only a learner, only when caught up and heard from, with how far it trails', () => {
  const v = view({ learners: ['n4'], match: { n2: 5000, n3: 5000, n4: 5000 - learnerTrailingEntriesMax }, active: { n2: true, n3: true, n4: true } });
  assert.equal(checkPromote(v, 'n4'), null);
  assert.equal(code(checkPromote(v, 'n2')), ErrorCode.MemberNotLearner);
  assert.equal(code(checkPromote(v, 'n9')), ErrorCode.MemberNotFound);
  const behind = checkPromote({ ...v, match: { ...v.match, n4: 100 } }, 'n4');
  assert.equal(code(behind), ErrorCode.LearnerNotCaughtUp);
  assert.match(behind!.message, /trails the leader by 4900 entries/);
  assert.equal((behind as unknown as { details: { trailingEntries: number } }).details.trailingEntries, 4900);
  assert.equal(code(checkPromote({ ...v, active: { ...v.active, n4: false } }, 'n4')), ErrorCode.LearnerNotCaughtUp, 'silent learner');
  assert.equal(code(checkPromote({ ...v, match: { ...v.match, n4: 0 }, lastIndex: 10 }, 'n4')), ErrorCode.LearnerNotCaughtUp, 'never replicated to');
  assert.equal(code(checkPromote({ ...v, pendingIndex: 9 }, 'n4')), ErrorCode.MemberChangePending);
});

test('remove: refused when the voters left would have too few live ones, unless forced; learners and the dead go freely', () => {
  assert.equal(checkRemove(view(), 'n3', false), null, 'all live: 2 of 2 left');
  const n3Down = view({ active: { n2: true, n3: false } });
  const refused = checkRemove(n3Down, 'n2', false);
  assert.equal(code(refused), ErrorCode.QuorumAtRisk);
  assert.match(refused!.message, /not heard from: n3/);
  assert.equal(checkRemove(n3Down, 'n2', true), null, 'forced');
  assert.equal(checkRemove(n3Down, 'n3', false), null, 'removing the dead member itself');
  assert.equal(checkRemove(view({ learners: ['n4'], active: { n2: false, n3: false } }), 'n4', false), null, 'a learner');
  assert.equal(code(checkRemove(view(), 'n9', false)), ErrorCode.MemberNotFound);
  assert.equal(code(checkRemove(view({ voters: ['n1'] }), 'n1', false)), ErrorCode.QuorumAtRisk, 'the last voter');
  assert.equal(code(checkRemove(view({ pendingIndex: 3 }), 'n3', false)), ErrorCode.MemberChangePending);
});

test('a membership entry carries its context through the core codec; one without keeps its old bytes', () => {
  const change = { changes: [{ type: ConfChangeType.AddLearner, nodeId: 'n4' }], context: '{"member":{}}' };
  assert.deepEqual(decodeConfChange(encodeConfChange(change)), { ...change, transition: 'auto' });
  const plain = { changes: [{ type: ConfChangeType.AddVoter, nodeId: 'n1' }] };
  assert.equal(new TextDecoder().decode(encodeConfChange(plain)), '{"changes":[{"type":"add-voter","nodeId":"n1"}],"transition":"auto"}');
  assert.equal('context' in decodeConfChange(encodeConfChange(plain)), false);
});

test('the member table follows committed changes: contexts carry URLs and IDs, the bootstrap entry the initial cluster', () => {
  const table = new MemberTable(urls);
  const changes: string[] = [];
  table.onChange((t) => changes.push(t.list().map((m) => m.name).join(',')));
  table.applyEntry(1, 1, encodeConfChange({ changes: ['n1', 'n2', 'n3'].map((nodeId) => ({ type: ConfChangeType.AddVoter, nodeId })) }));
  assert.equal(table.get('n2')?.id, initialMemberId('n2', urls.n2));
  assert.equal(table.get('n2')?.addedAt, 1);
  const context = encodeAddContext({ member: { name: 'n4', id: '00000000000000aa', peerUrl: 'tcp://h:4', clientUrl: 'tcp://h:14' } });
  table.applyEntry(10, 2, encodeConfChange({ changes: [{ type: ConfChangeType.AddLearner, nodeId: 'n4' }], context }));
  table.applyEntry(12, 2, encodeConfChange({ changes: [{ type: ConfChangeType.AddVoter, nodeId: 'n4' }] }));
  assert.deepEqual(table.get('n4'), { name: 'n4', id: '00000000000000aa', peerUrl: 'tcp://h:4', clientUrl: 'tcp://h:14', addedAt: 10 });
  table.applyEntry(15, 3, encodeConfChange({ changes: [{ type: ConfChangeType.RemoveNode, nodeId: 'n1' }] }));
  assert.equal(table.wasRemoved('n1'), true);
  assert.equal(table.termOfChangeAt(15), 3);
  assert.equal(table.termOfChangeAt(14), undefined);
  table.applyEntry(15, 3, encodeConfChange({ changes: [{ type: ConfChangeType.RemoveNode, nodeId: 'n2' }] }));
  assert.equal(table.has('n2'), true, 'an index already applied changes nothing');
  assert.deepEqual(table.peerUrls(), { n2: urls.n2, n3: urls.n3, n4: 'tcp://h:4' });
  // The same name added again is a new member: no longer "removed".
  const again = encodeAddContext({ member: { name: 'n1', id: '00000000000000bb', peerUrl: 'tcp://h:1', clientUrl: null } });
  table.applyEntry(20, 3, encodeConfChange({ changes: [{ type: ConfChangeType.AddLearner, nodeId: 'n1' }], context: again }));
  assert.equal(table.wasRemoved('n1'), false);
  assert.equal(table.get('n1')?.addedAt, 20);
  assert.deepEqual(changes, ['n1,n2,n3', 'n1,n2,n3,n4', 'n1,n2,n3,n4', 'n2,n3,n4', 'n1,n2,n3,n4']);

  const copy = new MemberTable({});
  copy.restore(table.encode());
  assert.deepEqual(copy.list(), table.list());
  assert.equal(copy.changeIndex, 20);
  assert.equal(copy.wasRemoved('n1'), false);
});

async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of source) parts.push(part);
  return new Uint8Array(Buffer.concat(parts));
}

async function* chunks(bytes: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

test('snapshots carry the member table before the key-value bytes, split at any chunk boundary; old snapshots restore as they are', async () => {
  const table = new MemberTable(urls);
  table.applyEntry(1, 1, encodeConfChange({ changes: ['n1', 'n2'].map((nodeId) => ({ type: ConfChangeType.AddVoter, nodeId })) }));
  const kvBytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 256);
  let restored: Uint8Array | null = null;
  const inner: StateMachine<void> = {
    appliedIndex: 1,
    apply: () => {},
    skip: () => {},
    applyConfChange: () => {},
    restore: async (contents) => {
      restored = await collect(contents);
    },
    snapshot: () => ({ appliedIndex: 1, contents: [kvBytes.subarray(0, 100), kvBytes.subarray(100)] }),
    describe: () => ({}),
  };
  const port = withMemberTable(inner, table);
  const image = await collect(port.snapshot().contents as AsyncIterable<Uint8Array>);
  for (const size of [1, 3, 9, 64, 10_000]) {
    const target = new MemberTable({});
    await withMemberTable(inner, target).restore(chunks(image, size));
    assert.deepEqual(restored, kvBytes, `chunks of ${size}`);
    assert.deepEqual(target.list(), table.list());
  }
  // A snapshot from before member tables: the key-value format's own magic first.
  const old = Uint8Array.from([0x43, 0x4b, 0x56, 0x53, 2, 9, 9]);
  let sawTable: Uint8Array | null | undefined;
  assert.deepEqual(await collect(splitMembers(chunks(old, 2), (t) => (sawTable = t))), old);
  assert.equal(sawTable, null);
  // Truncated inside the table: refused.
  await assert.rejects(collect(splitMembers(chunks(image.subarray(0, 12), 5), () => {})), /ends inside its member table/);
});

test('transfer targets: live voters only, most caught-up first; a quorum is reachable or not', () => {
  const status: CoreStatus = {
    role: 'leader',
    term: 3,
    leader: 'n1',
    commitIndex: 100,
    appliedIndex: 100,
    conf: { voters: ['n1', 'n2', 'n3', 'n4'], learners: ['n5'], votersOutgoing: [], learnersNext: [], autoLeave: false },
    matchIndex: { n2: 90, n3: 100, n4: 100, n5: 100 },
    recentActive: {},
    lastLogIndex: 100,
    leadTransferee: null,
  };
  assert.deepEqual(transferCandidates(status, 'n1', (n) => n !== 'n4'), ['n3', 'n2']);
  assert.deepEqual(transferCandidates(status, 'n1', () => false), []);
  assert.equal(quorumReachable(status, 'n1', (n) => n === 'n2' || n === 'n3'), true, '3 of 4');
  assert.equal(quorumReachable(status, 'n1', (n) => n === 'n2'), false, '2 of 4');
  const joint: CoreStatus = { ...status, conf: { ...status.conf, voters: ['n1', 'n2', 'n3'], votersOutgoing: ['n1', 'n4', 'n5'] } };
  assert.equal(quorumReachable(joint, 'n1', (n) => n === 'n2'), false, 'both halves need a majority');
  assert.equal(quorumReachable(joint, 'n1', (n) => n === 'n2' || n === 'n4'), true);
});
