import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CommandKind,
  KeyNotFoundError,
  KvError,
  KvStateMachine,
  UserQuotaExceededError,
  defaultKvOptions,
  savedResultBytesBound,
  commandProblem,
  ResultKind,
  TXN_DEPTH_MAX,
  TxnTooLargeError,
  decodeApplyResult,
  decodeCommand,
  encodeApplyResult,
  encodeCommand,
  type ApplyResult,
  type SessionRef,
  type TxnBody,
  type TxnCompare,
  type TxnOp,
  type TxnResult,
} from '../../src/kv/index.js';
import { Driver, b, text } from './helpers.js';
import { applyCommand } from '../../src/testing/kv-apply.js';
import { TxnModel, normalize } from './txn-model.js';

const txn = (body: Partial<TxnBody> & { session?: SessionRef }) => ({
  kind: CommandKind.Txn,
  compare: body.compare ?? [],
  success: body.success ?? [],
  failure: body.failure ?? [],
  ...(body.session !== undefined ? { session: body.session } : {}),
});
const put = (key: string, value: string): TxnOp => ({ type: 'put', key: b(key), value: b(value) });
const asTxn = (r: ApplyResult): TxnResult => {
  assert.equal(r.kind, ResultKind.Txn, `expected a txn result, got ${JSON.stringify(r)}`);
  return r as TxnResult;
};
const FROM_KEY = Uint8Array.of(0);

// ---------------------------------------------------------------- compares

const targets = ['value', 'version', 'createRevision', 'modRevision', 'lease'] as const;
const ops = ['=', '!=', '<', '>'] as const;

test('every compare target x operator x (present, missing) against the model', () => {
  // k: created at revision 2, written again at 3 (version 2); other keys around it.
  const d = new Driver();
  const model = new TxnModel();
  for (const [k, v] of [['a', '1'], ['k', 'm'], ['k', 'n'], ['z', '9']] as const) {
    d.put(k, v);
    model.put(k, v);
  }
  assert.equal(d.sm.revision, 4);
  let cases = 0;
  for (const key of ['k', 'missing']) {
    for (const target of targets) {
      // Operands below, at and above the key's own value (k: value "n", version 2, createRevision 2, modRevision 3, lease 0).
      const operands: (number | string)[] =
        target === 'value' ? ['', 'm', 'n', 'o', 'n\u0000'] : target === 'version' ? [0, 1, 2, 3] : target === 'lease' ? [0, 1] : [0, 1, 2, 3, 4];
      for (const op of ops) {
        for (const operand of operands) {
          const compare = (target === 'value'
            ? { key: b(key), target, op, value: b(operand as string) }
            : { key: b(key), target, op, [target]: operand }) as TxnCompare;
          const body = { compare: [compare], success: [{ type: 'get', key: b('a') } as TxnOp], failure: [] };
          const got = asTxn(d.run(txn(body)));
          const expected = model.txn(body);
          assert.deepEqual(normalize(got), expected, `${key} ${target} ${op} ${JSON.stringify(operand)}`);
          // And the read path gives the same answer without the log.
          assert.deepEqual(normalize(d.sm.readTxn(body)), expected);
          cases++;
        }
      }
    }
  }
  assert.ok(cases > 150);
  // Spot checks of the semantics the docs promise.
  const holds = (c: TxnCompare) => d.sm.readTxn({ compare: [c], success: [], failure: [] }).succeeded;
  assert.equal(holds({ key: b('missing'), target: 'createRevision', op: '=', createRevision: 0 }), true, 'createRevision 0 means absent');
  assert.equal(holds({ key: b('missing'), target: 'value', op: '!=', value: b('x') }), false, 'a value compare on a missing key is false');
  assert.equal(holds({ key: b('missing'), target: 'value', op: '=', value: new Uint8Array(0) }), false, 'missing is not the empty value');
  assert.equal(holds({ key: b('k'), target: 'version', op: '=', version: 2 }), true);
  assert.equal(holds({ key: b('k'), target: 'lease', op: '=', lease: 0 }), true, 'a key without lease compares as lease 0');
});

test('range compares hold for every existing key of the range; an empty range compares as a missing key', () => {
  const d = new Driver();
  for (const k of ['p/a', 'p/b', 'p/c', 'q']) d.put(k, 'v');
  d.put('p/b', 'w'); // version 2
  const holds = (c: TxnCompare) => d.sm.readTxn({ compare: [c], success: [], failure: [] }).succeeded;
  const prefix = { key: b('p/'), rangeEnd: b('p0') };
  assert.equal(holds({ ...prefix, target: 'version', op: '>', version: 0 }), true);
  assert.equal(holds({ ...prefix, target: 'version', op: '=', version: 1 }), false, 'p/b is at version 2');
  assert.equal(holds({ ...prefix, target: 'value', op: '=', value: b('v') }), false);
  assert.equal(holds({ ...prefix, target: 'value', op: '<', value: b('x') }), true);
  assert.equal(holds({ key: b('p/a'), rangeEnd: b('p/b'), target: 'value', op: '=', value: b('v') }), true, 'rangeEnd is exclusive');
  assert.equal(holds({ key: b('p/'), rangeEnd: FROM_KEY, target: 'createRevision', op: '>', createRevision: 0 }), true, 'from key on: includes q');
  assert.equal(holds({ key: b('r'), rangeEnd: b('s'), target: 'createRevision', op: '=', createRevision: 0 }), true, 'empty range: as missing');
  assert.equal(holds({ key: b('r'), rangeEnd: b('s'), target: 'value', op: '!=', value: b('x') }), false, 'empty range: value compare false');
  assert.equal(holds({ key: new Uint8Array(0), rangeEnd: FROM_KEY, target: 'modRevision', op: '<', modRevision: 6 }), true, 'every key');
});

// ---------------------------------------------------------------- ops, revision, atomicity

test('a transaction takes one revision for all its writes; reads see the writes before them; read-only and failed ones take none', () => {
  const d = new Driver();
  d.openSession(); // index 1, no revision
  const r = asTxn(
    d.run(
      txn({
        compare: [{ key: b('lock'), target: 'createRevision', op: '=', createRevision: 0 }],
        success: [put('lock', 'me'), put('owner', 'me'), put('lock', 'me2'), { type: 'get', key: b('lock') }, { type: 'scan', key: b('l'), rangeEnd: b('p') }],
        failure: [{ type: 'get', key: b('lock') }],
      }),
    ),
  );
  assert.equal(r.succeeded, true);
  assert.equal(r.revision, 1);
  assert.equal(d.sm.revision, 1, 'one revision for three puts');
  assert.deepEqual(r.results.slice(0, 3), [
    { type: 'put', version: 1, createRevision: 1, modRevision: 1 },
    { type: 'put', version: 1, createRevision: 1, modRevision: 1 },
    { type: 'put', version: 2, createRevision: 1, modRevision: 1 },
  ]);
  const got = r.results[3] as { kv: { value: Uint8Array } };
  assert.equal(text(got.kv.value), 'me2', 'a get sees the puts before it');
  assert.equal((r.results[4] as unknown as { kvs: unknown[] }).kvs.length, 2);
  // The compare now fails: the failure branch reads, nothing changes.
  const again = asTxn(d.run(txn({ compare: [{ key: b('lock'), target: 'createRevision', op: '=', createRevision: 0 }], success: [put('lock', 'x')], failure: [{ type: 'get', key: b('lock') }] })));
  assert.equal(again.succeeded, false);
  assert.equal(again.revision, 1, 'a transaction that wrote nothing reports the current revision');
  assert.equal(d.sm.revision, 1);
  // Deleting nothing takes no revision either.
  assert.equal(asTxn(d.run(txn({ success: [{ type: 'delete', key: b('nothing'), rangeEnd: b('nothinh') }] }))).revision, 1);
  assert.equal(d.sm.revision, 1);
});

test('a failing op undoes every write before it: update of a missing key leaves the state and revision as they were', () => {
  const d = new Driver();
  d.put('a', '1');
  d.put('b', '1');
  const before = d.sm.snapshot().toBytes();
  const r = d.run(
    txn({
      success: [put('a', '2'), { type: 'delete', key: b('b') }, put('c', 'new'), { type: 'delete', key: new Uint8Array(0), rangeEnd: FROM_KEY }, { type: 'update', key: b('zz'), value: b('x') }],
    }),
  );
  assert.equal(r.kind, ResultKind.Error);
  assert.ok((r as { error: unknown }).error instanceof KeyNotFoundError);
  assert.equal(d.sm.revision, 2);
  assert.equal(text(d.sm.get(b('a'))!.value), '1');
  assert.equal(d.sm.get(b('c')), null);
  assert.equal(d.sm.get(b('a'))!.modRevision, 1, 'the very same entries are back');
  // Only the applied index differs from the snapshot before.
  const after = new KvStateMachine();
  after.restore([before]);
  assert.deepEqual(after.scan({ limit: 100 }).entries, d.sm.scan({ limit: 100 }).entries);
});

test('range deletes, prefix scans with limit and more, and nested transactions evaluated at their point', () => {
  const d = new Driver();
  for (let i = 0; i < 10; i++) d.put(`t/${i}`, `${i}`);
  d.put('u', 'keep');
  const r = asTxn(
    d.run(
      txn({
        success: [
          { type: 'scan', key: b('t/'), rangeEnd: b('t0'), limit: 3 },
          { type: 'delete', key: b('t/2'), rangeEnd: b('t/5') },
          {
            type: 'txn',
            // Sees the delete above: t/3 is gone now.
            compare: [{ key: b('t/3'), target: 'version', op: '=', version: 0 }],
            success: [put('nested', 'yes'), { type: 'txn', compare: [{ key: b('nested'), target: 'value', op: '=', value: b('yes') }], success: [{ type: 'get', key: b('nested') }], failure: [] }],
            failure: [put('nested', 'no')],
          },
          { type: 'scan', key: b('t/'), rangeEnd: b('t0') },
        ],
      }),
    ),
  );
  const [scan1, del, nested, scan2] = r.results as any[];
  assert.deepEqual(scan1.kvs.map((e: any) => text(e.key)), ['t/0', 't/1', 't/2']);
  assert.equal(scan1.more, true);
  assert.deepEqual(del, { type: 'delete', deleted: 3 });
  assert.equal(nested.succeeded, true);
  assert.equal(nested.results[1].succeeded, true);
  assert.equal(text(nested.results[1].results[0].kv.value), 'yes');
  assert.deepEqual(scan2.kvs.map((e: any) => text(e.key)), ['t/0', 't/1', 't/5', 't/6', 't/7', 't/8', 't/9']);
  assert.equal(scan2.more, false);
  assert.equal(d.sm.revision, 12, '11 puts, then one transaction');
});

// ---------------------------------------------------------------- exactly-once

test('a transaction retried with the same session seq returns its saved result and is applied once, across a snapshot too', () => {
  const d = new Driver();
  const s = d.openSession();
  const body = txn({ compare: [{ key: b('n'), target: 'version', op: '=', version: 0 }], success: [put('n', '1'), put('m', '1')], failure: [put('n', 'again')], session: { sessionId: s, seq: 1, ackedSeq: 0 } });
  const first = asTxn(d.run(body));
  assert.equal(first.succeeded, true);
  d.put('other', 'x');
  const retry = d.run(body);
  assert.deepEqual(retry, first, 'the saved result, back from its compact bytes');
  assert.equal(d.sm.get(b('n'))!.version, 1, 'applied once');
  assert.equal(d.sm.revision, 2);
  // The saved result survives a snapshot and answers the retry there.
  const copy = new KvStateMachine(d.sm.options);
  copy.restore([d.sm.snapshot().toBytes()]);
  const replay = copy.apply(copy.appliedIndex + 1, encodeCommand(body, d.nowMs));
  assert.deepEqual(normalize(replay), normalize(first));
  assert.equal(copy.get(b('n'))!.version, 1);
  assert.equal(copy.revision, 2);
  // A later seq runs (and fails its compare now).
  assert.equal(asTxn(d.run({ ...body, session: { sessionId: s, seq: 2, ackedSeq: 1 } })).succeeded, false);
});

// ---------------------------------------------------------------- bounds and validation

test('bounds: txnOpsMax counts compares and ops of every branch and nesting; txnBytesMax the entry; nesting depth; all name the limit', () => {
  const d = new Driver({ txnOpsMax: 10, txnBytesMax: 2_000 });
  const tooMany = d.run(txn({ compare: [{ key: b('a'), target: 'version', op: '=', version: 0 }], success: Array.from({ length: 5 }, (_, i) => put(`k${i}`, 'v')), failure: Array.from({ length: 5 }, (_, i) => put(`f${i}`, 'v')) }));
  assert.equal(tooMany.kind, ResultKind.Error);
  const e = (tooMany as unknown as { error: TxnTooLargeError }).error;
  assert.ok(e instanceof TxnTooLargeError);
  assert.deepEqual(e.details, { limit: 'txnOpsMax', max: 10, actual: 11 });
  assert.match(e.message, /txnOpsMax 10/);
  assert.equal(asTxn(d.run(txn({ success: Array.from({ length: 10 }, (_, i) => put(`k${i}`, 'v')) }))).succeeded, true, '10 ops fit');
  const nested = d.run(txn({ success: [{ type: 'txn', compare: [], success: Array.from({ length: 10 }, (_, i) => put(`n${i}`, 'v')), failure: [] }] }));
  assert.deepEqual((nested as unknown as { error: TxnTooLargeError }).error.details, { limit: 'txnOpsMax', max: 10, actual: 11 });
  const big = d.run(txn({ success: [put('big', 'x'.repeat(2_000))] }));
  assert.equal((big as unknown as { error: TxnTooLargeError }).error.details.limit, 'txnBytesMax');
  assert.equal(d.sm.get(b('big')), null);
  // Nesting beyond TXN_DEPTH_MAX is refused (decoding bounds the recursion).
  let deep: TxnBody = { compare: [], success: [], failure: [] };
  for (let i = 0; i < TXN_DEPTH_MAX + 1; i++) deep = { compare: [], success: [{ type: 'txn', ...deep }], failure: [] };
  const wide = new Driver({ txnOpsMax: 1000 });
  const deepResult = wide.run(txn(deep));
  assert.equal(deepResult.kind, ResultKind.Error);
  assert.match((deepResult as { error: Error }).error.message, /nested deeper|txnDepthMax/);
});

test('a session may hold at most sessionResultBytesMax of unacknowledged transaction results; acknowledging frees them', () => {
  const d = new Driver({ sessionResultBytesMax: 3_000 });
  const s = d.openSession();
  d.put('big', 'x'.repeat(1_000));
  const read = (seq: number, ackedSeq: number) => d.run(txn({ success: [put('w', `${seq}`), { type: 'get', key: b('big') }], session: { sessionId: s, seq, ackedSeq } }));
  assert.equal(read(1, 0).kind, ResultKind.Txn);
  assert.equal(read(2, 0).kind, ResultKind.Txn);
  const over = read(3, 0);
  assert.equal(over.kind, ResultKind.Error);
  assert.equal((over as unknown as { error: TxnTooLargeError }).error.details.limit, 'sessionResultBytesMax');
  assert.equal(text(d.sm.get(b('w'))!.value), '2', 'the refused transaction changed nothing');
  // Its error is the saved answer for seq 3; with 1 and 2 acknowledged, seq 4 fits again.
  assert.equal(read(4, 3).kind, ResultKind.Txn);
  assert.equal(text(d.sm.get(b('w'))!.value), '4');
});

test('malformed transactions are deterministic error results: unknown target or op, missing or extra operand, bad keys, bad scan limit', () => {
  const d = new Driver();
  const bad = (body: unknown) => {
    const shown = JSON.stringify(body, (_k, v) => (v instanceof Uint8Array ? [...v] : v));
    // Refused before it is proposed (kv-service.ts checks the same): an extra operand would not survive encoding.
    if (commandProblem({ kind: CommandKind.Txn, ...(body as object) } as never, d.sm.options) !== null) return;
    let r: ApplyResult;
    try {
      r = applyCommand(d.sm, d.nextIndex, { kind: CommandKind.Txn, ...(body as object) } as never, d.nowMs);
    } catch (err) {
      // The codec refuses what it cannot encode with a typed error: such a body never reaches the log.
      assert.ok(err instanceof KvError, `${shown}: ${String(err)}`);
      return;
    }
    assert.equal(r.kind, ResultKind.Error, shown);
  };
  bad({ compare: [{ key: b('a'), target: 'color', op: '=', version: 1 }], success: [], failure: [] });
  bad({ compare: [{ key: b('a'), target: 'version', op: '>=', version: 1 }], success: [], failure: [] });
  bad({ compare: [{ key: b('a'), target: 'version', op: '=' }], success: [], failure: [] });
  bad({ compare: [{ key: b('a'), target: 'version', op: '=', version: 1, value: b('x') }], success: [], failure: [] });
  bad({ compare: [], success: [{ type: 'put', key: new Uint8Array(0), value: b('v') }], failure: [] });
  bad({ compare: [], success: [{ type: 'scan', key: b('a'), rangeEnd: b('b'), limit: 0 }], failure: [] });
  bad({ compare: [], success: [{ type: 'delete', key: b('a'), rangeEnd: new Uint8Array(0) }], failure: [] });
  bad({ compare: [], success: [{ type: 'frobnicate', key: b('a') }], failure: [] });
  assert.equal(d.sm.revision, 0);
});

// ---------------------------------------------------------------- codecs

test('transactions round-trip through the log encoding, and results through the saved-result encoding', () => {
  const body = txn({
    compare: [
      { key: b('a'), target: 'value', op: '!=', value: b('x') },
      { key: b('p/'), rangeEnd: b('p0'), target: 'modRevision', op: '<', modRevision: 7 },
      { key: b('l'), target: 'lease', op: '<', lease: 42 },
    ],
    success: [put('a', 'b'), { type: 'scan', key: b('a'), rangeEnd: FROM_KEY, limit: 5 }, { type: 'txn', compare: [], success: [{ type: 'delete', key: b('a') }], failure: [{ type: 'get', key: b('a') }] }],
    failure: [{ type: 'update', key: b('z'), value: new Uint8Array(0) }],
    session: { sessionId: 3, seq: 9, ackedSeq: 8 },
  });
  const decoded = decodeCommand(encodeCommand(body, 123));
  assert.equal(decoded.leaderTimeMs, 123);
  assert.deepEqual(decoded.command, body);
  const d = new Driver();
  d.put('a', 'y');
  const result = asTxn(d.run({ ...body, session: undefined }));
  assert.equal(result.succeeded, true);
  assert.deepEqual(normalize(decodeApplyResult(encodeApplyResult(result))), normalize(result));
});

// ---------------------------------------------------------------- property

const keyArb = fc.constantFrom('a', 'b', 'c', 'ab', 'b0', 'ba', 'c\u00ff');
const bytesOf = (s: string) => Uint8Array.from(s, (ch) => ch.charCodeAt(0));
const rangeArb = fc.oneof(
  keyArb.map((k) => ({ key: bytesOf(k) })),
  fc.tuple(keyArb, keyArb).map(([k, e]) => ({ key: bytesOf(k), rangeEnd: bytesOf(e) })),
  keyArb.map((k) => ({ key: bytesOf(k), rangeEnd: FROM_KEY })),
);
const compareArb: fc.Arbitrary<TxnCompare> = fc.tuple(rangeArb, fc.constantFrom(...targets), fc.constantFrom(...ops), fc.nat({ max: 6 }), fc.constantFrom('', '0', '1', '2')).map(
  ([range, target, op, n, v]) => (target === 'value' ? { ...range, target, op, value: bytesOf(v) } : { ...range, target, op, [target]: n }) as TxnCompare,
);
const leafOpArb: fc.Arbitrary<TxnOp> = fc.oneof(
  keyArb.map((k) => ({ type: 'get' as const, key: bytesOf(k) })),
  fc.tuple(rangeArb, fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined })).map(([r, limit]) => ({ type: 'scan' as const, ...r, ...(limit !== undefined ? { limit } : {}) })),
  fc.tuple(keyArb, fc.constantFrom('0', '1', '2')).map(([k, v]) => ({ type: 'put' as const, key: bytesOf(k), value: bytesOf(v) })),
  fc.tuple(keyArb, fc.constantFrom('0', '1', '2')).map(([k, v]) => ({ type: 'update' as const, key: bytesOf(k), value: bytesOf(v) })),
  rangeArb.map((r) => ({ type: 'delete' as const, ...r })),
  fc.tuple(keyArb, fc.constantFrom('1', '-2', '9223372036854775807')).map(([k, by]) => ({ type: 'incr' as const, key: bytesOf(k), by: bytesOf(by) })),
);
const bodyArb = (depth: number): fc.Arbitrary<TxnBody> => {
  const op = depth === 0 ? leafOpArb : fc.oneof({ weight: 4, arbitrary: leafOpArb }, { weight: 1, arbitrary: bodyArb(depth - 1).map((body) => ({ type: 'txn' as const, ...body })) });
  return fc.record({ compare: fc.array(compareArb, { maxLength: 3 }), success: fc.array(op, { maxLength: 4 }), failure: fc.array(op, { maxLength: 4 }) });
};

test('property: random transactions give the model\'s results, state and revision; a restored snapshot continues identically', () => {
  fc.assert(
    fc.property(fc.array(bodyArb(2), { minLength: 1, maxLength: 25 }), (bodies) => {
      const d = new Driver();
      const model = new TxnModel();
      for (const body of bodies) {
        const got = d.run(txn(body));
        assert.deepEqual(normalize(got), model.txn(body));
        assert.equal(d.sm.revision, model.revision);
      }
      const dump = d.sm.scan({ limit: 1000 }).entries.map((e) => [String.fromCharCode(...e.key), String.fromCharCode(...e.value), e.version, e.createRevision, e.modRevision]);
      const expected = [...model.keys.entries()].sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, e]) => [k, e.value, e.version, e.createRevision, e.modRevision]);
      assert.deepEqual(dump, expected);
      // A replica restored from a snapshot and fed the same log gives byte-identical snapshots.
      const replica = new KvStateMachine();
      replica.restore([d.sm.snapshot().toBytes()]);
      assert.deepEqual(replica.snapshot().toBytes(), d.sm.snapshot().toBytes());
    }),
    { numRuns: 300 },
  );
});

test('property: random transactions round-trip through the log encoding; every truncation or corruption of one is an error result, never a throw', () => {
  fc.assert(
    fc.property(bodyArb(2), fc.nat(), fc.integer({ min: 0, max: 255 }), (body, cut, byte) => {
      const command = txn(body);
      const bytes = encodeCommand(command, 77);
      assert.deepEqual(decodeCommand(bytes).command, command);
      const d = new Driver();
      // (Empty bytes are the no-op entry a new leader appends: cut at least one byte in.)
      const truncated = bytes.subarray(0, 1 + (cut % (bytes.length - 1)));
      const r1 = d.applyBytes(truncated);
      assert.equal(r1.kind, ResultKind.Error);
      const flipped = bytes.slice();
      flipped[3 + (cut % (bytes.length - 3))] = byte;
      const r2 = d.applyBytes(flipped);
      assert.ok(r2.kind === ResultKind.Error || r2.kind === ResultKind.Txn);
    }),
    { numRuns: 500 },
  );
});

test("a transaction's saved result counts against its owner's quota: over sessionResultBytesPerUserMax it is UserQuotaExceeded and changes nothing", () => {
  const limit = savedResultBytesBound(defaultKvOptions) * 2;
  const d = new Driver({ sessionResultBytesPerUserMax: limit });
  for (let i = 0; i < 4; i++) d.put(`big/${i}`, 'x'.repeat(Math.ceil(limit / 2)));
  const s = d.openSession();
  const revision = d.sm.revision;
  // A scan of twice the quota in values plus a put: the result would not fit the owner's quota (but fits sessionResultBytesMax).
  const r = d.run(txn({ success: [{ type: 'scan', key: b('big/'), rangeEnd: b('big0') }, put('w', '1')], session: { sessionId: s, seq: 1, ackedSeq: 0 } }));
  assert.equal(r.kind, ResultKind.Error);
  assert.ok((r as { error: unknown }).error instanceof UserQuotaExceededError, String((r as { error: unknown }).error));
  assert.equal(d.sm.revision, revision, 'nothing applied');
  assert.equal(d.sm.get(b('w')), null);
  assert.ok(d.sm.sessionUsageOf('').resultBytes <= limit, 'the quota holds');
  // A small one still fits.
  assert.equal(asTxn(d.run(txn({ success: [put('w', '1')], session: { sessionId: s, seq: 2, ackedSeq: 1 } }))).succeeded, true);
});

test("a read-only transaction at a reader's time compares a key whose TTL has passed as missing (Redis: a WATCHed key that expired is touched)", () => {
  const d = new Driver();
  d.run({ kind: CommandKind.Put, key: b('x'), value: b('foo'), expiresAtMs: d.nowMs + 1000 });
  const { modRevision } = d.sm.get(b('x'))!;
  const body = (c: TxnCompare): TxnBody => ({ compare: [c], success: [], failure: [] });
  const unchanged = body({ key: b('x'), target: 'modRevision', op: '=', modRevision });
  const missing = body({ key: b('x'), target: 'createRevision', op: '=', createRevision: 0 });
  assert.equal(d.sm.readTxn(unchanged, d.nowMs + 999).succeeded, true, 'before its TTL the key is as written');
  assert.equal(d.sm.readTxn(missing, d.nowMs + 999).succeeded, false);
  // The expiry entry has not applied yet (the key is still stored), but a read at this time hides it.
  assert.equal(d.sm.readTxn(unchanged, d.nowMs + 1000).succeeded, false, 'a watched key that expired counts as changed');
  assert.equal(d.sm.readTxn(missing, d.nowMs + 1000).succeeded, true, 'a key watched while expired is still missing');
  assert.notEqual(d.sm.get(b('x')), null, 'the key itself is still stored until the expiry entry');
});
