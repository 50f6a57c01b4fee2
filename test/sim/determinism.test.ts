import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TraceMode, runSimulation } from './cluster.js';
import { Prng } from '../../src/common/rng.js';

describe('simulator determinism', () => {
  it('running a seed twice gives the same trace, line for line', async () => {
    for (const seed of [7, 42, 1234]) {
      const a = await runSimulation({ seed, trace: TraceMode.Full });
      const b = await runSimulation({ seed, trace: TraceMode.Full });
      assert.ok(a.fullTrace && b.fullTrace);
      assert.ok(a.fullTrace.length > 300, `seed ${seed} trace is suspiciously short (${a.fullTrace.length} lines)`);
      assert.equal(a.traceDigest, b.traceDigest);
      assert.deepEqual(a.fullTrace, b.fullTrace);
      assert.deepEqual(a.stats, b.stats);
    }
  });

  it('the trace hash is the same with and without keeping the full trace, and differs between seeds', async () => {
    const tail = await runSimulation({ seed: 99, trace: TraceMode.Tail });
    const full = await runSimulation({ seed: 99, trace: TraceMode.Full });
    assert.equal(tail.traceDigest, full.traceDigest);
    assert.deepEqual(tail.traceTail, full.fullTrace?.slice(-tail.traceTail.length));
    const other = await runSimulation({ seed: 100, trace: TraceMode.Tail });
    assert.notEqual(other.traceDigest, tail.traceDigest);
  });

  it('running without a trace (campaign mode) simulates exactly the same run', async () => {
    for (const seed of [3, 17]) {
      const off = await runSimulation({ seed, trace: TraceMode.Off });
      const on = await runSimulation({ seed, trace: TraceMode.Tail });
      assert.deepEqual(off.stats, on.stats);
      assert.equal(off.ok, on.ok);
    }
  });
});

describe('seeded PRNG', () => {
  it('is a pure function of its seed', async () => {
    const a = new Prng(5);
    const b = new Prng(5);
    for (let i = 0; i < 1000; i++) assert.equal(a.nextU32(), b.nextU32());
    assert.notEqual(new Prng(5).nextU32(), new Prng(6).nextU32());
  });

  it('draws integers uniformly within bounds', async () => {
    const rng = new Prng(1);
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < 60_000; i++) {
      const x = rng.nextInt(6);
      assert.ok(Number.isInteger(x) && x >= 0 && x < 6);
      counts[x]!++;
    }
    for (const c of counts) assert.ok(c > 9_000 && c < 11_000, `skewed counts ${counts.join(',')}`);
    assert.throws(() => rng.nextInt(0), RangeError);
  });

  it('forks independent sub-streams that do not depend on later draws of the parent', async () => {
    const p1 = new Prng(9);
    const p2 = new Prng(9);
    const f1 = p1.fork('node-n1');
    const f2 = p2.fork('node-n1');
    p1.nextU32(); // extra draws in the parent after forking do not shift the child
    for (let i = 0; i < 100; i++) assert.equal(f1.nextU32(), f2.nextU32());
    assert.notEqual(new Prng(9).fork('a').nextU32(), new Prng(9).fork('b').nextU32());
  });
});
