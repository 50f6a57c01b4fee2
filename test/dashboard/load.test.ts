/**
 * The dashboard's load numbers: interval quantiles from histogram buckets
 * (as histogram_quantile over a rate) and per-second rates, read from a
 * prom-client registry like the member's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { LoadSampler, loadHistoryMax, quantile } from '../../src/dashboard/load.js';

test('quantile interpolates inside the bucket that holds the rank', () => {
  // 10 observations: 4 in (0, 1], 6 in (1, 2].
  const buckets = new Map([[1, 4], [2, 10], [Infinity, 10]]);
  assert.equal(quantile(buckets, 0.4), 1);
  assert.equal(quantile(buckets, 0.7), 1.5);
  assert.equal(quantile(buckets, 1), 2);
  assert.equal(quantile(new Map([[1, 0], [Infinity, 0]]), 0.5), null);
  // Observations above the last finite bound report that bound (as Prometheus does).
  assert.equal(quantile(new Map([[1, 0], [Infinity, 3]]), 0.99), 1);
});

test('a sample reports what happened since the previous one, per second', async () => {
  const registry = new Registry();
  const requests = new Counter({ name: 'concord_requests_total', help: 'h', labelNames: ['method', 'code'], registers: [registry] });
  const seconds = new Histogram({ name: 'concord_request_duration_seconds', help: 'h', labelNames: ['method'], buckets: [0.001, 0.01, 0.1], registers: [registry] });
  const committed = new Gauge({ name: 'concord_server_proposals_committed_total', help: 'h', registers: [registry] });
  const rtt = new Histogram({ name: 'concord_network_peer_round_trip_time_seconds', help: 'h', labelNames: ['To'], buckets: [0.001, 0.002], registers: [registry] });
  const sampler = new LoadSampler(registry);
  // Old observations must not count in the next interval.
  for (let i = 0; i < 100; i++) seconds.observe({ method: 'kv.get' }, 0.05);
  assert.equal(await sampler.sample(1_000, 0), null);
  requests.inc({ method: 'kv.get', code: 'ok' }, 20);
  requests.inc({ method: 'kv.put', code: 'ok' }, 4);
  requests.inc({ method: 'kv.put', code: 'PERMISSION_DENIED' }, 2);
  for (let i = 0; i < 10; i++) seconds.observe({ method: 'kv.get' }, 0.0005);
  committed.set(50);
  rtt.observe({ To: 'n2' }, 0.0015);
  const sample = (await sampler.sample(3_000, 2_000))!;
  assert.deepEqual(sample.requestsPerSecond, { 'kv.get': 10, 'kv.put': 3 });
  assert.equal(sample.committedPerSecond, 25);
  assert.ok(sample.latencyP99Ms !== null && sample.latencyP99Ms <= 1, `p99 ${sample.latencyP99Ms} ms counts only this interval`);
  assert.equal(sample.fsyncP99Ms, null);
  assert.ok(sample.peerRttMs.n2 !== null && sample.peerRttMs.n2! > 1 && sample.peerRttMs.n2! <= 2);
  assert.equal(sample.t, 3_000);
  assert.equal(sampler.history.length, 1);
  // The next interval counts only what came after (prom-client reuses its counters' value objects).
  requests.inc({ method: 'kv.get', code: 'ok' }, 5);
  assert.deepEqual((await sampler.sample(4_000, 3_000))!.requestsPerSecond, { 'kv.get': 5, 'kv.put': 0 });
  for (let i = 0; i < loadHistoryMax + 5; i++) await sampler.sample(5_000 + i, 4_000 + i * 1000);
  assert.equal(sampler.history.length, loadHistoryMax);
});
