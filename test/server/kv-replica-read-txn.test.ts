/**
 * A read-only transaction (Redis's EXEC of a WATCH with no writes, etcd's
 * compare-only txn) is served from the member's state at the same time its
 * gets read at: a key whose TTL has passed, but whose expiry entry the leader
 * has not proposed yet, compares as missing, as a get shows it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandKind, type ApplyResult, type TxnCompare } from '../../src/kv/index.js';
import { KvReplica } from '../../src/server/kv-replica.js';
import type { RaftHost } from '../../src/server/raft-host.js';
import { Driver, b } from '../kv/helpers.js';

test("a read-only transaction compares at the member's read time: a key whose TTL passed is missing before its expiry entry applies", () => {
  const d = new Driver();
  d.run({ kind: CommandKind.Put, key: b('x'), value: b('foo'), expiresAtMs: d.nowMs + 1000 });
  const { modRevision } = d.sm.get(b('x'))!;
  let readTimeMs = d.nowMs;
  // readTxn and get use only the state machine and the read time; the host is never reached.
  const replica = new KvReplica({ name: 'n1' } as unknown as RaftHost<ApplyResult>, d.sm, () => readTimeMs);
  const holds = (c: TxnCompare): boolean => replica.readTxn({ compare: [c], success: [], failure: [] }).succeeded;
  const watched: TxnCompare = { key: b('x'), target: 'modRevision', op: '=', modRevision };
  assert.equal(holds(watched), true, 'before the TTL: unchanged');
  readTimeMs = d.nowMs + 1000;
  assert.equal(replica.get(b('x')), null, 'a get hides the key');
  assert.equal(holds(watched), false, 'the watched key expired: EXEC must fail');
  assert.equal(holds({ key: b('x'), target: 'createRevision', op: '=', createRevision: 0 }), true, 'it compares as missing');
});
