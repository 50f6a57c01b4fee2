/**
 * The request decoder: any split of the byte stream gives the same verdicts (property-tested
 * against the generated requests and byte by byte), garbage never throws, Redis's exact error
 * texts and bounds (unauthenticated caps, inline size, query buffer).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DecodeVerdict, ProtocolErrorText, RequestDecoder, respLimits, splitInlineArgs, type DecodeResult } from '../../src/resp/index.js';

type Verdict = { kind: 'request'; args: string[] } | { kind: 'protocolError'; message: string } | { kind: 'queryBufferExceeded' };

/** Feeds `chunks` and collects verdicts until the stream is used up or the decoder fails. */
function decodeAll(chunks: Uint8Array[], decoder = new RequestDecoder()): Verdict[] {
  const out: Verdict[] = [];
  const drain = (): boolean => {
    for (;;) {
      const r: DecodeResult = decoder.next();
      if (r.kind === DecodeVerdict.incomplete) return true;
      if (r.kind === DecodeVerdict.request) out.push({ kind: 'request', args: r.args.map((a) => a.toString('hex')) });
      else {
        out.push(r.kind === DecodeVerdict.protocolError ? { kind: r.kind, message: r.message } : { kind: r.kind });
        return false;
      }
    }
  };
  for (const chunk of chunks) {
    decoder.push(chunk);
    if (!drain()) break;
  }
  return out;
}

function splitAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

function bytewise(bytes: Buffer): Buffer[] {
  return [...bytes].map((b) => Buffer.from([b]));
}

function multibulk(args: Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) parts.push(Buffer.from(`$${a.length}\r\n`), a, Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

const binaryArg = fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u));
const inlineWord = fc.stringMatching(/^[A-Za-z0-9_:.-]{1,12}$/).map((s) => Buffer.from(s));
const request = fc.oneof(
  fc.array(binaryArg, { minLength: 1, maxLength: 6 }).map((args) => ({ args, bytes: multibulk(args) })),
  fc.array(inlineWord, { minLength: 1, maxLength: 5 }).map((args) => ({ args, bytes: Buffer.from(args.map((a) => a.toString()).join(' ') + '\r\n') })),
);

test('requests decode to their arguments under any split of the stream', () => {
  fc.assert(
    fc.property(fc.array(request, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 30 }), (reqs, cuts) => {
      const stream = Buffer.concat(reqs.map((r) => r.bytes));
      const expected: Verdict[] = reqs.map((r) => ({ kind: 'request', args: r.args.map((a) => a.toString('hex')) }));
      assert.deepEqual(decodeAll([stream]), expected);
      assert.deepEqual(decodeAll(splitAt(stream, cuts)), expected);
    }),
    { numRuns: 300 },
  );
});

test('byte-by-byte feeding gives the same verdicts as one chunk', () => {
  fc.assert(
    fc.property(fc.array(request, { minLength: 1, maxLength: 6 }), (reqs) => {
      const stream = Buffer.concat(reqs.map((r) => r.bytes));
      assert.deepEqual(decodeAll(bytewise(stream)), decodeAll([stream]));
    }),
    { numRuns: 100 },
  );
});

// Garbage built from protocol-ish pieces reaches every branch (headers, bad lengths, quotes).
const piece = fc.oneof(
  fc.constantFrom('*', '$', '\r\n', '\r', '\n', '"', "'", '\\', ' ', '*2\r\n', '$3\r\n', '$-1\r\n', '*-1\r\n', '*0\r\n', 'PING', '\\x4', '\x00', '01', '-0', '99999999999999999999'),
  fc.uint8Array({ maxLength: 8 }).map((u) => Buffer.from(u).toString('latin1')),
);
const garbage = fc.array(piece, { maxLength: 40 }).map((ps) => Buffer.from(ps.join(''), 'latin1'));

test('garbage never throws, and its verdicts do not depend on the split', () => {
  const limits = respLimits({ inlineLineBytesMax: 16, queryBufferBytesMax: 1 << 20 });
  fc.assert(
    fc.property(garbage, fc.array(fc.nat(), { maxLength: 20 }), fc.boolean(), (bytes, cuts, unauthenticated) => {
      const fresh = (): RequestDecoder => Object.assign(new RequestDecoder(limits), { unauthenticated });
      const whole = decodeAll([bytes], fresh());
      assert.deepEqual(decodeAll(splitAt(bytes, cuts), fresh()), whole);
      assert.deepEqual(decodeAll(bytewise(bytes), fresh()), whole);
    }),
    { numRuns: 1000 },
  );
});

test('random bytes always give a verdict and never throw', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (u) => {
      const d = new RequestDecoder(respLimits({ inlineLineBytesMax: 64 }));
      d.push(u);
      for (let i = 0; i < 400; i++) {
        const r = d.next();
        if (r.kind !== DecodeVerdict.request) return;
      }
      assert.fail('a decoder kept producing requests from a finite input');
    }),
    { numRuns: 1000 },
  );
});

function firstError(input: string, decoder = new RequestDecoder()): string | undefined {
  const v = decodeAll([Buffer.from(input, 'latin1')], decoder).find((x) => x.kind !== 'request');
  return v?.kind === 'protocolError' ? v.message : v?.kind;
}

test("Redis's exact protocol error texts", () => {
  assert.equal(firstError('*20000000\r\n'), ProtocolErrorText.invalidMultibulkLength);
  assert.equal(firstError('*3000000000\r\n'), 'ERR Protocol error: invalid multibulk length');
  assert.equal(firstError('*x\r\n'), 'ERR Protocol error: invalid multibulk length');
  assert.equal(firstError('*01\r\n'), 'ERR Protocol error: invalid multibulk length');
  assert.equal(firstError('*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n'), "ERR Protocol error: expected '$', got 'f'");
  assert.equal(firstError('*1\r\n$-1\r\n'), 'ERR Protocol error: invalid bulk length');
  assert.equal(firstError('*1\r\n$abc\r\n'), 'ERR Protocol error: invalid bulk length');
  assert.equal(firstError('*1\r\n$2000000000\r\n'), 'ERR Protocol error: invalid bulk length');
  assert.equal(firstError('set "a b\r\n'), 'ERR Protocol error: unbalanced quotes in request');
  assert.equal(firstError(`*${'1'.repeat(70000)}`), 'ERR Protocol error: too big mbulk count string');
  assert.equal(firstError(`*1\r\n$${'1'.repeat(70000)}`), 'ERR Protocol error: too big bulk count string');
  assert.equal(firstError('A'.repeat(100 * 1024)), 'ERR Protocol error: too big inline request');
  assert.equal(firstError('A'.repeat(100 * 1024) + '\r\n'), 'ERR Protocol error: too big inline request');
});

test('empty requests are skipped: blank lines, *0 and *-1 (Redis: "Handle an empty query")', () => {
  assert.deepEqual(decodeAll([Buffer.from('\r\n\n*0\r\n*-10\r\nPING\r\n')]), [{ kind: 'request', args: [Buffer.from('PING').toString('hex')] }]);
});

test('an inline line of 64 KiB is taken, one byte more is refused, whatever the split', () => {
  const max = 64 * 1024;
  const ok = Buffer.from('A'.repeat(max) + '\r\n');
  const verdicts = decodeAll(bytewise(ok));
  assert.equal(verdicts.length, 1);
  assert.equal(verdicts[0]!.kind, 'request');
  const tooBig = Buffer.from('A'.repeat(max + 1));
  assert.deepEqual(decodeAll(bytewise(tooBig)), [{ kind: 'protocolError', message: ProtocolErrorText.tooBigInline }]);
});

test('before authentication, more than 10 arguments or a bulk over 16 KiB closes with Redis texts', () => {
  const unauth = (): RequestDecoder => Object.assign(new RequestDecoder(), { unauthenticated: true });
  assert.equal(firstError('*100\r\n', unauth()), ProtocolErrorText.unauthenticatedMultibulkLength);
  assert.equal(firstError('*1\r\n$100000000\r\n', unauth()), ProtocolErrorText.unauthenticatedBulkLength);
  assert.equal(firstError('*10\r\n', unauth()), undefined);
  assert.equal(firstError('*1\r\n$16384\r\n', unauth()), undefined);
  // The same requests are fine once authenticated.
  assert.equal(firstError('*100\r\n'), undefined);
  assert.equal(firstError('*1\r\n$100000000\r\n'), undefined);
});

test('the query buffer bound closes without a reply', () => {
  const d = new RequestDecoder(respLimits({ queryBufferBytesMax: 1000 }));
  d.push(Buffer.from('*2\r\n$3\r\nSET\r\n$5000\r\n'));
  assert.equal(d.next().kind, DecodeVerdict.incomplete);
  d.push(Buffer.alloc(997, 0x61)); // with the 3 bytes of SET already assembled: 1000
  assert.equal(d.next().kind, DecodeVerdict.incomplete, 'at the bound: still taken');
  d.push(Buffer.alloc(1, 0x61));
  assert.equal(d.next().kind, DecodeVerdict.queryBufferExceeded);
});

test('a large bulk fed in small chunks reassembles intact (binary safe)', () => {
  const big = Buffer.alloc(3 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
  const stream = multibulk([Buffer.from('SET'), Buffer.from('k'), big]);
  const d = new RequestDecoder();
  let got: DecodeResult = { kind: DecodeVerdict.incomplete };
  for (let i = 0; i < stream.length; i += 1500) {
    d.push(stream.subarray(i, i + 1500));
    got = d.next();
  }
  assert.equal(got.kind, DecodeVerdict.request);
  assert.ok(got.kind === DecodeVerdict.request && got.args[2]!.equals(big));
});

test("inline arguments split as Redis's sdssplitargs", () => {
  const split = (s: string): string[] | null => splitInlineArgs(Buffer.from(s, 'latin1'))?.map((b) => b.toString('latin1')) ?? null;
  assert.deepEqual(split('  set  a   b '), ['set', 'a', 'b']);
  assert.deepEqual(split('set "a b" c'), ['set', 'a b', 'c']);
  assert.deepEqual(split('"\\x41\\n\\t\\r\\b\\a\\"\\\\\\q"'), ['A\n\t\r\b\x07"\\q']);
  assert.deepEqual(split("'it\\'s' 'a\\nb'"), ["it's", 'a\\nb']);
  assert.deepEqual(split('a"b c"d'), null);
  assert.deepEqual(split('a"b c" d'), ['ab c', 'd']);
  assert.deepEqual(split('"ab"c'), null);
  assert.deepEqual(split("'ab'c"), null);
  assert.deepEqual(split('"abc'), null);
  assert.deepEqual(split("'abc"), null);
  assert.deepEqual(split('""'), ['']);
  assert.deepEqual(split('a\x00b c'), ['a']);
  assert.deepEqual(split(''), []);
  assert.deepEqual(split('"\\x4g"'), ['x4g']);
});
