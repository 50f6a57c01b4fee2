import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AuthCommandKind,
  CommandKind,
  CorruptSnapshotError,
  KvStateMachine,
  ResultKind,
  encodeCommand,
  type Command,
  type KvOptions,
} from '../../src/kv/index.js';
import { Driver, b, concat, dumpEntries, text } from './helpers.js';

const options: Partial<KvOptions> = {
  sessionsMax: 3,
  sessionResultsMax: 4,
  sessionTtlMs: 3_000,
  sessionTtlMinMs: 1_000,
  sessionTtlMaxMs: 10_000,
  snapshotChunkBytes: 256,
};

// ------------------------------------------------------------ random logs

type Action =
  | { t: 'put' | 'update' | 'del'; key: number; value: number; cond: number | null; client: number; seq: 'new' | 'retry' | 'old'; ack: boolean }
  | { t: 'open'; ttlMs: number }
  | { t: 'close' | 'keepAlive'; client: number }
  | { t: 'time'; ms: number }
  | { t: 'noop' | 'empty' | 'garbage' };

const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      t: fc.constantFrom('put' as const, 'update' as const, 'del' as const),
      key: fc.integer({ min: 0, max: 12 }),
      value: fc.integer({ min: 0, max: 400 }),
      cond: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 4 }) }),
      client: fc.integer({ min: -1, max: 3 }),
      // A client sends a new write, retries its latest, or (a buggy client) retries an acknowledged one.
      seq: fc.constantFrom('new' as const, 'new' as const, 'retry' as const, 'old' as const),
      ack: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('open' as const), ttlMs: fc.integer({ min: 0, max: 12_000 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constantFrom('close' as const, 'keepAlive' as const), client: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('time' as const), ms: fc.integer({ min: -500, max: 2_500 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constantFrom('noop' as const, 'empty' as const, 'garbage' as const) }) },
);

/** Turns actions into log entries the way clients and a leader would (session ids are entry indexes). */
function buildLog(actions: readonly Action[]): Uint8Array[] {
  const log: Uint8Array[] = [];
  const sessions: { id: number; lastSeq: number; lastAcked: number }[] = [];
  let nowMs = 1_000_000;
  const push = (command: Command): void => {
    log.push(encodeCommand(command, nowMs));
  };
  for (const a of actions) {
    switch (a.t) {
      case 'put':
      case 'update':
      case 'del': {
        const key = Uint8Array.of(0x6b, 0xf0 + a.key); // includes keys with high bytes
        const value = new Uint8Array(a.value).fill(a.key);
        const s = a.client >= 0 ? sessions[a.client % Math.max(1, sessions.length)] : undefined;
        let session;
        if (s) {
          if (a.seq === 'old' && s.lastAcked > 0) {
            session = { sessionId: s.id, seq: s.lastAcked, ackedSeq: s.lastAcked - 1 };
          } else {
            if (!(a.seq === 'retry' && s.lastSeq > 0)) {
              s.lastAcked = a.ack ? s.lastSeq : s.lastAcked;
              s.lastSeq++;
            }
            session = { sessionId: s.id, seq: s.lastSeq, ackedSeq: s.lastAcked };
          }
        }
        const extra = { ...(session ? { session } : {}), ...(a.cond !== null ? { expectedVersion: a.cond } : {}) };
        if (a.t === 'del') push({ kind: CommandKind.Delete, key, ...extra });
        else push({ kind: a.t === 'put' ? CommandKind.Put : CommandKind.Update, key, value, ...extra });
        break;
      }
      case 'open':
        push({ kind: CommandKind.OpenSession, ttlMs: a.ttlMs });
        sessions.push({ id: log.length, lastSeq: 0, lastAcked: 0 });
        break;
      case 'close':
      case 'keepAlive': {
        const s = sessions[a.client % Math.max(1, sessions.length)];
        push({ kind: a.t === 'close' ? CommandKind.CloseSession : CommandKind.KeepAlive, sessionId: s?.id ?? 999 });
        break;
      }
      case 'time':
        nowMs = Math.max(0, nowMs + a.ms);
        break;
      case 'noop':
        push({ kind: CommandKind.Noop });
        break;
      case 'empty':
        log.push(new Uint8Array(0));
        break;
      case 'garbage':
        log.push(Uint8Array.of(1, 200, 3));
        break;
    }
  }
  return log;
}

function replay(log: readonly Uint8Array[], from = 0, sm = new KvStateMachine(options)): KvStateMachine {
  for (let i = from; i < log.length; i++) sm.apply(i + 1, log[i]!);
  return sm;
}

const snapshotBytes = (sm: KvStateMachine): Uint8Array => sm.snapshot().toBytes();

// ------------------------------------------------------------ tests

test('determinism: two state machines fed the same entries produce byte-identical snapshots', () => {
  const outcomes = new Map<string, number>();
  fc.assert(
    fc.property(fc.array(action, { maxLength: 150, size: 'max' }), (actions) => {
      const log = buildLog(actions);
      const one = new KvStateMachine(options);
      const seen = new Set<object>();
      log.forEach((data, i) => {
        const result = one.apply(i + 1, data);
        const outcome = seen.has(result) ? 'replayed' : result.kind === ResultKind.Error ? result.error.code : result.kind;
        seen.add(result);
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      });
      const two = replay(log);
      assert.deepEqual(snapshotBytes(one), snapshotBytes(two));
    }),
    { numRuns: 100 },
  );
  if (process.env.KV_TEST_STATS) console.log(JSON.stringify([...outcomes]));
  // The generated logs must reach every interesting path, or this test proves little.
  for (const outcome of [
    'replayed',
    'write',
    'delete',
    'sessionOpened',
    'sessionClosed',
    'CONCORD_ERR_SESSION_EXPIRED',
    'CONCORD_ERR_STALE_SEQUENCE',
    'CONCORD_ERR_SESSION_RESULTS_FULL',
    'CONCORD_ERR_SESSIONS_FULL',
    'CONCORD_ERR_VERSION_MISMATCH',
    'CONCORD_ERR_KEY_NOT_FOUND',
    'CONCORD_ERR_INVALID_COMMAND',
  ]) {
    assert.ok((outcomes.get(outcome) ?? 0) > 0, `no generated log produced ${outcome}: ${JSON.stringify([...outcomes])}`);
  }
});

test('property: a snapshot taken mid-way while applies continue restores the state at snapshot time', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(action, { maxLength: 150, size: 'max' }),
      fc.nat(),
      fc.integer({ min: 1, max: 700 }),
      async (actions, cut, readSize) => {
        const log = buildLog(actions);
        const at = log.length === 0 ? 0 : cut % (log.length + 1);
        const live = replay(log.slice(0, at));
        const snap = live.snapshot();
        assert.equal(snap.appliedIndex, at);
        replay(log, at, live); // the live machine moves on while the snapshot is pending

        const atSnapshotTime = replay(log.slice(0, at));
        const chunks = [...snap];
        for (const c of chunks) assert.ok(c.length <= options.snapshotChunkBytes!, 'chunks are bounded');
        // Restore from chunks re-cut to an unrelated size, as storage would hand them back.
        const all = concat(chunks);
        assert.equal(snap.byteLength(), all.length, 'byteLength() is the exact length of the stream (announced before a backup)');
        assert.equal(snap.keys, atSnapshotTime.keyCount);
        const recut = async function* () {
          for (let off = 0; off < all.length; off += readSize) yield all.subarray(off, off + readSize);
        };
        const restored = new KvStateMachine(options);
        await restored.restoreAsync(recut());
        assert.equal(restored.appliedIndex, at);
        assert.equal(restored.clockMs, atSnapshotTime.clockMs);
        assert.deepEqual(dumpEntries(restored), dumpEntries(atSnapshotTime));
        assert.deepEqual(snapshotBytes(restored), snapshotBytes(atSnapshotTime));

        // Sessions and saved results came along: the rest of the log plays out identically.
        replay(log, at, restored);
        assert.deepEqual(snapshotBytes(restored), snapshotBytes(live));
      },
    ),
    { numRuns: 150 },
  );
});

test('byteLength() is exact for every chunk size, with large values and auth state', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 3000 })), { maxLength: 80 }),
      fc.integer({ min: 64, max: 4096 }),
      fc.boolean(),
      (puts, chunkBytes, auth) => {
        const sm = new KvStateMachine({ ...options, snapshotChunkBytes: chunkBytes, sessionsMax: 10, sessionResultsMax: 100 });
        let index = 0;
        sm.apply(++index, encodeCommand({ kind: CommandKind.OpenSession, ttlMs: 5_000 }, 1_000));
        let seq = 0;
        for (const [key, valueBytes] of puts) {
          seq++;
          sm.apply(++index, encodeCommand({ kind: CommandKind.Put, key: b(`k${key}`), value: new Uint8Array(valueBytes).fill(7), session: { sessionId: 1, seq, ackedSeq: seq - 1 } }, 1_000));
        }
        if (auth) sm.apply(++index, encodeCommand({ kind: AuthCommandKind.RoleAdd, name: 'reader' }, 1_000));
        const snap = sm.snapshot();
        assert.equal(snap.byteLength(), snap.toBytes().length);
      },
    ),
    { numRuns: 200 },
  );
});

test('restored sessions answer retries with their saved results and keep their deadlines', () => {
  const d = new Driver({ sessionTtlMinMs: 1_000 });
  const s = d.openSession(5_000);
  const first = d.put('k', 'v', { session: { sessionId: s, seq: 1, ackedSeq: 0 } });
  const failed = d.put('k', 'w', { expectedVersion: 7, session: { sessionId: s, seq: 2, ackedSeq: 0 } });
  const restored = new KvStateMachine({ sessionTtlMinMs: 1_000 });
  restored.restore(d.sm.snapshot());
  const retry = (seq: number, leaderTimeMs: number) =>
    restored.apply(
      restored.appliedIndex + 1,
      encodeCommand({ kind: CommandKind.Put, key: b('k'), value: b('v'), session: { sessionId: s, seq, ackedSeq: 0 } }, leaderTimeMs),
    );
  assert.deepEqual(retry(1, d.nowMs), first);
  const replayedError = retry(2, d.nowMs);
  assert.equal(replayedError.kind, ResultKind.Error);
  assert.equal((replayedError as { error: Error }).error.message, (failed as { error: Error }).error.message);
  assert.equal(restored.get(b('k'))!.version, 1);
  assert.equal(retry(3, d.nowMs + 5_001).kind, ResultKind.Error, 'expires on schedule after restore');
  assert.equal(restored.sessionCount, 0);
});

test('a snapshot is a frozen view: overwrites and deletes after it do not show, and it can be read twice', () => {
  const d = new Driver({ snapshotChunkBytes: 128 });
  for (let i = 0; i < 50; i++) d.put(`key${i}`, `value${i}`);
  const snap = d.sm.snapshot();
  const once = concat(snap);
  for (let i = 0; i < 50; i++) {
    if (i % 2) d.del(`key${i}`);
    else d.put(`key${i}`, 'changed');
  }
  d.put('zzz', 'new');
  assert.deepEqual(concat(snap), once);
  const restored = new KvStateMachine();
  restored.restore(snap);
  assert.equal(restored.keyCount, 50);
  assert.equal(text(restored.get(b('key7'))!.value), 'value7');
  assert.equal(restored.get(b('zzz')), null);
  assert.equal(restored.appliedIndex, 50);
});

test('large values span several bounded chunks; many keys span several blocks', () => {
  const d = new Driver({ snapshotChunkBytes: 1024 });
  d.put('big', new Uint8Array(10_000).map((_, i) => i & 0xff));
  for (let i = 0; i < 300; i++) d.put(`k${i}`, `v${i}`);
  const chunks = [...d.sm.snapshot()];
  assert.ok(chunks.length > 15);
  for (const c of chunks) assert.ok(c.length <= 1024);
  const restored = new KvStateMachine({ snapshotChunkBytes: 1024 });
  const r = restored.beginRestore();
  for (const byte of concat(chunks)) r.push(Uint8Array.of(byte)); // one byte at a time
  r.finish();
  assert.deepEqual(restored.get(b('big'))!.value, d.sm.get(b('big'))!.value);
  assert.deepEqual(dumpEntries(restored), dumpEntries(d.sm));
});

test('an empty state round-trips', () => {
  const sm = new KvStateMachine();
  const other = new Driver();
  other.put('k', 'v');
  other.sm.restore(sm.snapshot());
  assert.equal(other.sm.keyCount, 0);
  assert.equal(other.sm.appliedIndex, 0);
  assert.equal(other.sm.clockMs, 0);
});

/** A state with entries, sessions and saved results of every kind. */
function richState(): Driver {
  const d = new Driver({ snapshotChunkBytes: 200 });
  const s = d.openSession();
  for (let i = 0; i < 20; i++) d.put(Uint8Array.of(0xff, i), `value-${i}`);
  d.put('k', 'v', { session: { sessionId: s, seq: 1, ackedSeq: 0 } });
  d.update('missing', 'v', { session: { sessionId: s, seq: 2, ackedSeq: 0 } });
  d.del('k', { expectedVersion: 9, session: { sessionId: s, seq: 3, ackedSeq: 0 } });
  d.del('nothing', { session: { sessionId: s, seq: 4, ackedSeq: 0 } });
  d.openSession(120_000);
  return d;
}

function expectCorrupt(bytes: Uint8Array, pattern?: RegExp): void {
  const target = new Driver();
  target.put('keep', 'me');
  const before = snapshotBytes(target.sm);
  assert.throws(
    () => target.sm.restore([bytes]),
    (err: unknown) => {
      assert.ok(err instanceof CorruptSnapshotError, `expected CorruptSnapshotError, got ${String(err)}`);
      assert.equal(err.code, 'CONCORD_ERR_CORRUPT_SNAPSHOT');
      if (pattern) assert.match(err.message, pattern);
      return true;
    },
  );
  assert.deepEqual(snapshotBytes(target.sm), before, 'a failed restore leaves the state unchanged');
}

test('every single-bit flip anywhere in a snapshot is rejected, and the target state is left unchanged', () => {
  const good = snapshotBytes(richState().sm);
  new KvStateMachine().restore([good]); // the unflipped bytes are fine
  for (let i = 0; i < good.length; i++) {
    for (const bit of [0, 3, 7]) {
      const bad = good.slice();
      bad[i]! ^= 1 << bit;
      expectCorrupt(bad);
    }
  }
});

test('truncation, trailing bytes, bad magic, unknown versions and reordered blocks are rejected', () => {
  const snap = richState().sm.snapshot();
  const chunks = [...snap];
  const good = concat(chunks);
  for (let n = 0; n < good.length; n += 7) expectCorrupt(good.subarray(0, n));
  expectCorrupt(good.subarray(0, good.length - 1), /truncated/);
  expectCorrupt(concat([good, Uint8Array.of(0)]), /after the END block/);
  expectCorrupt(concat([good, good]), /after the END block/);
  const magic = good.slice();
  magic[0] = 0x58;
  expectCorrupt(magic, /bad magic/);
  const version = good.slice();
  version[4] = 5; // 1, 2 (the AUTH block), 3 (store revision, leases, session owners) and 4 (compaction revision) are known
  expectCorrupt(version, /format version 5/);
  // Chunks are whole blocks here (the first also carries the header): swap two ENTRIES blocks.
  assert.ok(chunks.length >= 5);
  const swapped = [chunks[0]!, chunks[2]!, chunks[1]!, ...chunks.slice(3)];
  expectCorrupt(concat(swapped), /out of order/);
  const dropped = [chunks[0]!, ...chunks.slice(2)];
  expectCorrupt(concat(dropped), /entries, META says|out of order/);
  const repeated = [chunks[0]!, chunks[1]!, chunks[1]!, ...chunks.slice(2)];
  expectCorrupt(concat(repeated), /out of order|more entries/);
  expectCorrupt(concat([chunks[1]!]), /bad magic/);
  expectCorrupt(new Uint8Array(0), /truncated/);
});

test('a reader that failed refuses further input', () => {
  const sm = new KvStateMachine();
  const r = sm.beginRestore();
  assert.throws(() => r.push(Uint8Array.of(1, 2, 3, 4, 5)), CorruptSnapshotError);
  assert.throws(() => r.push(Uint8Array.of(1)), CorruptSnapshotError);
  assert.throws(() => r.finish(), CorruptSnapshotError);
});

test('restoreAsync stops when its signal aborts, leaving the state unchanged', async () => {
  const source = richState().sm.snapshot();
  const target = new Driver();
  target.put('keep', 'me');
  const controller = new AbortController();
  let n = 0;
  async function* chunks() {
    for (const c of source) {
      if (++n === 3) controller.abort(new Error('stop'));
      yield c;
    }
  }
  await assert.rejects(target.sm.restoreAsync(chunks(), { signal: controller.signal }), /stop/);
  assert.equal(text(target.sm.get(b('keep'))!.value), 'me');
  assert.equal(target.sm.appliedIndex, 1);
});
