/** The one backoff (client retries, peer-link reconnects): full jitter under a doubling, capped ceiling. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, backoffCeilingMs, backoffDelayMs } from '../../src/common/backoff.js';
import { Prng, type RandomSource } from '../../src/common/rng.js';

/** A RandomSource that returns the given floats in turn. */
function scripted(floats: number[]): RandomSource {
  return { nextFloat: () => floats.shift()!, nextInt: () => 0 };
}

test('backoff waits grow exponentially to the cap, with jitter below the ceiling, and reset', () => {
  const almostOne = 1 - 2 ** -32;
  const backoff = new Backoff({ initialMs: 5, maxMs: 100 }, scripted([...Array(8).fill(almostOne), 0.5]));
  const waits = Array.from({ length: 8 }, () => backoff.nextDelayMs());
  assert.deepEqual(
    waits.map((w) => Math.round(w)),
    [5, 10, 20, 40, 80, 100, 100, 100],
  );
  backoff.reset();
  assert.equal(backoff.nextDelayMs(), 2.5);
});

test('full jitter: a zero draw waits nothing; the ceiling never overflows after many failures', () => {
  assert.equal(backoffDelayMs(3, { initialMs: 10, maxMs: 80 }, scripted([0])), 0);
  assert.equal(backoffCeilingMs(1000, { initialMs: 10, maxMs: 80 }), 80);
  assert.equal(backoffDelayMs(1000, { initialMs: 10, maxMs: 80 }, scripted([0.5])), 40);
  const random = new Prng(7);
  const backoff = new Backoff({ initialMs: 5, maxMs: 100 }, random);
  for (let i = 0; i < 50; i++) {
    const d = backoff.nextDelayMs();
    assert.ok(d >= 0 && d < 100, `wait ${d} within [0, 100)`);
  }
});
