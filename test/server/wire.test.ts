/** The server's own wire pieces: the proposal envelope and the peer message schema. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CorruptEnvelopeError, decodeProposal, encodeProposal, proposalHeaderBytes, writeProposalHeader } from '../../src/server/proposal-envelope.js';
import { CommandKind, encodeCommand } from '../../src/kv/index.js';
import { fromRaftMessage, raftMessageSchema, toRaftMessage } from '../../src/server/peer-protocol.js';
import { EntryPacker } from '../../src/server/packed-entries.js';
import { MessageType, type Message } from '../../src/raft/index.js';
import { clientMethods } from '../../src/protocol/index.js';

test('a proposal envelope decodes to the header and command it was made from', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 47 }), fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.uint8Array({ maxLength: 200 }), (instance, requestId, command) => {
      const decoded = decodeProposal(7, encodeProposal({ proposerInstance: instance, requestId }, command));
      assert.equal(decoded.proposerInstance, instance);
      assert.equal(decoded.requestId, requestId);
      assert.deepEqual([...decoded.command], [...command]);
    }),
  );
});

test('the command of an envelope read from a Buffer is a plain Uint8Array view: slice() copies', () => {
  const data = Buffer.from(encodeProposal({ proposerInstance: 300, requestId: 5 }, new Uint8Array([9, 8, 7])));
  const { command } = decodeProposal(3, data);
  assert.ok(!Buffer.isBuffer(command));
  assert.deepEqual([...command], [9, 8, 7]);
  const copy = command.slice();
  copy[0] = 0;
  assert.equal(data[data.length - 3], 9, 'the entry data is untouched');
  data[data.length - 1] = 1;
  assert.equal(command[2], 1, 'a view, not a copy');
});

test('a header written into the command encoder\'s headroom makes the same envelope as encodeProposal', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 47 }), fc.nat({ max: 2 ** 40 }), fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.uint8Array({ maxLength: 300 }), (instance, requestId, key, value) => {
      const header = { proposerInstance: instance, requestId };
      const command = { kind: CommandKind.Put, key, value, session: { sessionId: 3, seq: 9, ackedSeq: 8 } } as const;
      const inPlace = encodeCommand(command, 1_700_000_000_000, proposalHeaderBytes(header));
      assert.equal(writeProposalHeader(inPlace, header), proposalHeaderBytes(header));
      assert.deepEqual([...inPlace], [...encodeProposal(header, encodeCommand(command, 1_700_000_000_000))]);
    }),
  );
});

test('bytes that are not an envelope are refused naming the entry', () => {
  assert.throws(() => decodeProposal(9, new Uint8Array([1, 2, 3])), (e: unknown) => e instanceof CorruptEnvelopeError && /entry 9/.test(e.message));
  assert.throws(() => decodeProposal(9, new Uint8Array([0xc1, 0x80])), CorruptEnvelopeError);
});

test('the Raft message schema accepts core messages and names the field of a malformed one', () => {
  const core: Message = {
    type: MessageType.AppendEntries,
    from: 'n1',
    to: 'n2',
    term: 3,
    prevLogIndex: 4,
    prevLogTerm: 2,
    entries: [
      { index: 5, term: 3, type: 0, data: new Uint8Array([1]) },
      { index: 6, term: 3, type: 1, data: new Uint8Array([2, 3]) },
    ],
    leaderCommit: 4,
  };
  const append = fromRaftMessage(core, new EntryPacker());
  assert.ok(append.type === 'AppendEntries' && append.entries instanceof Uint8Array, 'entries travel packed');
  assert.ok(raftMessageSchema.is(append));
  const back = toRaftMessage(append);
  assert.deepEqual(
    back.type === 'AppendEntries' && back.entries.map((e) => [e.index, e.term, e.type, [...e.data]]),
    [[5, 3, 0, [1]], [6, 3, 1, [2, 3]]],
  );
  const truncated = { ...append, entries: (append.entries as Uint8Array).subarray(0, 8) };
  assert.equal(raftMessageSchema.is(truncated), false);
  assert.deepEqual(raftMessageSchema.explain(truncated), { path: 'entries', expected: 'packed log entries', found: 'entry 1: 2 bytes of data, 1 left' });
  const bad = { ...append, entries: [{ index: 5, term: 3, type: 0, data: new Uint8Array([1]) }] };
  assert.equal(raftMessageSchema.is(bad), false);
  assert.equal(raftMessageSchema.explain(bad).path, 'entries');
  assert.equal(raftMessageSchema.is({ ...append, type: 'Bogus' }), false);
  assert.equal(raftMessageSchema.explain({ ...append, type: 'Bogus' }).path, 'type');
});

test('the client method table has stable ids for every method', () => {
  const ids = Object.fromEntries([...clientMethods.byName.values()].map((m) => [m.name, m.id]));
  assert.deepEqual(ids, {
    'kv.get': 1,
    'kv.put': 2,
    'kv.update': 3,
    'kv.delete': 4,
    'kv.scan': 5,
    'session.open': 6,
    'session.keepAlive': 7,
    'session.close': 8,
    'cluster.status': 9,
    'session.list': 15,
    'kv.txn': 10,
    'kv.compact': 11,
    'watch.create': 70,
    'watch.cancel': 71,
    'watch.poll': 72,
    'auth.authenticate': 20,
    'user.add': 21,
    'user.delete': 22,
    'user.passwd': 23,
    'user.grantRole': 24,
    'user.revokeRole': 25,
    'role.add': 26,
    'role.delete': 27,
    'role.grantPermission': 28,
    'role.revokePermission': 29,
    'auth.enable': 30,
    'auth.disable': 31,
    'user.get': 32,
    'user.list': 33,
    'role.get': 34,
    'role.list': 35,
    'auth.status': 36,
    'member.list': 40,
    'member.add': 41,
    'member.promote': 42,
    'member.remove': 43,
    'leader.transfer': 44,
    'lease.grant': 50,
    'lease.revoke': 51,
    'lease.keepAlive': 52,
    'lease.timeToLive': 53,
    'lease.list': 54,
    'snapshot.save': 60,
  });
});
