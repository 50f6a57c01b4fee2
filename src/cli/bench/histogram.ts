/**
 * A latency histogram in the style of HdrHistogram: log-linear buckets, 64
 * linear sub-buckets per power of two, so any recorded value is reported within
 * 1/64 (about 1.6%) of its true value, in constant memory, whatever the
 * number of samples. Recording is an index computation and one increment, cheap
 * enough to run on every operation of a benchmark without becoming the
 * bottleneck (keeping every sample and sorting would grow without bound).
 */
const subBucketBits = 6;
const subBucketCount = 1 << subBucketBits; // 64
/** Values up to 2^(exponentsMax + 6) - 1 microseconds (far beyond any sane latency) are recorded exactly in their bucket. */
const exponentsMax = 40;
const bucketCountMax = (exponentsMax + 2) * subBucketCount;

function bucketIndex(value: number): number {
  if (value < 2 * subBucketCount) return value;
  const log2 = value < 2 ** 32 ? 31 - Math.clz32(value) : Math.floor(Math.log2(value));
  const exponent = log2 - subBucketBits;
  return exponent * subBucketCount + Math.floor(value / 2 ** exponent);
}

/** The largest value that falls in a bucket (percentiles report this: never an under-estimate). */
function bucketHighestValue(index: number): number {
  if (index < 2 * subBucketCount) return index;
  const exponent = Math.floor((index - subBucketCount) / subBucketCount);
  const sub = index - exponent * subBucketCount;
  return (sub + 1) * 2 ** exponent - 1;
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(bucketCountMax);
  private total = 0;
  private sum = 0;
  private minValue = Number.POSITIVE_INFINITY;
  private maxValue = 0;

  /** Records one value (an integer number of units, e.g. microseconds; fractions are rounded). */
  record(value: number): void {
    const v = Math.max(0, Math.round(value));
    const index = Math.min(bucketIndex(v), bucketCountMax - 1);
    this.counts[index]!++;
    this.total++;
    this.sum += v;
    if (v < this.minValue) this.minValue = v;
    if (v > this.maxValue) this.maxValue = v;
  }

  merge(other: LatencyHistogram): void {
    for (let i = 0; i < bucketCountMax; i++) this.counts[i]! += other.counts[i]!;
    this.total += other.total;
    this.sum += other.sum;
    this.minValue = Math.min(this.minValue, other.minValue);
    this.maxValue = Math.max(this.maxValue, other.maxValue);
  }

  get count(): number {
    return this.total;
  }

  get min(): number {
    return this.total === 0 ? 0 : this.minValue;
  }

  get max(): number {
    return this.maxValue;
  }

  get mean(): number {
    return this.total === 0 ? 0 : this.sum / this.total;
  }

  /** The value at or below which `percent`% of the recorded values lie (0 when empty). */
  percentile(percent: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil((percent / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < bucketCountMax; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(bucketHighestValue(i), this.maxValue);
    }
    return this.maxValue;
  }
}
