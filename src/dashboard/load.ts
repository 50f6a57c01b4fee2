/**
 * Live load for the dashboard, read from the member's own prom-client
 * registry: the same numbers /metrics serves, turned into per-second rates
 * and interval quantiles (the difference of two histogram readings, as
 * Prometheus' histogram_quantile(rate(...)) would give).
 */
import type { Registry } from 'prom-client';

/** One second of load. Quantiles are null when nothing was observed in the interval. */
export interface LoadSample {
  /** Wall-clock milliseconds (for the chart's x axis). */
  readonly t: number;
  /** Client requests per second by method. */
  readonly requestsPerSecond: Readonly<Record<string, number>>;
  readonly latencyP50Ms: number | null;
  readonly latencyP99Ms: number | null;
  /** Per second: growth of the commit and applied index. */
  readonly committedPerSecond: number;
  readonly appliedPerSecond: number;
  readonly fsyncP99Ms: number | null;
  /** Median heartbeat round trip by peer (leader only). */
  readonly peerRttMs: Readonly<Record<string, number | null>>;
}

interface MetricValue {
  readonly value: number;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly metricName?: string;
}
type Reading = Map<string, readonly MetricValue[]>;

/** Samples kept for a subscriber that joins late: five minutes at one a second. */
export const loadHistoryMax = 300;

export class LoadSampler {
  private last: { reading: Reading; atMs: number } | null = null;
  readonly history: LoadSample[] = [];

  constructor(private readonly registry: Registry) {}

  /** Reads the registry; the first call only sets the baseline and returns null. */
  async sample(nowMs: number, monotonicMs: number): Promise<LoadSample | null> {
    const reading: Reading = new Map();
    // Copied: prom-client hands out its live value objects for counters, which later increments would change.
    for (const metric of await this.registry.getMetricsAsJSON()) {
      reading.set(metric.name, (metric.values as MetricValue[]).map((v) => ({ value: v.value, labels: { ...v.labels }, ...(v.metricName !== undefined ? { metricName: v.metricName } : {}) })));
    }
    const previous = this.last;
    this.last = { reading, atMs: monotonicMs };
    if (previous === null) return null;
    const seconds = Math.max((monotonicMs - previous.atMs) / 1000, 0.001);
    const delta = (name: string, keep: (v: MetricValue) => boolean = () => true): number =>
      sum(reading.get(name), keep) - sum(previous.reading.get(name), keep);
    const requestsPerSecond: Record<string, number> = {};
    for (const v of reading.get('concord_requests_total') ?? []) {
      const method = String(v.labels.method);
      requestsPerSecond[method] = (requestsPerSecond[method] ?? 0);
    }
    for (const method of Object.keys(requestsPerSecond)) requestsPerSecond[method] = round(delta('concord_requests_total', (v) => v.labels.method === method) / seconds);
    const latency = bucketDelta(reading, previous.reading, 'concord_request_duration_seconds', () => true);
    const fsync = bucketDelta(reading, previous.reading, 'concord_disk_wal_fsync_duration_seconds', () => true);
    const peers = new Set((reading.get('concord_network_peer_round_trip_time_seconds') ?? []).filter((v) => v.metricName?.endsWith('_bucket')).map((v) => String(v.labels.To)));
    const peerRttMs: Record<string, number | null> = {};
    for (const peer of peers) peerRttMs[peer] = msOrNull(quantile(bucketDelta(reading, previous.reading, 'concord_network_peer_round_trip_time_seconds', (v) => v.labels.To === peer), 0.5));
    const out: LoadSample = {
      t: nowMs,
      requestsPerSecond,
      latencyP50Ms: msOrNull(quantile(latency, 0.5)),
      latencyP99Ms: msOrNull(quantile(latency, 0.99)),
      committedPerSecond: round(delta('concord_server_proposals_committed_total') / seconds),
      appliedPerSecond: round(delta('concord_server_proposals_applied_total') / seconds),
      fsyncP99Ms: msOrNull(quantile(fsync, 0.99)),
      peerRttMs,
    };
    this.history.push(out);
    if (this.history.length > loadHistoryMax) this.history.shift();
    return out;
  }
}

function sum(values: readonly MetricValue[] | undefined, keep: (v: MetricValue) => boolean): number {
  let total = 0;
  for (const v of values ?? []) if (keep(v)) total += v.value;
  return total;
}

/** Cumulative bucket counts (by upper bound) observed between two readings, summed over the matching series. */
function bucketDelta(now: Reading, before: Reading, histogram: string, keep: (v: MetricValue) => boolean): Map<number, number> {
  const out = new Map<number, number>();
  const add = (values: readonly MetricValue[] | undefined, sign: number): void => {
    for (const v of values ?? []) {
      if (v.metricName !== `${histogram}_bucket` || !keep(v)) continue;
      const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le);
      out.set(le, (out.get(le) ?? 0) + sign * v.value);
    }
  };
  add(now.get(histogram), 1);
  add(before.get(histogram), -1);
  return out;
}

/** histogram_quantile: linear interpolation inside the bucket holding the q-th observation. */
export function quantile(buckets: Map<number, number>, q: number): number | null {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Infinity) ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const bound of bounds) {
    const count = buckets.get(bound)!;
    if (count >= rank) {
      if (bound === Infinity) return lowerBound;
      return lowerBound + ((bound - lowerBound) * (rank - lowerCount)) / Math.max(count - lowerCount, 1e-9);
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return lowerBound;
}

function msOrNull(seconds: number | null): number | null {
  return seconds === null ? null : round(seconds * 1000);
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
