/**
 * TTL and multi-key commands over an in-memory member (fake-backend.ts, a
 * manual clock): Redis 7.0's answers for SET EX/PX/EXAT/PXAT/KEEPTTL/IFEQ,
 * SETEX, GETEX, the EXPIRE family with NX/XX/GT/LT, TTL/PTTL/EXPIRETIME,
 * PERSIST; MSET/MSETNX as one transaction; RENAME moving the TTL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bulk, err, int, norm, setup } from './command-harness.js';

const ok = { type: 'simple', value: 'OK' };
const nil = { type: 'null' };

async function check(exec: (...args: string[]) => Promise<unknown>, cases: [string[], unknown][]): Promise<void> {
  for (const [args, expected] of cases) assert.deepEqual(norm((await exec(...args)) as never), expected, args.join(' '));
}

test('SET with a TTL, SETEX, PSETEX, TTL, PTTL, EXPIRETIME, KEEPTTL, IFEQ: answers and errors as Redis', async () => {
  const { kv, exec } = setup();
  const now = kv.clock.nowMs();
  await check(exec, [
    [['set', 'a', '1', 'EX', '100'], ok],
    [['ttl', 'a'], int(100)],
    [['pttl', 'a'], int(100_000)],
    [['expiretime', 'a'], int(Math.floor((now + 100_000) / 1000))],
    [['pexpiretime', 'a'], int(now + 100_000)],
    [['set', 'a', '2', 'KEEPTTL'], ok],
    [['pttl', 'a'], int(100_000)],
    [['set', 'a', '3'], ok],
    [['ttl', 'a'], int(-1)],
    [['ttl', 'none'], int(-2)],
    [['set', 'b', '1', 'PXAT', String(now + 5_000)], ok],
    [['pttl', 'b'], int(5_000)],
    [['set', 'b', '1', 'EX', '1', 'PX', '1'], err('ERR syntax error')],
    [['set', 'b', '1', 'EX', '1', 'KEEPTTL'], err('ERR syntax error')],
    [['set', 'b', '1', 'EX', '-1'], err("ERR invalid expire time in 'set' command")],
    [['set', 'b', '1', 'EX', '9223372036854775807'], err("ERR invalid expire time in 'set' command")],
    [['set', 'b', '1', 'PX', '9223372036854775807'], err("ERR invalid expire time in 'set' command")],
    [['setex', 'c', '10', 'v'], ok],
    [['ttl', 'c'], int(10)],
    [['setex', 'c', '0', 'v'], err("ERR invalid expire time in 'setex' command")],
    [['psetex', 'c', '1500', 'v'], ok],
    [['pttl', 'c'], int(1500)],
    [['set', 'i', 'x', 'IFEQ', 'y'], nil],
    [['set', 'i', 'x'], ok],
    [['set', 'i', 'z', 'IFEQ', 'y'], nil],
    [['set', 'i', 'z', 'IFEQ', 'x', 'GET'], bulk('x')],
    [['get', 'i'], bulk('z')],
    [['set', 'i', 'z', 'IFEQ', 'x', 'NX'], err('ERR syntax error')],
  ]);
  await kv.clock.advance(1_500);
  await check(exec, [
    [['get', 'c'], nil],
    [['ttl', 'c'], int(-2)],
    [['setnx', 'c', 'again'], int(1)],
  ]);
});

test('EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with NX|XX|GT|LT, PERSIST, GETEX; INCR keeps the TTL', async () => {
  const { kv, exec } = setup();
  const now = kv.clock.nowMs();
  await check(exec, [
    [['expire', 'k', '10'], int(0)],
    [['set', 'k', 'v'], ok],
    [['expire', 'k', '10', 'XX'], int(0)],
    [['expire', 'k', '10', 'GT'], int(0)],
    [['expire', 'k', '10', 'NX'], int(1)],
    [['expire', 'k', '20', 'NX'], int(0)],
    [['expire', 'k', '5', 'GT'], int(0)],
    [['expire', 'k', '30', 'GT'], int(1)],
    [['ttl', 'k'], int(30)],
    [['pexpire', 'k', '40000', 'LT'], int(0)],
    [['pexpire', 'k', '5000', 'LT'], int(1)],
    [['pttl', 'k'], int(5000)],
    [['expireat', 'k', String(Math.floor(now / 1000) + 100)], int(1)],
    [['pexpireat', 'k', String(now + 7_000), 'XX'], int(1)],
    [['pttl', 'k'], int(7_000)],
    [['expire', 'k', '10', 'NX', 'XX'], err('ERR NX and XX, GT or LT options at the same time are not compatible')],
    [['expire', 'k', '10', 'GT', 'LT'], err('ERR GT and LT options at the same time are not compatible')],
    [['expire', 'k', '10', 'FOO'], err('ERR Unsupported option FOO')],
    [['expire', 'k', 'x'], err('ERR value is not an integer or out of range')],
    [['expire', 'k', '9223372036854775807'], err("ERR invalid expire time in 'expire' command")],
    [['incr', 'n'], int(1)],
    [['expire', 'n', '50'], int(1)],
    [['incr', 'n'], int(2)],
    [['ttl', 'n'], int(50)],
    [['persist', 'n'], int(1)],
    [['persist', 'n'], int(0)],
    [['ttl', 'n'], int(-1)],
    [['getex', 'n', 'PX', '2500'], bulk('2')],
    [['pttl', 'n'], int(2500)],
    [['getex', 'n', 'PERSIST'], bulk('2')],
    [['ttl', 'n'], int(-1)],
    [['getex', 'n', 'EX', '1', 'PERSIST'], err('ERR syntax error')],
    [['getex', 'none'], nil],
    [['expire', 'n', '-1'], int(1)],
    [['exists', 'n'], int(0)],
    [['set', 'p', 'v'], ok],
    [['pexpireat', 'p', '1'], int(1)],
    [['get', 'p'], nil],
  ]);
});

test('MSET and MSETNX are one transaction each; RENAME and RENAMENX move the value and the TTL; DEL of several keys', async () => {
  const { kv, exec } = setup();
  const before = kv.applied;
  await check(exec, [
    [['mset', 'a', '1', 'b', '2', 'c', '3'], ok],
    [['mget', 'a', 'b', 'c'], { type: 'array', items: [bulk('1'), bulk('2'), bulk('3')] }],
    [['mset', 'a', '1', 'b'], err("ERR wrong number of arguments for 'mset' command")],
    [['msetnx', 'x', '1', 'a', '9'], int(0)],
    [['get', 'x'], nil],
    [['msetnx', 'x', '1', 'y', '2'], int(1)],
  ]);
  assert.equal(kv.applied - before, 3, 'one log entry per MSET/MSETNX (the failed MSETNX included)');
  await check(exec, [
    [['set', 'src', 'v', 'EX', '100'], ok],
    [['rename', 'src', 'dst'], ok],
    [['get', 'src'], nil],
    [['get', 'dst'], bulk('v')],
    [['ttl', 'dst'], int(100)],
    [['rename', 'src', 'dst'], err('ERR no such key')],
    [['set', 'other', 'o', 'EX', '5'], ok],
    [['set', 'plain', 'p'], ok],
    [['rename', 'plain', 'other'], ok],
    [['ttl', 'other'], int(-1)],
    [['renamenx', 'dst', 'other'], int(0)],
    [['renamenx', 'dst', 'fresh'], int(1)],
    [['rename', 'fresh', 'fresh'], ok],
    [['renamenx', 'fresh', 'fresh'], int(0)],
    [['del', 'a', 'b', 'a', 'missing'], int(2)],
    [['exists', 'a', 'b'], int(0)],
  ]);
});

test("COPY copies the value and the TTL (REPLACE, DB 0), Redis's answers and errors; RANDOMKEY returns each key, nil when empty", async () => {
  const { exec } = setup();
  await check(exec, [
    [['copy', 'src', 'dst'], int(0)],
    [['set', 'src', 'v', 'EX', '100'], ok],
    [['copy', 'src', 'dst'], int(1)],
    [['mget', 'src', 'dst'], { type: 'array', items: [bulk('v'), bulk('v')] }],
    [['ttl', 'dst'], int(100)],
    [['set', 'plain', 'p'], ok],
    [['copy', 'plain', 'dst'], int(0)],
    [['get', 'dst'], bulk('v')],
    [['copy', 'plain', 'dst', 'replace', 'DB', '0'], int(1)],
    [['get', 'dst'], bulk('p')],
    [['ttl', 'dst'], int(-1)],
    [['set', 'dst', 'changed'], ok],
    [['get', 'plain'], bulk('p')],
    [['copy', 'src', 'src'], err('ERR source and destination objects are the same')],
    [['copy', 'src', 'x', 'DB', 'notanumber'], err('ERR value is not an integer or out of range')],
    [['copy', 'src', 'x', 'DB', '1'], err('ERR DB index is out of range')],
    [['copy', 'src', 'x', 'DB'], err('ERR syntax error')],
    [['copy', 'src', 'x', 'bogus'], err('ERR syntax error')],
    [['exists', 'x'], int(0)],
  ]);
  const seen = new Set<string>();
  // Each of the three keys has a 1/3 chance per call: all are seen within 200 calls but with odds below 1e-34.
  for (let i = 0; i < 200 && seen.size < 3; i++) {
    const r = await exec('randomkey');
    assert.equal(r.type, 'bulk');
    seen.add(Buffer.from((r as { value: Uint8Array }).value).toString());
  }
  assert.deepEqual([...seen].sort(), ['dst', 'plain', 'src']);
  await exec('del', 'src', 'dst', 'plain');
  assert.deepEqual(norm(await exec('randomkey')), nil);
});

