/**
 * Leases and key TTLs in the state machine: grant, attach, keep-alive,
 * revoke, the expiry entry's rule (only what has passed by the entry's own
 * time), reads that hide expired keys, exactly-once through sessions, the
 * 100,000-key TTL index, and snapshots (format 3, and format 1/2 kept while
 * no lease state exists).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthCommandKind, CommandKind, KvStateMachine, LeaseNotFoundError, LeaseExistsError, ResultKind, type ApplyResult } from '../../src/kv/index.js';
import { applyCommand } from '../../src/testing/kv-apply.js';
import { b, concat, Driver } from './helpers.js';

function granted(result: ApplyResult): number {
  assert.equal(result.kind, ResultKind.LeaseGranted, JSON.stringify(result));
  return (result as { id: number }).id;
}

function grant(d: Driver, ttlMs: number, id = 0): number {
  return granted(d.run({ kind: CommandKind.LeaseGrant, id, ttlMs }));
}

function expire(d: Driver, leases: number[], keys: string[] = []): ApplyResult {
  return d.run({ kind: CommandKind.LeaseExpire, leases, keys: keys.map(b) });
}

test('a lease is granted with the entry index as its id, clamped TTL, and its keys are deleted by an expiry at its time', () => {
  const d = new Driver({ leaseTtlMinMs: 1000 });
  const index = d.nextIndex;
  const id = grant(d, 10);
  assert.equal(id, index);
  assert.equal(d.sm.lease(id)!.grantedTtlMs, 1000, 'raised to leaseTtlMinMs');
  assert.equal(d.run({ kind: CommandKind.Put, key: b('a'), value: b('1'), lease: id }).kind, ResultKind.Write);
  d.put('b', '2', {});
  d.run({ kind: CommandKind.Put, key: b('c'), value: b('3'), lease: id });
  assert.equal(d.sm.get(b('a'))!.lease, id);
  assert.deepEqual(d.sm.lease(id, true)!.keys!.map((k) => Buffer.from(k).toString()), ['a', 'c']);

  // Not yet due at the entry's time: nothing happens.
  d.nowMs += 999;
  assert.deepEqual(d.sm.dueExpiries(d.nowMs, 10).leases, []);
  const revisionBefore = d.sm.revision;
  let result = expire(d, [id]);
  assert.deepEqual(result, { kind: ResultKind.LeaseDeleted, revision: revisionBefore, leases: 0, keys: 0 }, 'nothing deleted: no new revision');
  assert.equal(d.sm.revision, revisionBefore);
  assert.ok(d.sm.get(b('a')));

  d.nowMs += 1;
  assert.deepEqual(d.sm.dueExpiries(d.nowMs, 10).leases, [id]);
  result = expire(d, [id]);
  assert.deepEqual(result, { kind: ResultKind.LeaseDeleted, revision: revisionBefore + 1, leases: 1, keys: 2 }, 'both keys at one revision');
  assert.equal(d.sm.revision, revisionBefore + 1);
  assert.equal(d.sm.get(b('a')), null);
  assert.equal(d.sm.get(b('c')), null);
  assert.ok(d.sm.get(b('b')), 'a key without the lease stays');
  assert.equal(d.sm.lease(id), null);
  assert.equal(d.sm.nextExpiryMs(), null);
});

test('a keep-alive applied before the expiry entry wins; one entry renews many leases', () => {
  const d = new Driver();
  const ids = [grant(d, 2000), grant(d, 3000), grant(d, 2000)];
  d.run({ kind: CommandKind.Put, key: b('k'), value: b('v'), lease: ids[0] });
  d.nowMs += 1900;
  const kept = d.run({ kind: CommandKind.LeaseKeepAlive, ids: [...ids, 999_999] });
  assert.deepEqual(kept, { kind: ResultKind.LeaseKeptAlive, ttls: [2000, 3000, 2000, 0] });
  d.nowMs += 200; // past the original expiry, before the renewed one
  const result = expire(d, [ids[0]!, ids[2]!]);
  assert.equal((result as { leases: number }).leases, 0);
  assert.ok(d.sm.get(b('k')));
  assert.equal(d.sm.lease(ids[0]!)!.expiresAtMs, d.nowMs - 200 + 2000);
});

test('revoke deletes the keys in one revision; a missing lease is LeaseNotFoundError; an id in use is LeaseExistsError', () => {
  const d = new Driver();
  const id = grant(d, 5000, 42);
  assert.equal(id, 42);
  const again = d.run({ kind: CommandKind.LeaseGrant, id: 42, ttlMs: 5000 });
  assert.ok(again.kind === ResultKind.Error && again.error instanceof LeaseExistsError);
  for (const k of ['x', 'y', 'z']) d.run({ kind: CommandKind.Put, key: b(k), value: b('1'), lease: id });
  const before = d.sm.revision;
  const revoked = d.run({ kind: CommandKind.LeaseRevoke, id });
  assert.deepEqual(revoked, { kind: ResultKind.LeaseDeleted, revision: before + 1, leases: 1, keys: 3 }, 'three keys, one revision');
  assert.equal(d.sm.keyCount, 0);
  const missing = d.run({ kind: CommandKind.LeaseRevoke, id });
  assert.ok(missing.kind === ResultKind.Error && missing.error instanceof LeaseNotFoundError);
  const attach = d.run({ kind: CommandKind.Put, key: b('x'), value: b('1'), lease: id });
  assert.ok(attach.kind === ResultKind.Error && attach.error instanceof LeaseNotFoundError);
  assert.equal(d.sm.keyCount, 0, 'a put to a missing lease changes nothing');
});

test('a put without a lease detaches the key; a delete detaches it too', () => {
  const d = new Driver();
  const id = grant(d, 5000);
  d.run({ kind: CommandKind.Put, key: b('a'), value: b('1'), lease: id });
  d.run({ kind: CommandKind.Put, key: b('b'), value: b('1'), lease: id });
  d.put('a', '2');
  d.del('b');
  d.put('b', 'again');
  assert.equal(d.sm.get(b('a'))!.lease, 0);
  assert.equal(d.sm.lease(id, true)!.keyCount, 0);
  d.nowMs += 5000;
  expire(d, [id]);
  assert.ok(d.sm.get(b('a')) && d.sm.get(b('b')), 'detached keys survive the lease');
});

test('reads with a time hide keys whose lease or TTL has passed, before the expiry entry applies', () => {
  const d = new Driver();
  const id = grant(d, 2000);
  d.run({ kind: CommandKind.Put, key: b('leased'), value: b('1'), lease: id });
  d.run({ kind: CommandKind.Put, key: b('ttl'), value: b('1'), ttlMs: 500 });
  d.put('plain', '1');
  const t = d.nowMs;
  assert.equal(d.sm.scan({ limit: 10 }, t + 499).entries.length, 3);
  assert.equal(d.sm.get(b('ttl'), t + 500), null);
  assert.ok(d.sm.get(b('ttl')), 'without a time the stored state is read');
  assert.deepEqual(
    d.sm.scan({ limit: 10 }, t + 2000).entries.map((e) => Buffer.from(e.key).toString()),
    ['plain'],
  );
});

test('per-key TTL: due keys in time order, a rewrite moves or clears the TTL, the expiry deletes only what is due', () => {
  const d = new Driver();
  d.run({ kind: CommandKind.Put, key: b('s'), value: b('1'), ttlMs: 100 });
  d.run({ kind: CommandKind.Put, key: b('m'), value: b('1'), ttlMs: 300 });
  d.run({ kind: CommandKind.Put, key: b('r'), value: b('1'), ttlMs: 100 });
  d.put('r', 'no ttl now');
  d.nowMs += 200;
  const due = d.sm.dueExpiries(d.nowMs, 10);
  assert.deepEqual(due.keys.map((k) => Buffer.from(k).toString()), ['s']);
  const result = expire(d, [], ['s', 'm', 'r', 'absent']);
  assert.equal((result as { keys: number }).keys, 1);
  assert.deepEqual(
    d.sm.scan({ limit: 10 }).entries.map((e) => Buffer.from(e.key).toString()),
    ['m', 'r'],
  );
  const both = d.run({ kind: CommandKind.Put, key: b('x'), value: b('1'), ttlMs: 100, lease: 7 });
  assert.equal(both.kind, ResultKind.Error);
});

test('grants, revokes and keep-alives are exactly-once through a session', () => {
  const d = new Driver();
  const sessionId = d.openSession();
  const first = d.run({ kind: CommandKind.LeaseGrant, id: 0, ttlMs: 5000, session: { sessionId, seq: 1, ackedSeq: 0 } });
  const retry = d.run({ kind: CommandKind.LeaseGrant, id: 0, ttlMs: 5000, session: { sessionId, seq: 1, ackedSeq: 0 } });
  assert.deepEqual(retry, first);
  assert.equal(d.sm.leaseCount, 1, 'the retried grant made no second lease');
  const id = granted(first);
  d.nowMs += 1000;
  const kept = d.run({ kind: CommandKind.LeaseKeepAlive, ids: [id], session: { sessionId, seq: 2, ackedSeq: 1 } });
  const expiresAt = d.sm.lease(id)!.expiresAtMs;
  d.nowMs += 1000;
  assert.deepEqual(d.run({ kind: CommandKind.LeaseKeepAlive, ids: [id], session: { sessionId, seq: 2, ackedSeq: 1 } }), kept);
  assert.equal(d.sm.lease(id)!.expiresAtMs, expiresAt, 'a retried keep-alive is not applied again');
});

test('100,000 keys with TTLs: the due ones are found through the index, and expire in bounded entries', () => {
  const d = new Driver();
  const n = 100_000;
  for (let i = 0; i < n; i++) {
    d.run({ kind: CommandKind.Put, key: b(`k${i}`), value: b('v'), ttlMs: 1000 + (i % 1000) });
    if (i % 1000 === 999) d.nowMs += 1;
  }
  d.nowMs += 1000;
  const started = performance.now();
  let deleted = 0;
  for (let rounds = 0; rounds < 1000; rounds++) {
    const due = d.sm.dueExpiries(d.nowMs, 1000);
    if (due.keys.length === 0) break;
    deleted += (d.run({ kind: CommandKind.LeaseExpire, leases: [], keys: due.keys }) as { keys: number }).keys;
  }
  const elapsed = performance.now() - started;
  // Keys with ttl 1000 + j, written at time base + floor(i/1000), are due when base + floor(i/1000) + 1000 + j <= now.
  const expected = Array.from({ length: n }, (_, i) => Math.floor(i / 1000) + (i % 1000) <= 100).filter(Boolean).length;
  assert.equal(deleted, expected);
  assert.equal(d.sm.keyCount, n - expected);
  assert.ok(elapsed < 20_000, `expiring ${deleted} keys took ${elapsed} ms`);
});

test('snapshots carry leases and TTLs (format 3); restore rebuilds the key sets; equal states give equal bytes', () => {
  const d = new Driver();
  const id = grant(d, 5000);
  d.run({ kind: CommandKind.Put, key: b('a'), value: b('1'), lease: id });
  d.run({ kind: CommandKind.Put, key: b('t'), value: b('1'), ttlMs: 700 });
  grant(d, 9000, 77);
  const snap = d.sm.snapshot();
  assert.equal(snap.formatVersion, 3);
  const bytes = snap.toBytes();
  const restored = new KvStateMachine();
  restored.restore([bytes]);
  assert.deepEqual(restored.leaseList(), d.sm.leaseList());
  assert.deepEqual(restored.lease(id, true), d.sm.lease(id, true));
  assert.deepEqual(restored.dueExpiries(d.nowMs + 700, 10), d.sm.dueExpiries(d.nowMs + 700, 10));
  assert.deepEqual(concat(restored.snapshot()), bytes);
  // Replaying the same log after the restore point keeps both equal.
  const replica = new KvStateMachine();
  for (let i = 0; i < d.log.length; i++) replica.apply(i + 1, d.log[i]!);
  assert.deepEqual(concat(replica.snapshot()), bytes);

  // Without lease state the format is the same (no LEASES block, lease count 0).
  const plain = new Driver();
  plain.put('a', '1');
  assert.equal(plain.sm.snapshot().formatVersion, 3);
  const once = new Driver();
  once.run({ kind: CommandKind.Put, key: b('a'), value: b('1'), ttlMs: 10 });
  once.nowMs += 10;
  once.run({ kind: CommandKind.LeaseExpire, leases: [], keys: [b('a')] });
  assert.equal(once.sm.snapshot().formatVersion, 3, 'still format 3 once no lease state is left');
});

test('a corrupt format-3 snapshot (a key on a lease it lacks) is refused', () => {
  const d = new Driver();
  const id = grant(d, 5000);
  d.run({ kind: CommandKind.Put, key: b('a'), value: b('1'), lease: id });
  const bytes = d.sm.snapshot().toBytes();
  const target = new KvStateMachine();
  const cut = bytes.slice(0, bytes.length - 1);
  assert.throws(() => target.restore([cut]));
  assert.equal(target.keyCount, 0);
});

test('renewals are O(1): the expiry index catches up lazily, and what is due is exactly what has passed its real expiry', () => {
  const d = new Driver();
  const ids = Array.from({ length: 50 }, () => grant(d, 1000));
  for (let round = 0; round < 10; round++) {
    d.nowMs += 300;
    d.run({ kind: CommandKind.LeaseKeepAlive, ids: ids.filter((_, i) => i % 2 === 0) });
  }
  // Odd leases were never renewed: due since 1000 ms after their grant; even ones 1000 ms after the last renewal.
  assert.deepEqual(d.sm.dueExpiries(d.nowMs, 100).leases, ids.filter((_, i) => i % 2 === 1));
  assert.equal(d.sm.nextExpiryMs(), d.sm.lease(ids[1]!)!.expiresAtMs);
  expire(d, ids);
  assert.equal(d.sm.leaseCount, 25);
  assert.equal(d.sm.nextExpiryMs(), d.nowMs + 1000, 'the renewed leases are filed under their real expiry');
  assert.deepEqual(d.sm.dueExpiries(d.nowMs + 999, 100).leases, []);
  assert.deepEqual(d.sm.dueExpiries(d.nowMs + 1000, 100).leases, ids.filter((_, i) => i % 2 === 0));
  // A member restored from a snapshot (exact index) decides the same.
  const restored = new KvStateMachine();
  restored.restore([d.sm.snapshot().toBytes()]);
  assert.deepEqual(restored.dueExpiries(d.nowMs + 1000, 100), d.sm.dueExpiries(d.nowMs + 1000, 100));
  assert.deepEqual(concat(restored.snapshot()), concat(d.sm.snapshot()));
});

test('a renewed lease stays filed under its old expiry (a lower bound) until that time passes; it is never due early', () => {
  const d = new Driver();
  const first = grant(d, 1000);
  const firstExpiryMs = d.sm.lease(first)!.expiresAtMs;
  d.nowMs += 500;
  const second = grant(d, 1000);
  d.nowMs += 200;
  d.run({ kind: CommandKind.LeaseKeepAlive, ids: [first] });
  assert.equal(d.sm.nextExpiryMs(), firstExpiryMs, 'a lower bound: the renewal has not moved it yet');
  assert.deepEqual(d.sm.dueExpiries(firstExpiryMs, 10).leases, [], 'not due at its old expiry');
  assert.equal(d.sm.nextExpiryMs(), d.sm.lease(second)!.expiresAtMs, 'asked for what is due at its old expiry: re-filed');
  // Renewed many times before its filed time passes: never listed early, and filed exactly once that time has passed.
  for (let round = 0; round < 5; round++) {
    d.nowMs += 400;
    d.run({ kind: CommandKind.LeaseKeepAlive, ids: [first, second] });
    assert.deepEqual(d.sm.dueExpiries(d.nowMs + 999, 10).leases, []);
  }
  assert.equal(d.sm.nextExpiryMs(), d.nowMs + 1000);
  assert.deepEqual(d.sm.dueExpiries(d.nowMs + 1000, 10).leases.sort((x, y) => x - y), [first, second]);
});

test('a transaction that overwrites or deletes leased and TTL keys detaches them from the lease table', () => {
  const d = new Driver();
  const id = grant(d, 5000);
  d.run({ kind: CommandKind.Put, key: b('a'), value: b('1'), lease: id });
  d.run({ kind: CommandKind.Put, key: b('b'), value: b('1'), lease: id });
  d.run({ kind: CommandKind.Put, key: b('t'), value: b('1'), ttlMs: 100 });
  const txn = d.run({
    kind: CommandKind.Txn,
    compare: [],
    success: [
      { type: 'put', key: b('a'), value: b('2') },
      { type: 'delete', key: b('b') },
      { type: 'put', key: b('t'), value: b('2') },
    ],
    failure: [],
  } as never);
  assert.equal(txn.kind, ResultKind.Txn, JSON.stringify(txn));
  assert.equal(d.sm.lease(id)!.keyCount, 0);
  assert.equal(d.sm.get(b('a'))!.lease, 0);
  d.nowMs += 5000;
  assert.deepEqual(d.sm.dueExpiries(d.nowMs, 10).keys, [], 'the TTL went with the transaction put');
  const r = d.run({ kind: CommandKind.LeaseRevoke, id });
  assert.equal((r as { keys: number }).keys, 0, 'the detached keys are not deleted with the lease');
  d.put('b', 'again');
  assert.ok(d.sm.get(b('a')) && d.sm.get(b('b')) && d.sm.get(b('t')));
});

test("with auth enabled, the leader's own expiry entries (no principal) still apply; a client's lease command checked at an older auth revision is refused", () => {
  const sm = new KvStateMachine();
  let index = 0;
  const at = (command: Parameters<typeof applyCommand>[2], principal?: { user: string | null; authRevision: number }) =>
    applyCommand(sm, ++index, command, 1_000, principal);
  at({ kind: AuthCommandKind.UserAdd, name: 'root', password: null });
  const id = granted(at({ kind: CommandKind.LeaseGrant, id: 0, ttlMs: 1_000 }));
  at({ kind: CommandKind.Put, key: b('k'), value: b('v'), lease: id });
  at({ kind: AuthCommandKind.AuthEnable });
  assert.ok(sm.auth.revision > 0);
  // A grant checked before auth was enabled (revision 0) is refused on apply, changing nothing.
  const stale = at({ kind: CommandKind.LeaseGrant, id: 0, ttlMs: 1_000 }, { user: null, authRevision: 0 });
  assert.equal(stale.kind, ResultKind.Error);
  assert.equal(sm.leaseCount, 1);
  // The expirer's entry acts for no user: it applies once the lease is due.
  const r = applyCommand(sm, ++index, { kind: CommandKind.LeaseExpire, leases: [id], keys: [] }, 3_000, { user: null, authRevision: 0 });
  assert.equal(r.kind, ResultKind.LeaseDeleted);
  assert.equal(sm.leaseCount, 0);
  assert.equal(sm.get(b('k')), null);
});
