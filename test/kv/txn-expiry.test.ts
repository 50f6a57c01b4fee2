/**
 * Transactions and expiry: a put or update op attaching a lease (as kv.put does), and the reads of a
 * transaction (get, scan, compares) hiding a key whose own TTL has passed by the entry's time, and,
 * served on the read path, a key whose lease or TTL has expired by the reader's clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandKind, InvalidCommandError, LeaseNotFoundError, ResultKind, TxnOpType, decodeCommand, encodeCommand, type ApplyResult, type TxnOp, type TxnResult } from '../../src/kv/index.js';
import { b, Driver, text } from './helpers.js';

function grant(d: Driver, ttlMs: number): number {
  const result = d.run({ kind: CommandKind.LeaseGrant, id: 0, ttlMs });
  assert.equal(result.kind, ResultKind.LeaseGranted, JSON.stringify(result));
  return (result as { id: number }).id;
}

const asTxn = (r: ApplyResult): TxnResult => {
  assert.equal(r.kind, ResultKind.Txn, JSON.stringify(r));
  return r as TxnResult;
};

const run = (d: Driver, success: TxnOp[]): ApplyResult => d.run({ kind: CommandKind.Txn, compare: [], success, failure: [] });
const keysOf = (kvs: readonly { key: Uint8Array }[]): string[] => kvs.map((kv) => text(kv.key));

test('a txn put op with a lease round-trips through the log encoding and attaches the key: revoking the lease deletes it', () => {
  const d = new Driver();
  const id = grant(d, 10_000);
  const command = {
    kind: CommandKind.Txn,
    compare: [],
    success: [
      { type: TxnOpType.Put, key: b('a'), value: b('1'), lease: id },
      { type: TxnOpType.Update, key: b('a'), value: new Uint8Array(0), keepValue: true, lease: id },
    ],
    failure: [],
  } as const;
  const decoded = decodeCommand(encodeCommand(command, 5)).command;
  assert.deepEqual(JSON.parse(JSON.stringify(decoded)), JSON.parse(JSON.stringify(command)));

  asTxn(run(d, [{ type: TxnOpType.Put, key: b('a'), value: b('1'), lease: id }, { type: TxnOpType.Put, key: b('b'), value: b('2') }]));
  assert.equal(d.sm.get(b('a'))!.lease, id);
  assert.equal(d.sm.get(b('b'))!.lease, 0);
  assert.deepEqual(d.sm.lease(id, true)!.keys!.map(text), ['a'], "the lease table knows the txn's key");
  // keepTtl keeps the lease; a put without an expiry detaches the key (as a plain put).
  asTxn(run(d, [{ type: TxnOpType.Put, key: b('a'), value: b('3'), keepTtl: true }]));
  assert.equal(d.sm.get(b('a'))!.lease, id);
  asTxn(run(d, [{ type: TxnOpType.Update, key: b('b'), value: b('4'), lease: id }]));
  assert.deepEqual(d.sm.lease(id, true)!.keys!.map(text), ['a', 'b'], 'an update op attaches too');
  const revoked = d.run({ kind: CommandKind.LeaseRevoke, id });
  assert.equal(revoked.kind, ResultKind.LeaseDeleted, JSON.stringify(revoked));
  assert.equal(d.sm.get(b('a')), null);
  assert.equal(d.sm.get(b('b')), null);
  // A snapshot carries the attachment.
  const e = new Driver();
  const id2 = grant(e, 10_000);
  asTxn(run(e, [{ type: TxnOpType.Put, key: b('s'), value: b('1'), lease: id2 }]));
  const copy = new Driver();
  copy.sm.restore(e.sm.snapshot());
  assert.deepEqual(copy.sm.lease(id2, true)!.keys!.map(text), ['s']);
});

test('a txn put with an unknown lease is LeaseNotFoundError and applies nothing; a lease with a ttlMs is invalid', () => {
  const d = new Driver();
  const id = grant(d, 10_000);
  d.put('x', 'before');
  const revision = d.sm.revision;
  const failed = run(d, [
    { type: TxnOpType.Put, key: b('x'), value: b('after'), lease: id },
    { type: TxnOpType.Put, key: b('y'), value: b('1'), lease: id + 1 },
  ]);
  assert.equal(failed.kind, ResultKind.Error);
  assert.ok((failed as { error: unknown }).error instanceof LeaseNotFoundError, JSON.stringify(failed));
  assert.equal(d.sm.revision, revision, 'no revision taken');
  assert.equal(text(d.sm.get(b('x'))!.value), 'before', 'the earlier op is undone');
  assert.equal(d.sm.get(b('x'))!.lease, 0);
  assert.equal(d.sm.get(b('y')), null);
  assert.deepEqual(d.sm.lease(id, true)!.keys, [], 'the undone op left nothing in the lease table');

  const both = run(d, [{ type: TxnOpType.Put, key: b('y'), value: b('1'), lease: id, ttlMs: 100 }]);
  assert.equal(both.kind, ResultKind.Error);
  assert.ok((both as { error: unknown }).error instanceof InvalidCommandError, JSON.stringify(both));
  assert.equal(d.sm.get(b('y')), null);
});

test("a txn's get, scan and compares see a key whose own TTL passed by the entry's time as absent", () => {
  const d = new Driver();
  d.run({ kind: CommandKind.Put, key: b('k/gone'), value: b('1'), ttlMs: 100 });
  d.put('k/here', '2');
  d.nowMs += 100;
  const result = asTxn(
    d.run({
      kind: CommandKind.Txn,
      compare: [{ key: b('k/gone'), target: 'version', op: '=', version: 0 }],
      success: [
        { type: TxnOpType.Get, key: b('k/gone') },
        { type: TxnOpType.Scan, key: b('k/'), rangeEnd: b('k0'), limit: 1 },
        { type: TxnOpType.Txn, compare: [{ key: b('k/'), rangeEnd: b('k0'), target: 'value', op: '=', value: b('2') }], success: [{ type: TxnOpType.Get, key: b('k/here') }], failure: [] },
      ],
      failure: [],
    }),
  );
  assert.equal(result.succeeded, true);
  const [get, scan, nested] = result.results as unknown as [{ kv: unknown }, { kvs: { key: Uint8Array }[]; more: boolean }, { succeeded: boolean }];
  assert.equal(get.kv, null, 'get of an expired key');
  assert.deepEqual(keysOf(scan.kvs), ['k/here'], 'the scan skips it and it does not use up the limit');
  assert.equal(scan.more, false);
  assert.equal(nested.succeeded, true, 'a range compare ignores it');
});

test('a read-only txn on the read path hides keys whose lease or own TTL expired by the reader clock, as get and scan do', () => {
  const d = new Driver();
  const id = grant(d, 1_000);
  d.run({ kind: CommandKind.Put, key: b('r/lease'), value: b('1'), lease: id });
  d.run({ kind: CommandKind.Put, key: b('r/ttl'), value: b('2'), ttlMs: 500 });
  d.put('r/plain', '3');
  const body = {
    compare: [{ key: b('r/lease'), target: 'version' as const, op: '=' as const, version: 0 }],
    success: [
      { type: TxnOpType.Get, key: b('r/ttl') },
      { type: TxnOpType.Scan, key: b('r/'), rangeEnd: b('r0') },
    ],
    failure: [{ type: TxnOpType.Scan, key: b('r/'), rangeEnd: b('r0') }],
  } as const;
  const before = d.sm.readTxn(body, d.nowMs);
  assert.equal(before.succeeded, false, 'the lease key is there before its lease expires');
  assert.equal((before.results[0] as { readonly kvs: readonly unknown[] }).kvs.length, 3);
  const later = d.nowMs + 1_000;
  assert.equal(d.sm.get(b('r/lease'), later), null, 'plain get hides it');
  const after = d.sm.readTxn(body, later);
  assert.equal(after.succeeded, true, 'the compare sees the expired lease key as missing');
  assert.equal((after.results[0] as { kv: unknown }).kv, null);
  assert.deepEqual(keysOf((after.results[1] as { readonly kvs: readonly { key: Uint8Array }[] }).kvs), ['r/plain']);
});
