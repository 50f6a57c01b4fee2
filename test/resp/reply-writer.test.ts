/**
 * The reply encoder against independent decoders: redis-parser (the parser ioredis used for years)
 * for RESP2, node-redis's RESP3 decoder for RESP3, on random reply trees fed in random splits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { encodeReply, ProtocolVersion, reply, ReplyWriter, type Reply, ReplyType } from '../../src/resp/index.js';

const require = createRequire(import.meta.url);
interface Parser {
  execute(b: Buffer): void;
}
const RedisParser = require('redis-parser') as new (o: { returnReply(r: unknown): void; returnError(e: Error): void; returnFatalError?(e: Error): void; returnBuffers?: boolean; stringNumbers?: boolean }) => Parser;
const { Decoder, RESP_TYPES } = require('@redis/client/dist/lib/RESP/decoder') as {
  Decoder: new (o: { onReply(r: unknown): void; onErrorReply(e: Error): void; onPush(p: unknown[]): void; getTypeMapping(): Record<number, unknown> }) => { write(b: Buffer): void };
  RESP_TYPES: Record<string, number>;
};

const text = fc.string({ maxLength: 12 }).map((s) => s.replace(/[\r\n]/g, ''));
const leaf: fc.Arbitrary<Reply> = fc.oneof(
  text.map(reply.simple),
  text.map((s) => reply.error(`ERR ${s}`)),
  fc.integer().map(reply.integer),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(reply.integer),
  fc.uint8Array({ maxLength: 20 }).map((u) => reply.bulk(Buffer.from(u))),
  text.map(reply.bulk),
  fc.constant(reply.null),
  fc.constant(reply.nullArray),
  fc.double().map(reply.double),
  fc.boolean().map(reply.boolean),
  fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map(reply.bigNumber),
  text.map((s) => reply.verbatim(s)),
);
const tree = fc.letrec<{ node: Reply }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('node'), { maxLength: 4 }).map(reply.array),
    fc.array(tie('node'), { maxLength: 4 }).map(reply.set),
    fc.array(fc.tuple(leaf, tie('node')), { maxLength: 3 }).map((e) => reply.map(e)),
  ),
})).node;

/** What redis-parser (returnBuffers) yields for `r` sent as RESP2, normalized. */
function expected2(r: Reply): unknown {
  switch (r.type) {
    case ReplyType.simple: return { s: r.value };
    case ReplyType.error: return { error: r.message };
    case ReplyType.integer: return String(r.value);
    case ReplyType.bulk: return Buffer.from(r.value).toString('hex');
    case ReplyType.null: case ReplyType.nullArray: return null;
    case ReplyType.array: case ReplyType.set: case ReplyType.push: return r.items.map(expected2);
    case ReplyType.map: return r.entries.flatMap(([k, v]) => [expected2(k), expected2(v)]);
    case ReplyType.double: return Buffer.from(Number.isNaN(r.value) ? 'nan' : r.value === Infinity ? 'inf' : r.value === -Infinity ? '-inf' : Object.is(r.value, -0) ? '-0' : String(r.value)).toString('hex');
    case ReplyType.boolean: return r.value ? '1' : '0';
    case ReplyType.bigNumber: return Buffer.from(String(r.value)).toString('hex');
    case ReplyType.verbatim: return Buffer.from(r.value).toString('hex');
  }
}

function normalize2(v: unknown, topSimple = false): unknown {
  if (v instanceof Error) return { error: v.message };
  if (Buffer.isBuffer(v)) return topSimple ? v : v.toString('hex');
  if (Array.isArray(v)) return v.map((x) => normalize2(x));
  return v;
}

function splits(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) out.push(bytes.subarray(prev, (prev = p)));
  out.push(bytes.subarray(prev));
  return out;
}

// redis-parser returns simple strings as Buffers too: tell them from bulks by the first byte.
function parse2(bytes: Buffer, cuts: number[]): unknown {
  const got: unknown[] = [];
  const parser = new RedisParser({ returnReply: (r) => got.push(r), returnError: (e) => got.push(e), returnBuffers: true, stringNumbers: true });
  for (const c of splits(bytes, cuts)) parser.execute(c);
  assert.equal(got.length, 1);
  return got[0];
}

test('RESP2 encoding decodes with redis-parser to the RESP2 fallbacks Redis uses', () => {
  fc.assert(
    fc.property(tree, fc.array(fc.nat(), { maxLength: 10 }), (r, cuts) => {
      const bytes = encodeReply(r, ProtocolVersion.resp2);
      const value = parse2(bytes, cuts);
      const exp = expected2(r);
      if (r.type === ReplyType.simple) assert.deepEqual({ s: (value as Buffer).toString('utf8') }, exp);
      else assert.deepEqual(normalize2(value), normalizeSimple(exp));
    }),
    { numRuns: 500 },
  );
});

/** Nested simple strings come back from redis-parser as Buffers: compare them as hex. */
function normalizeSimple(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalizeSimple);
  if (v !== null && typeof v === 'object' && 's' in v) return Buffer.from((v as { s: string }).s).toString('hex');
  return v;
}

const mapping3 = { [RESP_TYPES.BLOB_STRING!]: Buffer, [RESP_TYPES.SIMPLE_STRING!]: Buffer, [RESP_TYPES.MAP!]: Array, [RESP_TYPES.BIG_NUMBER!]: String, [RESP_TYPES.NUMBER!]: String, [RESP_TYPES.VERBATIM_STRING!]: Buffer };

function expected3(r: Reply): unknown {
  switch (r.type) {
    case ReplyType.simple: return Buffer.from(r.value).toString('hex');
    case ReplyType.error: return { error: r.message };
    case ReplyType.integer: return String(r.value);
    case ReplyType.bulk: return Buffer.from(r.value).toString('hex');
    case ReplyType.null: case ReplyType.nullArray: return null;
    case ReplyType.array: case ReplyType.set: case ReplyType.push: return r.items.map(expected3);
    case ReplyType.map: return r.entries.flatMap(([k, v]) => [expected3(k), expected3(v)]);
    case ReplyType.double: return r.value;
    case ReplyType.boolean: return r.value;
    case ReplyType.bigNumber: return String(r.value);
    case ReplyType.verbatim: return Buffer.from(r.value).toString('hex');
  }
}

function normalize3(v: unknown): unknown {
  if (v instanceof Error) return { error: v.message };
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (Array.isArray(v)) return v.map(normalize3);
  if (v instanceof Set) return [...v].map(normalize3);
  return v;
}

test("RESP3 encoding decodes with node-redis's decoder to the same values", () => {
  fc.assert(
    fc.property(tree, fc.array(fc.nat(), { maxLength: 10 }), (r, cuts) => {
      const got: unknown[] = [];
      const decoder = new Decoder({ onReply: (x) => got.push(x), onErrorReply: (e) => got.push(e), onPush: (p) => got.push(p), getTypeMapping: () => mapping3 });
      for (const c of splits(encodeReply(r, ProtocolVersion.resp3), cuts)) decoder.write(c);
      assert.equal(got.length, 1);
      assert.deepEqual(normalize3(got[0]), expected3(r));
    }),
    { numRuns: 500 },
  );
});

test('exact bytes of each type in both versions', () => {
  const both = (r: Reply): [string, string] => [encodeReply(r, 2).toString('latin1'), encodeReply(r, 3).toString('latin1')];
  assert.deepEqual(both(reply.null), ['$-1\r\n', '_\r\n']);
  assert.deepEqual(both(reply.nullArray), ['*-1\r\n', '_\r\n']);
  assert.deepEqual(both(reply.boolean(true)), [':1\r\n', '#t\r\n']);
  assert.deepEqual(both(reply.double(1.5)), ['$3\r\n1.5\r\n', ',1.5\r\n']);
  assert.deepEqual(both(reply.double(-Infinity)), ['$4\r\n-inf\r\n', ',-inf\r\n']);
  assert.deepEqual(both(reply.bigNumber(12345678901234567890n)), ['$20\r\n12345678901234567890\r\n', '(12345678901234567890\r\n']);
  assert.deepEqual(both(reply.verbatim('hi')), ['$2\r\nhi\r\n', '=6\r\ntxt:hi\r\n']);
  assert.deepEqual(both(reply.map([[reply.bulk('a'), reply.integer(1)]])), ['*2\r\n$1\r\na\r\n:1\r\n', '%1\r\n$1\r\na\r\n:1\r\n']);
  assert.deepEqual(both(reply.set([reply.integer(1)])), ['*1\r\n:1\r\n', '~1\r\n:1\r\n']);
  assert.deepEqual(both(reply.push([reply.bulk('m')])), ['*1\r\n$1\r\nm\r\n', '>1\r\n$1\r\nm\r\n']);
  assert.deepEqual(both(reply.error('ERR a\r\nb')), ['-ERR a  b\r\n', '-ERR a  b\r\n']);
  assert.deepEqual(both(reply.bulk('é')), ['$2\r\n\xc3\xa9\r\n', '$2\r\n\xc3\xa9\r\n']);
});

test('the writer batches many replies into one buffer per take and reuses its scratch', () => {
  const w = new ReplyWriter();
  for (let i = 0; i < 10000; i++) w.write(reply.bulk(`value-${i}`), 2);
  const out = w.take();
  assert.equal(w.writtenBytes, 0);
  let expectedBytes = 0;
  for (let i = 0; i < 10000; i++) expectedBytes += encodeReply(reply.bulk(`value-${i}`), 2).length;
  assert.equal(out.length, expectedBytes);
  w.write(reply.ok, 2);
  assert.equal(w.take().toString(), '+OK\r\n');
  assert.equal(out.subarray(0, 13).toString(), '$7\r\nvalue-0\r\n', 'a taken buffer is not overwritten by later writes');
});
