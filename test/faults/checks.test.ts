/**
 * The fault suite's checks can fail: each is shown a history with the defect
 * it exists to catch (a lost acknowledged add, an increment applied that the
 * client was told was not, a stale read), and a clean one. And a seed always
 * gives the same nemesis schedule (what the rerun command relies on). No root
 * needed: pure functions over records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCounter, checkRegister, checkSet } from './checks.js';
import { allNemeses, scheduleFaults } from './nemesis.js';
import type { HistoryRecord } from './workloads.js';

const add = (elem: string, result: 'ok' | 'unknown' | 'failed'): HistoryRecord => ({ w: 'set', c: 1, elem, result, call: 0, ret: 1 });
const inc = (key: string, result: 'ok' | 'unknown' | 'failed'): HistoryRecord => ({ w: 'counter', c: 1, key, result, call: 0, ret: 1, attempts: 1 });

test('set: an acknowledged add missing at the end, or an element reported not applied, fails; unknown adds may go either way', () => {
  const history = [add('set/1-1', 'ok'), add('set/1-2', 'unknown'), add('set/1-3', 'failed')];
  assert.equal(checkSet(history, ['set/1-1']).ok, true);
  assert.equal(checkSet(history, ['set/1-1', 'set/1-2']).ok, true);
  assert.match(checkSet(history, ['set/1-2']).problems.join('\n'), /acknowledged add set\/1-1 is lost/);
  assert.match(checkSet(history, ['set/1-1', 'set/1-3']).problems.join('\n'), /reported as not applied/);
  assert.match(checkSet(history, ['set/1-1', 'set/9-9']).problems.join('\n'), /never attempted/);
});

test('counter: the final version must lie in [acknowledged, acknowledged + unknown] and equal the value', () => {
  const history = [inc('ctr/a', 'ok'), inc('ctr/a', 'ok'), inc('ctr/a', 'unknown'), inc('ctr/a', 'failed'), inc('ctr/b', 'ok')];
  const finals = (a: number, aValue = a) => ({ 'ctr/a': { version: a, value: aValue }, 'ctr/b': { version: 1, value: 1 } });
  assert.equal(checkCounter(history, finals(2)).ok, true);
  assert.equal(checkCounter(history, finals(3)).ok, true);
  assert.match(checkCounter(history, finals(4)).problems.join('\n'), /version 4 > 2 acknowledged \+ 1 unknown/);
  assert.match(checkCounter(history, finals(1)).problems.join('\n'), /acknowledged increment is lost/);
  assert.match(checkCounter(history, finals(3, 4)).problems.join('\n'), /value 4 != version 3/);
});

test('register: a read of an overwritten value after the overwrite returned is not linearizable; unknown writes may take effect late', () => {
  const w = (value: string, call: number, ret: number | null): HistoryRecord => ({
    w: 'register', c: 1, input: { kind: 'write', key: 'reg/a', value }, call, ret, output: ret === null ? null : { kind: 'write' },
  });
  const r = (value: string | null, call: number, ret: number): HistoryRecord => ({
    w: 'register', c: 2, input: { kind: 'read', key: 'reg/a' }, call, ret, output: { kind: 'read', value },
  });
  assert.equal(checkRegister([w('x', 0, 1), w('y', 2, 3), r('y', 4, 5)]).result, 'ok');
  assert.equal(checkRegister([w('x', 0, 1), w('y', 2, 3), r('x', 4, 5)]).ok, false);
  // An unknown write of x may land after y: reading x later is allowed.
  assert.equal(checkRegister([w('x', 0, null), w('y', 2, 3), r('x', 4, 5)]).result, 'ok');
});

test('a seed always gives the same nemesis schedule, and different seeds differ', () => {
  const a = scheduleFaults(42, allNemeses, 60_000);
  assert.deepEqual(scheduleFaults(42, allNemeses, 60_000), a);
  assert.notDeepEqual(scheduleFaults(43, allNemeses, 60_000), a);
  assert.ok(a.length >= 5, `a minute holds several faults, got ${a.length}`);
  for (const f of a) assert.ok(f.atMs + f.holdMs <= 60_000);
});
