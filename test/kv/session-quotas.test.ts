/**
 * Session bounds of the state machine (issue 12 §3; src/kv/session-quotas.ts):
 * per-user quotas on live sessions and saved-result bytes, the byte budget of
 * the whole table, the compact saved results, and their snapshot form.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AuthCommandKind as K,
  CommandKind,
  KvErrorCode,
  KvStateMachine,
  ResultKind,
  SessionTableFullError,
  UserQuotaExceededError,
  VersionMismatchError,
  compactResult,
  encodeApplyResult,
  expandResult,
  savedResultBytes,
  savedResultBytesBound,
  sessionBaseBytes,
  type ApplyResult,
  type KvOptions,
} from '../../src/kv/index.js';
import { Driver, b } from './helpers.js';

function errorOf(result: ApplyResult) {
  assert.equal(result.kind, ResultKind.Error, `expected an error, got ${JSON.stringify(result)}`);
  return (result as { error: Error & { code: string; details: Record<string, unknown> } }).error;
}

function open(d: Driver, ttlMs = 0): ApplyResult {
  return d.run({ kind: CommandKind.OpenSession, ttlMs });
}

function idOf(result: ApplyResult): number {
  assert.equal(result.kind, ResultKind.SessionOpened, JSON.stringify(result));
  return (result as { sessionId: number }).sessionId;
}

/** A driver with users root, alice and bob, and auth enabled (the state machine does not authorize: the server does). */
function authDriver(options: Partial<KvOptions> = {}): Driver {
  const d = new Driver(options);
  for (const name of ['root', 'alice', 'bob']) assert.equal(d.run({ kind: K.UserAdd, name, password: null }).kind, ResultKind.Ok);
  assert.equal(d.run({ kind: K.AuthEnable }).kind, ResultKind.Ok);
  return d;
}

test('sessionsPerUserMax: a user past its quota is refused with an error naming it; another user still opens and writes', () => {
  const d = authDriver({ sessionsPerUserMax: 3 });
  d.user = 'alice';
  for (let i = 0; i < 3; i++) idOf(open(d));
  const refused = errorOf(open(d));
  assert.ok(refused instanceof UserQuotaExceededError);
  assert.deepEqual(refused.details, { user: 'alice', quota: 'sessionsPerUserMax', limit: 3 });
  assert.match(refused.message, /user "alice" reached its quota sessionsPerUserMax \(3\)/);

  d.user = 'bob';
  const s = idOf(open(d));
  assert.equal(d.put('k', 'v', { session: { sessionId: s, seq: 1, ackedSeq: 0 } }).kind, ResultKind.Write);
  assert.deepEqual(d.sm.sessionUsageOf('alice').sessions, 3);
  assert.deepEqual(d.sm.sessionUsageOf('bob').sessions, 1);

  // Closing one of alice's sessions frees its slot.
  d.user = 'alice';
  const aliceFirst = 5; // the first session alice opened: after 3 user adds and auth enable
  assert.equal(d.run({ kind: CommandKind.CloseSession, sessionId: aliceFirst }).kind, ResultKind.SessionClosed);
  idOf(open(d));
});

test('with auth disabled every client is the anonymous owner: one quota for all, whatever user an entry names', () => {
  const d = new Driver({ sessionsPerUserMax: 2 });
  d.user = 'alice';
  idOf(open(d));
  d.user = 'bob';
  idOf(open(d));
  const refused = errorOf(open(d));
  assert.ok(refused instanceof UserQuotaExceededError);
  assert.deepEqual(refused.details, { user: '', quota: 'sessionsPerUserMax', limit: 2 });
  assert.match(refused.message, /anonymous clients/);
  assert.equal(d.sm.sessionUsageOf('').sessions, 2);
  // The global bound still applies on top, and first.
  const g = new Driver({ sessionsMax: 1 });
  idOf(open(g));
  assert.equal(errorOf(open(g)).code, KvErrorCode.SessionsFull);
});

test('sessionResultBytesPerUserMax: saved results of one user are bounded strictly; the refused write changes nothing; acknowledging frees room', () => {
  const keyBytesMax = 16;
  const bound = savedResultBytesBound({ keyBytesMax });
  const perResult = savedResultBytes(compactResult({ kind: ResultKind.Write, version: 1, createRevision: 10, modRevision: 10 }).length);
  const quota = bound + 3 * perResult;
  const d = authDriver({ keyBytesMax, sessionResultBytesPerUserMax: quota });
  d.user = 'alice';
  const s = idOf(open(d));
  let seq = 0;
  // Admitted while the worst case still fits: used + bound <= quota.
  while (d.sm.sessionUsageOf('alice').resultBytes + bound <= quota) {
    seq++;
    assert.equal(d.put(`k${seq}`, 'v', { session: { sessionId: s, seq, ackedSeq: 0 } }).kind, ResultKind.Write);
  }
  assert.equal(seq, 4);
  const refused = errorOf(d.put('over', 'v', { session: { sessionId: s, seq: seq + 1, ackedSeq: 0 } }));
  assert.ok(refused instanceof UserQuotaExceededError);
  assert.deepEqual(refused.details, { user: 'alice', quota: 'sessionResultBytesPerUserMax', limit: quota });
  assert.equal(d.sm.get(b('over')), null, 'the refused write was not applied');
  assert.ok(d.sm.sessionUsageOf('alice').resultBytes <= quota);

  // bob is not affected.
  d.user = 'bob';
  const t = idOf(open(d));
  assert.equal(d.put('bob', 'v', { session: { sessionId: t, seq: 1, ackedSeq: 0 } }).kind, ResultKind.Write);

  // alice acknowledges everything: the same seq now applies.
  d.user = 'alice';
  assert.equal(d.put('over', 'v', { session: { sessionId: s, seq: seq + 1, ackedSeq: seq } }).kind, ResultKind.Write);
  assert.equal(d.sm.sessionUsageOf('alice').resultBytes, perResult);
});

test('sessionTableBytesMax: the whole table has a byte budget, for sessions and for results; closing frees it', () => {
  const keyBytesMax = 16;
  const base = sessionBaseBytes('');
  const d = new Driver({ keyBytesMax, sessionTableBytesMax: 3 * base + 10 });
  const ids = [idOf(open(d)), idOf(open(d)), idOf(open(d))];
  const full = errorOf(open(d));
  assert.ok(full instanceof SessionTableFullError);
  assert.deepEqual(full.details, { sessionTableBytesMax: 3 * base + 10 });
  assert.match(full.message, /sessionTableBytesMax/);
  assert.equal(d.sm.sessionBytes, 3 * base);
  // No room for a result either: the write is refused and not applied.
  assert.ok(errorOf(d.put('k', 'v', { session: { sessionId: ids[0]!, seq: 1, ackedSeq: 0 } })) instanceof SessionTableFullError);
  assert.equal(d.sm.get(b('k')), null);
  // A write without a session saves nothing and is not bounded by the table.
  assert.equal(d.put('k', 'v').kind, ResultKind.Write);
  d.run({ kind: CommandKind.CloseSession, sessionId: ids[1]! });
  assert.equal(d.sm.sessionBytes, 2 * base);
  idOf(open(d));
});

test('byte accounting follows every change and expiry, and a restored replica counts the same bytes', () => {
  const d = authDriver({ keyBytesMax: 64, sessionTtlMinMs: 1_000 });
  const sessions: number[] = [];
  for (const user of ['alice', 'bob', 'alice']) {
    d.user = user;
    sessions.push(idOf(open(d, 1_000)));
  }
  d.user = 'alice';
  let seq = 0;
  for (let i = 0; i < 20; i++) {
    seq++;
    d.put(`k${i % 3}`, `v${i}`, { expectedVersion: i % 2, session: { sessionId: sessions[0]!, seq, ackedSeq: Math.max(0, seq - 5) } });
  }
  const recount = (sm: KvStateMachine) => {
    const snapshotOf = sm.snapshot();
    return { bytes: sm.sessionBytes, alice: sm.sessionUsageOf('alice'), bob: sm.sessionUsageOf('bob'), format: snapshotOf.formatVersion };
  };
  const before = recount(d.sm);
  assert.equal(before.format, 3, 'sessions with owners: format 3');
  assert.equal(before.alice.sessions, 2);
  assert.ok(before.alice.resultBytes > 0);
  const copy = new KvStateMachine({ keyBytesMax: 64, sessionTtlMinMs: 1_000 });
  copy.restore(d.sm.snapshot());
  assert.deepEqual(recount(copy), before);
  assert.deepEqual(copy.snapshot().toBytes(), d.sm.snapshot().toBytes(), 'byte-identical after a round trip');

  // Expiry releases every byte.
  d.nowMs += 10_000;
  d.run({ kind: CommandKind.Noop });
  assert.equal(d.sm.sessionCount, 0);
  assert.equal(d.sm.sessionBytes, 0);
  assert.deepEqual(d.sm.sessionUsageOf('alice'), { sessions: 0, resultBytes: 0 });
});

test('saved results are compact: the result codec bytes, not Error objects; a retry gets the same typed error back', () => {
  const error = new VersionMismatchError({ key: b('k'), expectedVersion: 2, expectedModRevision: null, actualVersion: 1, actualModRevision: 7 });
  const compact = compactResult({ kind: ResultKind.Error, error });
  assert.equal(typeof compact, 'string');
  assert.ok(compact.length < 120, `an error saves in ${compact.length} bytes`);
  const back = expandResult(compact);
  assert.equal(back.kind, ResultKind.Error);
  assert.ok((back as { error: unknown }).error instanceof VersionMismatchError);
  assert.deepEqual((back as { error: { details: unknown } }).error.details, error.details);
  assert.equal((back as { error: Error }).error.message, error.message);
  for (const result of [
    { kind: ResultKind.Write, version: 3, createRevision: 1, modRevision: 2 ** 40 },
    { kind: ResultKind.Delete, deleted: true, revision: 9 },
    { kind: ResultKind.Ok },
  ] as ApplyResult[]) {
    assert.deepEqual(expandResult(compactResult(result)), result);
  }

  // Through a snapshot (format 3), a retried failed write replays the same typed error.
  const d = authDriver();
  d.user = 'alice';
  const s = idOf(open(d));
  d.put('k', 'v', { session: { sessionId: s, seq: 1, ackedSeq: 0 } });
  const failed = errorOf(d.put('k', 'w', { expectedVersion: 5, session: { sessionId: s, seq: 2, ackedSeq: 1 } }));
  const replica = new KvStateMachine();
  replica.restore(d.sm.snapshot());
  const r = new Driver();
  Object.assign(r, { sm: replica });
  r.user = 'alice';
  const replayed = errorOf(r.put('k', 'other', { session: { sessionId: s, seq: 2, ackedSeq: 1 } }));
  assert.ok(replayed instanceof VersionMismatchError);
  assert.deepEqual(replayed.details, failed.details);
  assert.equal(replica.sessionUsageOf('alice').sessions, 1, 'the owner survived the snapshot');
});

test('snapshots are format 3 whatever the state: no AUTH block while auth was never used, owners kept; each restores', () => {
  const blockKinds = (snap: Iterable<Uint8Array>): number[] => {
    const bytes = Buffer.concat([...snap]);
    const kinds: number[] = [];
    for (let off = 5; off < bytes.length; ) {
      const length = bytes.readUInt32BE(off);
      kinds.push(bytes[off + 4]!);
      off += 4 + length + 4;
    }
    return kinds;
  };
  const AUTH_BLOCK = 5;
  const plain = new Driver();
  const s = idOf(open(plain));
  plain.put('k', 'v', { session: { sessionId: s, seq: 1, ackedSeq: 0 } });
  assert.equal(plain.sm.snapshot().formatVersion, 3);
  assert.ok(!blockKinds(plain.sm.snapshot()).includes(AUTH_BLOCK), 'no AUTH block while the auth state is pristine');

  const anonymous = new Driver();
  anonymous.run({ kind: K.UserAdd, name: 'root', password: null });
  const t = idOf(open(anonymous));
  anonymous.put('k', 'v', { session: { sessionId: t, seq: 1, ackedSeq: 0 } });
  assert.equal(anonymous.sm.snapshot().formatVersion, 3);
  assert.ok(blockKinds(anonymous.sm.snapshot()).includes(AUTH_BLOCK), 'auth used: an AUTH block');

  const owned = authDriver();
  owned.user = 'bob';
  idOf(open(owned));
  assert.equal(owned.sm.snapshot().formatVersion, 3);

  for (const d of [plain, anonymous, owned]) {
    const copy = new KvStateMachine();
    copy.restore(d.sm.snapshot());
    assert.deepEqual(copy.snapshot().toBytes(), d.sm.snapshot().toBytes());
    assert.equal(copy.sessionBytes, d.sm.sessionBytes);
  }
  const copy = new KvStateMachine();
  copy.restore(owned.sm.snapshot());
  assert.equal(copy.sessionUsageOf('bob').sessions, 1, 'the owner survived the snapshot');
});

test('the compact form of a write is exactly the result codec bytes, at every varint length', () => {
  for (const n of [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
    const result: ApplyResult = { kind: ResultKind.Write, version: n, createRevision: n, modRevision: n };
    const compact = compactResult(result);
    assert.deepEqual(Uint8Array.from(compact, (c) => c.charCodeAt(0)), encodeApplyResult(result), `n = ${n}`);
    assert.deepEqual(expandResult(compact), result);
  }
});
