/**
 * The command layer over an in-memory member (fake-backend.ts): Redis's
 * answers and error texts, compare-and-set retries when another writer wins,
 * exactly-once when an answer is lost and the write is sent again, a new
 * session after expiry, and TRYAGAIN / "outcome unknown" when no leader
 * answers before the deadline (on a manual clock).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Reply } from '../../src/resp/index.js';
import { globMatch } from '../../src/redis/glob.js';
import { codeError, FakeKv } from './fake-backend.js';
import { bulk, err, int, norm, setup } from './command-harness.js';

test('string commands answer as Redis 7.0 does', async () => {
  const { exec } = setup();
  const cases: [string[], unknown][] = [
    [['set', 'k', 'v'], { type: 'simple', value: 'OK' }],
    [['get', 'k'], bulk('v')],
    [['get', 'none'], { type: 'null' }],
    [['set', 'k', 'w', 'NX'], { type: 'null' }],
    [['set', 'x', 'w', 'XX'], { type: 'null' }],
    [['set', 'k', 'w', 'XX', 'GET'], bulk('v')],
    [['set', 'k', 'w', 'NX', 'XX'], err('ERR syntax error')],
    [['set', 'k', 'w', 'EX', '0'], err("ERR invalid expire time in 'set' command")],
    [['set', 'k', 'w', 'EX', 'x'], err('ERR value is not an integer or out of range')],
    [['setnx', 'k', 'z'], int(0)],
    [['setnx', 'k2', 'z'], int(1)],
    [['append', 'k2', 'yy'], int(3)],
    [['getrange', 'k2', '0', '-1'], bulk('zyy')],
    [['getrange', 'k2', '-2', '-1'], bulk('yy')],
    [['getrange', 'k2', '5', '10'], bulk('')],
    [['getrange', 'k2', '-1', '-2'], bulk('')],
    [['setrange', 'k3', '3', 'ab'], int(5)],
    [['get', 'k3'], bulk('\0\0\0ab')],
    [['setrange', 'k3', '-1', 'ab'], err('ERR offset is out of range')],
    [['incr', 'n'], int(1)],
    [['incrby', 'n', '-11'], int(-10)],
    [['decrby', 'n', '5'], int(-15)],
    [['incr', 'k'], err('ERR value is not an integer or out of range')],
    [['incrby', 'n', '1.5'], err('ERR value is not an integer or out of range')],
    [['set', 'big', '9223372036854775807'], { type: 'simple', value: 'OK' }],
    [['incr', 'big'], err('ERR increment or decrement would overflow')],
    [['set', 'sp', ' 1'], { type: 'simple', value: 'OK' }],
    [['incr', 'sp'], err('ERR value is not an integer or out of range')],
    [['set', 'f', '10.5'], { type: 'simple', value: 'OK' }],
    [['incrbyfloat', 'f', '0.1'], bulk('10.6')],
    [['incrbyfloat', 'f', '5.0e3'], bulk('5010.6')],
    [['incrbyfloat', 'f', 'abc'], err('ERR value is not a valid float')],
    [['getdel', 'k2'], bulk('zyy')],
    [['getdel', 'k2'], { type: 'null' }],
    [['exists', 'k', 'k', 'nope'], int(2)],
    [['del', 'k', 'nope', 'n'], int(2)],
    [['strlen', 'f'], int(6)],
    [['type', 'f'], { type: 'simple', value: 'string' }],
    [['type', 'nope'], { type: 'simple', value: 'none' }],
    [['scan', 'x'], err('ERR invalid cursor')],
    [['scan', '123456'], err('ERR invalid cursor')],
    [['scan', '0', 'COUNT', '0'], err('ERR syntax error')],
    [['lpush', 'l', 'a'], err("ERR unknown command 'lpush', with args beginning with: 'l' 'a' ")],
  ];
  for (const [args, expected] of cases) assert.deepEqual(norm(await exec(...args)), expected, args.join(' '));
});

test('SCAN walks sorted keys with a cursor; KEYS and DBSIZE see every key', async () => {
  const { kv, exec } = setup();
  for (let i = 0; i < 25; i++) kv.put(`key:${String(i).padStart(2, '0')}`, 'v');
  kv.put('other', 'v');
  const seen: string[] = [];
  let cursor = '0';
  let rounds = 0;
  do {
    const r = (await exec('scan', cursor, 'MATCH', 'key:*', 'COUNT', '4')) as any;
    cursor = Buffer.from(r.items[0].value).toString();
    for (const k of r.items[1].items) seen.push(Buffer.from(k.value).toString());
    rounds++;
  } while (cursor !== '0' && rounds < 100);
  assert.deepEqual(seen, Array.from({ length: 25 }, (_, i) => `key:${String(i).padStart(2, '0')}`));
  assert.deepEqual(norm(await exec('dbsize')), int(26));
  assert.equal(((await exec('keys', 'key:1?')) as any).items.length, 10);
  assert.deepEqual(norm(await exec('flushdb')), { type: 'simple', value: 'OK' });
  assert.deepEqual(norm(await exec('dbsize')), int(0));
});

test('INCR is one write decided where it applies: a change by another writer just before it is counted, never raced', async () => {
  const { kv, exec } = setup();
  kv.put('n', '10');
  const methods: string[] = [];
  kv.inject = (method) => {
    methods.push(method);
    if (method === 'kv.txn') kv.put('n', '110');
  };
  assert.deepEqual(norm(await exec('incr', 'n')), int(111));
  assert.equal(kv.store.get('n')!.value.toString(), '111');
  assert.deepEqual(methods.filter((m) => m !== 'session.open'), ['kv.txn'], 'no read, no compare-and-set');
});

test('a write whose answer is lost is sent again under the same seq and applies once', async () => {
  const { kv, exec } = setup();
  let lost = false;
  kv.inject = (method) => {
    if (method === 'kv.txn' && !lost) {
      lost = true;
      return 'applyThenLose';
    }
  };
  const pending = exec('incr', 'n');
  await kv.clock.advance(200);
  assert.deepEqual(norm(await pending), int(1));
  assert.equal(kv.store.get('n')!.value.toString(), '1');
  assert.equal(kv.applied, 1, 'the retry found the saved result');
});

test('an expired session is replaced and the write goes through', async () => {
  const { kv, exec } = setup();
  await exec('set', 'a', '1');
  kv.sessions.clear();
  assert.deepEqual(norm(await exec('set', 'a', '2')), { type: 'simple', value: 'OK' });
  assert.equal(kv.store.get('a')!.value.toString(), '2');
});

test('no leader until the deadline: TRYAGAIN if never proposed, "outcome unknown" if it may have committed', async () => {
  const { kv, exec } = setup();
  await exec('set', 'warm', 'up');
  kv.inject = () => {
    throw codeError('CONCORD_ERR_NOT_LEADER', 'no leader');
  };
  let pending = exec('set', 'a', '1');
  await kv.clock.advance(2_000);
  assert.match((await pending as any).message, /^TRYAGAIN /);
  pending = exec('get', 'a');
  await kv.clock.advance(2_000);
  assert.match((await pending as any).message, /^TRYAGAIN /);
  let calls = 0;
  kv.inject = (method) => {
    if (method === 'kv.put' && calls++ === 0) throw codeError('CONCORD_ERR_TIMEOUT', 'timed out');
    if (method === 'kv.put') throw codeError('CONCORD_ERR_NOT_LEADER', 'no leader');
  };
  pending = exec('set', 'a', '1');
  await kv.clock.advance(2_000);
  assert.match((await pending as any).message, /^ERR outcome unknown/);
});

test('a pipelined read waits for the same connection\'s earlier writes', async () => {
  const { kv, exec } = setup();
  let release: (() => void) | null = null;
  kv.inject = (method) => {
    if (method === 'kv.put') kv.inject = null;
  };
  const slow = new Promise<void>((resolve) => (release = resolve));
  const orig = kv.call.bind(kv);
  kv.call = async (method, request) => {
    if (method === 'kv.put') await slow;
    return orig(method, request);
  };
  const write = exec('set', 'k', 'v');
  const read = exec('get', 'k');
  await new Promise((r) => setImmediate(r));
  release!();
  assert.deepEqual(norm(await write), { type: 'simple', value: 'OK' });
  assert.deepEqual(norm(await read), bulk('v'));
});

test('INFO has the sections clients read, with # Raft', async () => {
  const { exec } = setup();
  const text = Buffer.from(((await exec('info')) as any).value).toString();
  for (const section of ['# Server', '# Clients', '# Persistence', '# Replication', '# Keyspace', '# Raft']) assert.ok(text.includes(section), section);
  assert.match(text, /loading:0\r\n/);
  const only = Buffer.from(((await exec('info', 'raft')) as any).value).toString();
  assert.ok(only.startsWith('# Raft\r\n') && !only.includes('# Server'));
  assert.deepEqual(norm(await exec('command', 'count')), int(Number((norm(await exec('command', 'count')) as any).value)));
});

test('glob patterns match as Redis stringmatchlen', () => {
  const m = (p: string, s: string) => globMatch(Buffer.from(p), Buffer.from(s));
  assert.ok(m('*', ''));
  assert.ok(m('a*c', 'abbbc'));
  assert.ok(!m('a*c', 'abbbd'));
  assert.ok(m('h?llo', 'hello'));
  assert.ok(m('h[ae]llo', 'hallo'));
  assert.ok(!m('h[^e]llo', 'hello'));
  assert.ok(m('h[a-b]llo', 'hbllo'));
  assert.ok(m('h[b-a]llo', 'hallo'));
  assert.ok(m('h\\*llo', 'h*llo'));
  assert.ok(!m('h\\*llo', 'hello'));
  assert.ok(m('key:*:x', 'key:1:2:x'));
});
