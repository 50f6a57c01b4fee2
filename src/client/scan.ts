/**
 * `kv.scan(...)`: keys in key order as an async iterable of pages, following
 * the members' continuation tokens (`next` -> `after`).
 *
 * The next page is requested as soon as the current one arrives, so the
 * consumer's work on one page overlaps the round trip of the next. Leaving the
 * loop early (`break`, `return`, an exception) aborts that prefetch: nothing
 * keeps running for a consumer that has gone.
 */
import { Consistency, type ScanRequest, type ScanResponse } from '../protocol/index.js';
import { toBytes, type BytesLike } from './bytes.js';
import { InvalidRequestError } from './errors.js';
import { KeyValueResult } from './key-value.js';

/** Either every key starting with `prefix`, or the range [start, end) (either bound may be left out). */
export type ScanRange = { readonly prefix: BytesLike } | { readonly start?: BytesLike; readonly end?: BytesLike };

export interface ScanPageOptions {
  readonly pageSize: number;
  /** Total keys to yield across pages (Infinity for all). */
  readonly limit: number;
  readonly consistency?: Consistency;
  readonly signal?: AbortSignal;
}

/** Fetches one page; `signal` fires when the consumer stops iterating. */
export type FetchPage = (request: ScanRequest, signal: AbortSignal) => Promise<ScanResponse>;

export class ScanIterable implements AsyncIterable<KeyValueResult[]> {
  private readonly bounds: Pick<ScanRequest, 'prefix' | 'start' | 'end'>;

  constructor(
    range: ScanRange,
    private readonly options: ScanPageOptions,
    private readonly fetchPage: FetchPage,
  ) {
    this.bounds = scanBounds(range);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<KeyValueResult[], void, undefined> {
    const stop = new AbortController();
    const onCallerAbort = (): void => stop.abort(this.options.signal?.reason);
    this.options.signal?.addEventListener('abort', onCallerAbort, { once: true });
    let prefetch: Promise<ScanResponse> | null = null;
    try {
      let remaining = this.options.limit;
      let after: Uint8Array | undefined = undefined;
      while (remaining > 0) {
        const page: ScanResponse = await (prefetch ?? this.request(after, remaining, stop.signal));
        prefetch = null;
        const items = page.items.slice(0, Math.min(page.items.length, remaining)).map((kv) => new KeyValueResult(kv));
        remaining -= items.length;
        if (page.next !== null && remaining > 0) {
          after = page.next;
          prefetch = this.request(after, remaining, stop.signal);
          // Observed here so that an abandoned prefetch never becomes an unhandled rejection.
          prefetch.catch(() => undefined);
        } else {
          remaining = 0;
        }
        if (items.length > 0) yield items;
      }
    } finally {
      this.options.signal?.removeEventListener('abort', onCallerAbort);
      stop.abort();
    }
  }

  /** The same keys one entry at a time. */
  async *entries(): AsyncGenerator<KeyValueResult, void, undefined> {
    for await (const page of this) yield* page;
  }

  /** Every key in range (up to `limit`) in one array. */
  async toArray(): Promise<KeyValueResult[]> {
    const all: KeyValueResult[] = [];
    for await (const page of this) all.push(...page);
    return all;
  }

  private request(after: Uint8Array | undefined, remaining: number, signal: AbortSignal): Promise<ScanResponse> {
    const request: ScanRequest = {
      ...this.bounds,
      ...(after !== undefined ? { after } : {}),
      limit: Math.min(this.options.pageSize, remaining),
      consistency: this.options.consistency ?? Consistency.Linearizable,
    };
    return this.fetchPage(request, signal);
  }
}

function scanBounds(range: ScanRange): Pick<ScanRequest, 'prefix' | 'start' | 'end'> {
  if ('prefix' in range) {
    if ('start' in range || 'end' in range) {
      throw new InvalidRequestError('give either a prefix or a start/end range, not both', 'prefix with range');
    }
    const prefix = toBytes(range.prefix);
    // The empty prefix matches every key: that is a scan without bounds.
    return prefix.length === 0 ? {} : { prefix };
  }
  const out: { start?: Uint8Array; end?: Uint8Array } = {};
  if (range.start !== undefined) out.start = toBytes(range.start);
  if (range.end !== undefined) out.end = toBytes(range.end);
  return out;
}
