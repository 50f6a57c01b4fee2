import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/protocol/index.js';
import { txnFromWire, txnResponse } from '../../src/server/txn-request.js';

const b = (s: string): Uint8Array => new TextEncoder().encode(s);

test('txnFromWire: each op type keeps the fields it needs; a missing key or value is InvalidRequest naming where', () => {
  const body = txnFromWire({
    compare: [{ key: b('a'), rangeEnd: b('b'), target: 'version', op: '>', version: 1 }],
    success: [
      { type: 'put', key: b('k'), value: b('v'), limit: 3 },
      { type: 'scan', key: b('p'), rangeEnd: b('q'), limit: 2 },
      { type: 'txn', compare: [], success: [{ type: 'delete', key: b('x') }] },
    ],
    failure: [{ type: 'get', key: b('k'), value: b('ignored') }],
  });
  assert.deepEqual(body.compare, [{ key: b('a'), rangeEnd: b('b'), target: 'version', op: '>', version: 1 }]);
  assert.deepEqual(body.success[0], { type: 'put', key: b('k'), value: b('v') });
  assert.deepEqual(body.success[1], { type: 'scan', key: b('p'), rangeEnd: b('q'), limit: 2 });
  assert.deepEqual(body.success[2], { type: 'txn', compare: [], success: [{ type: 'delete', key: b('x') }], failure: [] });
  assert.deepEqual(body.failure[0], { type: 'get', key: b('k') });
  assert.throws(
    () => txnFromWire({ compare: [], success: [{ type: 'txn', success: [{ type: 'put', key: b('k') }] }], failure: [] }),
    (error: unknown) => (error as { code?: string }).code === ErrorCode.InvalidRequest && /txn\.success\[0\]\.success\[0\]/.test((error as Error).message),
  );
  assert.throws(() => txnFromWire({ compare: [], success: [], failure: [{ type: 'get' }] }), (error: unknown) => (error as { code?: string }).code === ErrorCode.InvalidRequest);
});

test('txnResponse: results in the wire shape, keys and values as bytes', () => {
  const kv = { key: b('k'), value: b('v'), version: 2, createRevision: 1, modRevision: 3, lease: 0 };
  const header = { memberName: 'n1', leaderId: 'n1', leaderClientUrl: null, revision: 3 };
  const r = txnResponse(header, {
    kind: 'txn',
    succeeded: false,
    revision: 3,
    results: [
      { type: 'get', kv },
      { type: 'get', kv: null },
      { type: 'scan', kvs: [kv], more: true },
      { type: 'delete', deleted: 2 },
      { type: 'txn', succeeded: true, results: [{ type: 'put', version: 1, createRevision: 3, modRevision: 3 }] },
    ],
  });
  const wireKv = { key: b('k'), value: b('v'), version: 2, createRevision: 1, modRevision: 3 };
  assert.deepEqual(r, {
    header,
    succeeded: false,
    revision: 3,
    results: [
      { type: 'get', kv: wireKv },
      { type: 'get', kv: null },
      { type: 'scan', kvs: [wireKv], more: true },
      { type: 'delete', deleted: 2 },
      { type: 'txn', succeeded: true, results: [{ type: 'put', version: 1, createRevision: 3, modRevision: 3 }] },
    ],
  });
});

test('an incr op crosses the wire with its delta and float flag; its result carries the new value', () => {
  const body = txnFromWire({ compare: [], success: [{ type: 'incr', key: b('n'), by: b('-3'), value: b('ignored') }, { type: 'incr', key: b('f'), by: b('0.5'), float: true }], failure: [] });
  assert.deepEqual(body.success, [{ type: 'incr', key: b('n'), by: b('-3') }, { type: 'incr', key: b('f'), by: b('0.5'), float: true }]);
  assert.throws(() => txnFromWire({ compare: [], success: [{ type: 'incr', key: b('n') }], failure: [] }), (error: unknown) => (error as { code?: string }).code === ErrorCode.InvalidRequest);
  const header = { memberName: 'n1', leaderId: 'n1', leaderClientUrl: null, revision: 4 };
  const r = txnResponse(header, { kind: 'txn', succeeded: true, revision: 4, results: [{ type: 'incr', value: b('7'), version: 2, createRevision: 1, modRevision: 4 }] });
  assert.deepEqual(r.results, [{ type: 'incr', value: b('7'), version: 2, createRevision: 1, modRevision: 4 }]);
});
