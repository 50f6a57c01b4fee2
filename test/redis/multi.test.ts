/**
 * MULTI/EXEC/DISCARD/WATCH/UNWATCH over an in-memory member: queued
 * commands answer +QUEUED, EXEC runs them as one transaction (one log entry)
 * with every reply Redis gives, WATCH makes EXEC answer a null array when a
 * watched key changed, refused commands make it EXECABORT, and Redis's texts
 * for nesting and misuse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeKv } from './fake-backend.js';
import { bulk, err, int, norm, setup } from './command-harness.js';

const ok = { type: 'simple', value: 'OK' };
const queued = { type: 'simple', value: 'QUEUED' };
const arr = (...items: unknown[]) => ({ type: 'array', items });

test('EXEC runs the queued string and keyspace commands as one log entry, replies in order', async () => {
  const { kv, exec } = setup();
  assert.deepEqual(norm(await exec('set', 'n', '10')), ok);
  assert.deepEqual(norm(await exec('multi')), ok);
  for (const args of [
    ['incr', 'n'],
    ['get', 'n'],
    ['set', 'a', 'x', 'EX', '100'],
    ['append', 'a', 'y'],
    ['ttl', 'a'],
    ['mset', 'b', '1', 'c', '2'],
    ['del', 'c', 'missing'],
    ['incr', 'a'],
    ['rename', 'b', 'b2'],
    ['exists', 'b', 'b2'],
    ['ping'],
  ]) {
    assert.deepEqual(norm(await exec(...args)), queued, args.join(' '));
  }
  const before = kv.applied;
  assert.deepEqual(
    norm(await exec('exec')),
    arr(int(11), bulk('11'), ok, int(2), int(100), ok, int(1), err('ERR value is not an integer or out of range'), ok, int(1), { type: 'simple', value: 'PONG' }),
  );
  assert.equal(kv.applied - before, 1, 'one transaction entry');
  assert.deepEqual(norm(await exec('mget', 'n', 'a', 'b', 'b2', 'c')), arr(bulk('11'), bulk('xy'), { type: 'null' }, bulk('1'), { type: 'null' }));
  assert.deepEqual(norm(await exec('ttl', 'a')), int(100), 'APPEND kept the TTL SET EX gave inside the transaction');
});

test("Redis's texts: EXEC/DISCARD without MULTI, nested MULTI, WATCH inside MULTI, EXECABORT after a refused command", async () => {
  const { exec } = setup();
  assert.deepEqual(norm(await exec('exec')), err('ERR EXEC without MULTI'));
  assert.deepEqual(norm(await exec('discard')), err('ERR DISCARD without MULTI'));
  await exec('multi');
  assert.deepEqual(norm(await exec('multi')), err('ERR MULTI calls can not be nested'));
  assert.deepEqual(norm(await exec('watch', 'k')), err('ERR WATCH inside MULTI is not allowed'));
  assert.deepEqual(norm(await exec('set', 'k', 'v')), queued);
  assert.deepEqual(norm(await exec('discard')), ok);
  assert.deepEqual(norm(await exec('get', 'k')), { type: 'null' }, 'DISCARD dropped the queue');
  await exec('multi');
  assert.deepEqual(norm(await exec('set', 'k', 'v')), queued);
  assert.deepEqual(norm(await exec('nosuchcommand', 'x')), err("ERR unknown command 'nosuchcommand', with args beginning with: 'x' "));
  assert.deepEqual(norm(await exec('get')), err("ERR wrong number of arguments for 'get' command"));
  assert.deepEqual(norm(await exec('exec')), err('EXECABORT Transaction discarded because of previous errors.'));
  assert.deepEqual(norm(await exec('get', 'k')), { type: 'null' }, 'nothing applied');
});

test('WATCH: a watched key changed by another connection makes EXEC answer a null array and apply nothing; UNWATCH forgets', async () => {
  const kv = new FakeKv();
  const a = setup(kv);
  const b = setup(kv);
  await a.exec('set', 'w', '1');
  assert.deepEqual(norm(await a.exec('watch', 'w', 'missing')), ok);
  await b.exec('set', 'w', '2');
  await a.exec('multi');
  await a.exec('set', 'out', 'x');
  assert.deepEqual(norm(await a.exec('exec')), { type: 'nullArray' });
  assert.deepEqual(norm(await a.exec('get', 'out')), { type: 'null' });
  // A key watched while missing: its creation fails EXEC too.
  await a.exec('watch', 'missing');
  await b.exec('set', 'missing', 'now');
  await a.exec('multi');
  await a.exec('set', 'out', 'x');
  assert.deepEqual(norm(await a.exec('exec')), { type: 'nullArray' });
  // Watches end with EXEC; UNWATCH drops them before.
  await a.exec('watch', 'w');
  await b.exec('set', 'w', '3');
  await a.exec('unwatch');
  await a.exec('multi');
  await a.exec('set', 'out', 'y');
  assert.deepEqual(norm(await a.exec('exec')), arr(ok));
  assert.deepEqual(norm(await a.exec('get', 'out')), bulk('y'));
  // An unchanged watched key lets EXEC through.
  await a.exec('watch', 'w');
  await a.exec('multi');
  await a.exec('incr', 'w');
  assert.deepEqual(norm(await a.exec('exec')), arr(int(4)));
});

test('a key read inside the transaction and changed before its entry applies: EXEC runs the commands again on fresh values', async () => {
  const kv = new FakeKv();
  const { exec } = setup(kv);
  await exec('set', 'n', '1');
  let raced = false;
  kv.inject = (method) => {
    // Another client's INCR lands between EXEC's read and its transaction, once.
    if (method === 'kv.txn' && !raced) {
      raced = true;
      kv.put('n', '100');
    }
  };
  await exec('multi');
  await exec('incr', 'n');
  // Read by a later command: the INCR runs on the overlay (not as an incr op), so the race is seen.
  await exec('get', 'n');
  assert.deepEqual(norm(await exec('exec')), arr(int(101), bulk('101')));
  assert.deepEqual(norm(await exec('get', 'n')), bulk('101'));
});

test('INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT of a key nothing else in the transaction names: decided where the entry applies, never read, never rerun', async () => {
  const kv = new FakeKv();
  const { exec } = setup(kv);
  await exec('set', 'c', '10', 'EX', '100');
  await exec('set', 'other', 'x');
  const reads: string[] = [];
  let txns = 0;
  kv.inject = (method, request) => {
    if (method === 'kv.get') reads.push(Buffer.from(request.key).toString());
    // Another client's write to the counter lands between EXEC's reads and its entry.
    if (method === 'kv.txn' && txns++ === 0) kv.put('c', '100');
  };
  await exec('multi');
  for (const args of [['incr', 'c'], ['get', 'other'], ['incrby', 'c', '5'], ['decr', 'c'], ['decrby', 'c', '2'], ['incrbyfloat', 'c', '0.5'], ['incr', 'fresh']]) {
    assert.deepEqual(norm(await exec(...args)), queued, args.join(' '));
  }
  assert.deepEqual(norm(await exec('exec')), arr(int(101), bulk('x'), int(106), int(105), int(103), bulk('103.5'), int(1)));
  kv.inject = null;
  assert.equal(txns, 1, 'one entry: the counters were not compared, so the racing write did not rerun EXEC');
  assert.deepEqual(reads, ['other'], 'only the key a command reads is read');
  assert.deepEqual(norm(await exec('mget', 'c', 'fresh')), arr(bulk('103.5'), bulk('1')));
});

test("increments sent as incr ops keep Redis's replies: argument errors in place, a key holding no number or overflowing fails only that command", async () => {
  const { exec } = setup();
  await exec('set', 'word', 'hello');
  await exec('set', 'big', '9223372036854775807');
  await exec('set', 'c', '1', 'EX', '100');
  await exec('multi');
  for (const args of [
    ['incrby', 'c', 'notanumber'],
    ['decrby', 'c', '-9223372036854775808'],
    ['incrbyfloat', 'c', 'abc'],
    ['incr', 'word'],
    ['incrbyfloat', 'word', '1'],
    ['incr', 'big'],
    ['set', 't', '1'],
    ['incr', 'c'],
  ]) {
    await exec(...args);
  }
  assert.deepEqual(
    norm(await exec('exec')),
    arr(
      err('ERR value is not an integer or out of range'),
      err('ERR decrement would overflow'),
      err('ERR value is not a valid float'),
      err('ERR value is not an integer or out of range'),
      err('ERR value is not a valid float'),
      err('ERR increment or decrement would overflow'),
      ok,
      int(2),
    ),
  );
  assert.deepEqual(norm(await exec('mget', 'word', 'big', 't', 'c')), arr(bulk('hello'), bulk('9223372036854775807'), bulk('1'), bulk('2')));
  assert.deepEqual(norm(await exec('ttl', 'c')), int(100), 'INCR keeps the TTL');
});
