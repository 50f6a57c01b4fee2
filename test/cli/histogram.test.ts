/** The benchmark's latency histogram reports percentiles within its stated precision. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LatencyHistogram } from '../../src/cli/bench/histogram.js';

function exactPercentile(sorted: readonly number[], percent: number): number {
  const rank = Math.max(1, Math.ceil((percent / 100) * sorted.length));
  return sorted[rank - 1]!;
}

test('percentiles are never below the exact value and within 1/64 above it', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 50_000_000 }), { minLength: 1, maxLength: 300 }),
      fc.constantFrom(0, 1, 50, 90, 99, 99.9, 100),
      (values, percent) => {
        const histogram = new LatencyHistogram();
        for (const v of values) histogram.record(v);
        const exact = exactPercentile([...values].sort((a, b) => a - b), percent);
        const reported = histogram.percentile(percent);
        assert.ok(reported >= exact, `p${percent}: ${reported} < exact ${exact}`);
        assert.ok(reported <= exact + Math.max(0, exact / 64), `p${percent}: ${reported} too far above ${exact}`);
      },
    ),
  );
});

test('small values are exact; count, min, max, mean and merge', () => {
  const a = new LatencyHistogram();
  const b = new LatencyHistogram();
  for (let v = 1; v <= 100; v++) (v % 2 ? a : b).record(v);
  a.merge(b);
  assert.equal(a.count, 100);
  assert.equal(a.min, 1);
  assert.equal(a.max, 100);
  assert.equal(a.mean, 50.5);
  assert.equal(a.percentile(50), 50);
  assert.equal(a.percentile(99), 99);
  assert.equal(new LatencyHistogram().percentile(99), 0);
});
