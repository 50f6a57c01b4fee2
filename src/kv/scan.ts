/**
 * Range reads of the key tree: one page of keys in unsigned byte order, by
 * prefix or by [start, end), resumable after a given key. Reads the local
 * state only; linearizability is the server's job (ReadIndex, thesis §6.4).
 */
import { binaryStringFromBytes, compareBinaryStrings, prefixEnd, type BinaryString } from './bytes.js';
import { InvalidScanError } from './errors.js';
import type { KeyTree, StoredEntry } from './key-tree.js';
import type { KvOptions } from './options.js';
import type { KvEntry, ScanPage, ScanRequest } from './types.js';

/**
 * One page of `tree`'s keys. Throws InvalidScanError for a malformed request.
 * `next` is set when keys may remain in range (it is exact: null means the
 * range is exhausted).
 */
export function scanKeys(tree: KeyTree, request: ScanRequest, options: KvOptions, hidden?: (entry: StoredEntry) => boolean): ScanPage {
  const { limit } = request;
  const { scanLimitMax, scanBytesMax } = options;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > scanLimitMax) {
    throw new InvalidScanError({ reason: `limit must be an integer in [1, ${scanLimitMax}]` });
  }
  const bytesMax = Math.min(request.bytesMax ?? scanBytesMax, scanBytesMax);
  if (!(bytesMax >= 1)) throw new InvalidScanError({ reason: 'bytesMax must be >= 1' });
  let low: BinaryString;
  let high: BinaryString | null;
  if (request.prefix !== undefined) {
    if (request.start !== undefined || request.end !== undefined) {
      throw new InvalidScanError({ reason: 'give either a prefix or a start/end range, not both' });
    }
    low = binaryStringFromBytes(request.prefix);
    const end = prefixEnd(request.prefix);
    high = end === null ? null : binaryStringFromBytes(end);
  } else {
    low = request.start === undefined ? '' : binaryStringFromBytes(request.start);
    high = request.end === undefined ? null : binaryStringFromBytes(request.end);
    if (high !== null && compareBinaryStrings(low, high) > 0) throw new InvalidScanError({ reason: 'start is after end' });
  }
  let exclusive: BinaryString | null = null;
  if (request.after !== undefined) {
    const after = binaryStringFromBytes(request.after);
    if (compareBinaryStrings(after, low) >= 0) {
      low = after;
      exclusive = after;
    }
  }

  const entries: KvEntry[] = [];
  let bytes = 0;
  let full = false;
  for (const entry of tree.values(low)) {
    if (exclusive !== null) {
      const skip = entry.keyString === exclusive;
      exclusive = null;
      if (skip) continue;
    }
    if (high !== null && compareBinaryStrings(entry.keyString, high) >= 0) break;
    // An expired key that its expiry entry has not deleted yet (leases.ts) reads as absent.
    if (hidden !== undefined && hidden(entry)) continue;
    if (full) return { entries, next: entries[entries.length - 1]!.key };
    entries.push(entry);
    bytes += entry.keyString.length + entry.value.length;
    full = entries.length >= limit || bytes >= bytesMax;
  }
  return { entries, next: null };
}
