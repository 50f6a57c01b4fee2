/**
 * A connection's pipelined plain writes (SET, DEL, the INCR family) go to the member as one
 * transaction under one seq of its session, each answered from its own
 * result; anything else in the pipeline (a read, a read-modify-write)
 * closes the batch, so answers and effects stay in request order. Over the
 * in-memory member (fake-backend.ts), on a manual clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultIdentity, RespConnection } from '../../src/resp/index.js';
import { WRITE_BATCH_OPS_MAX } from '../../src/redis/write-batch.js';
import { bulk, err, int, norm, setup } from './command-harness.js';

const ok = { type: 'simple', value: 'OK' };

test('pipelined SETs and DELs of one connection apply as one transaction, each answered', async () => {
  const { kv, exec } = setup();
  await exec('set', 'warm', 'up');
  const appliedBefore = kv.applied;
  const replies = await Promise.all([exec('set', 'a', '1'), exec('set', 'b', '2'), exec('del', 'a', 'b', 'c', 'a'), exec('set', 'a', '3'), exec('del', 'warm')]);
  assert.deepEqual(replies.map(norm), [ok, ok, int(2), ok, int(1)]);
  assert.equal(kv.txns, 1, 'one transaction');
  assert.equal(kv.applied - appliedBefore, 1, 'one log entry for the whole pipeline');
  assert.equal(kv.store.get('a')!.value.toString(), '3');
  assert.ok(!kv.store.has('b') && !kv.store.has('warm'));
});

test('a read or a read-modify-write closes the batch: a later SET never overtakes it', async () => {
  const { kv, exec } = setup();
  const replies = await Promise.all([
    exec('set', 'a', '1'),
    exec('set', 'n', '10'),
    exec('get', 'a'),
    exec('set', 'a', '2'),
    exec('incr', 'n'),
    exec('set', 'n', '100'),
    exec('get', 'n'),
    exec('set', 'a', '3'),
    exec('getset', 'a', '4'),
  ]);
  assert.deepEqual(replies.map(norm), [ok, ok, bulk('1'), ok, int(11), ok, bulk('100'), ok, bulk('3')]);
  assert.equal(kv.store.get('a')!.value.toString(), '4');
  assert.equal(kv.store.get('n')!.value.toString(), '100');
});

test('a batch refused as a whole is sent op by op: each SET gets its own answer', async () => {
  const { kv, exec } = setup();
  kv.keyBytesMax = 8;
  const replies = await Promise.all([exec('set', 'a', '1'), exec('set', 'much-too-long', '2'), exec('set', 'b', '3')]);
  assert.deepEqual(replies.map(norm), [ok, err('ERR key too large'), ok]);
  assert.equal(kv.store.get('a')!.value.toString(), '1');
  assert.equal(kv.store.get('b')!.value.toString(), '3');
  assert.ok(!kv.store.has('much-too-long'));
});

test('a batch whose answer is lost is sent again under the same seq and applies once', async () => {
  const { kv, exec } = setup();
  await exec('set', 'warm', 'up');
  let lost = false;
  kv.inject = (method) => {
    if (method === 'kv.txn' && !lost) {
      lost = true;
      return 'applyThenLose';
    }
  };
  const pending = Promise.all([exec('set', 'x', '1'), exec('set', 'y', '2'), exec('del', 'warm')]);
  await kv.clock.advance(200);
  assert.deepEqual((await pending).map(norm), [ok, ok, int(1)], 'the retry answers with the saved result');
  assert.equal(kv.txns, 1, 'applied once');
  assert.equal(kv.store.get('y')!.version, 1);
});

test('no leader until the deadline: every write of the batch answers TRYAGAIN, nothing applied', async () => {
  const { kv, exec } = setup();
  await exec('set', 'warm', 'up');
  kv.inject = (method) => {
    if (method === 'kv.txn') throw Object.assign(new Error('no leader'), { code: 'CONCORD_ERR_NOT_LEADER' });
  };
  const pending = Promise.all([exec('set', 'x', '1'), exec('set', 'y', '2')]);
  await kv.clock.advance(2_000);
  for (const r of await pending) assert.match((r as { message: string }).message, /^TRYAGAIN /);
  assert.ok(!kv.store.has('x') && !kv.store.has('y'));
});

test('a pipeline longer than a batch holds goes as several transactions, in order', async () => {
  const { kv, exec } = setup();
  await exec('set', 'warm', 'up');
  const count = WRITE_BATCH_OPS_MAX + 10;
  const replies = await Promise.all(Array.from({ length: count }, (_, i) => exec('set', 'k', String(i))));
  assert.ok(replies.every((r) => r.type === 'simple'));
  assert.equal(kv.txns, 2);
  assert.equal(kv.store.get('k')!.value.toString(), String(count - 1), 'the last SET wins');
});

test('replies leave in request order over the RESP driver, with reads, writes and errors mixed', async () => {
  const { table } = setup();
  const writes: Buffer[] = [];
  const connection = new RespConnection({ id: 7, table, services: { identity: defaultIdentity, authRequired: false }, output: { write: (b) => writes.push(b), close: () => {} } });
  const commands = [
    ['SET', 'a', '1'],
    ['GET', 'a'],
    ['SET', 'a', '2'],
    ['NOSUCH', 'x'],
    ['SET', 'b', 'text'],
    ['INCR', 'b'],
    ['SET', 'a', '3'],
    ['DEL', 'a', 'zz'],
    ['GET', 'a'],
    ['SET', 'c', '1', 'XX'],
    ['PING'],
    ['SET', 'c', '5'],
    ['INCR', 'c'],
  ];
  connection.receive(Buffer.from(commands.map((c) => `*${c.length}\r\n${c.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`).join('')));
  for (let i = 0; i < 20 && Buffer.concat(writes).toString().split('\r\n').length < 14; i++) await new Promise((r) => setImmediate(r));
  assert.equal(
    Buffer.concat(writes).toString(),
    [
      '+OK',
      '$1\r\n1',
      '+OK',
      "-ERR unknown command 'NOSUCH', with args beginning with: 'x' ",
      '+OK',
      '-ERR value is not an integer or out of range',
      '+OK',
      ':1',
      '$-1',
      '$-1',
      '+PONG',
      '+OK',
      ':6',
      '',
    ].join('\r\n'),
  );
});

test('pipelined INCRs join the batch: one transaction, each answered with its own new value, read-after-write kept', async () => {
  const { kv, exec } = setup();
  await exec('set', 'warm', 'up');
  const txnsBefore = kv.txns;
  const replies = await Promise.all([
    exec('incr', 'n'),
    exec('incrby', 'n', '10'),
    exec('set', 'm', '5'),
    exec('decrby', 'm', '7'),
    exec('incrbyfloat', 'f', '1.5'),
    exec('decr', 'n'),
    exec('get', 'n'),
  ]);
  assert.deepEqual(replies.map(norm), [int(1), int(11), ok, int(-2), bulk('1.5'), int(10), bulk('10')]);
  assert.equal(kv.txns - txnsBefore, 1, 'the six writes were one transaction');
});

test('an INCR that fails in a batch answers its error alone: its neighbours apply exactly once', async () => {
  const { kv, exec } = setup();
  await exec('set', 's', 'abc');
  await exec('set', 'big', '9223372036854775807');
  const replies = await Promise.all([exec('incr', 'n'), exec('incr', 's'), exec('incr', 'n'), exec('incr', 'big'), exec('incrbyfloat', 's', '1'), exec('incr', 'n')]);
  assert.deepEqual(replies.map(norm), [
    int(1),
    err('ERR value is not an integer or out of range'),
    int(2),
    err('ERR increment or decrement would overflow'),
    err('ERR value is not a valid float'),
    int(3),
  ]);
  assert.equal(kv.store.get('n')!.value.toString(), '3');
  assert.equal(kv.store.get('s')!.value.toString(), 'abc');
});

test('a batch of INCRs whose answer is lost is sent again under the same seq and counts once', async () => {
  const { kv, exec } = setup();
  await exec('set', 'warm', 'up');
  let lost = false;
  kv.inject = (method) => {
    if (method === 'kv.txn' && !lost) {
      lost = true;
      return 'applyThenLose';
    }
  };
  const pending = Promise.all([exec('incr', 'n'), exec('incr', 'n'), exec('incrby', 'n', '5')]);
  await kv.clock.advance(200);
  assert.deepEqual((await pending).map(norm), [int(1), int(2), int(7)]);
  assert.equal(kv.store.get('n')!.value.toString(), '7');
});
