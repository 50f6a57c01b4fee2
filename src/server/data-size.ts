/**
 * The bytes a member's data directory holds on disk (WAL segments,
 * snapshots, the member file): the "data size" of `concord endpoint status`
 * and the concord_mvcc_db_total_size_in_bytes gauge. Walking the directory
 * costs a few stat calls, so the figure is cached for `cacheMs` on the
 * member's clock: status calls and scrapes may come often.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../common/clock.js';

function directoryBytes(path: string): number {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(path, { withFileTypes: true });
  } catch {
    return 0; // removed meanwhile (a snapshot replaced): counted at the next walk
  }
  for (const entry of entries) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) total += directoryBytes(full);
    else if (entry.isFile()) {
      try {
        total += statSync(full).size;
      } catch {
        // Removed between readdir and stat.
      }
    }
  }
  return total;
}

export class DataDirSize {
  private cachedBytes = 0;
  private measuredAtMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly dataDir: string,
    private readonly clock: Clock,
    private readonly cacheMs = 1000,
  ) {}

  bytes(): number {
    const nowMs = this.clock.monotonicMs();
    if (nowMs - this.measuredAtMs >= this.cacheMs) {
      this.cachedBytes = directoryBytes(this.dataDir);
      this.measuredAtMs = nowMs;
    }
    return this.cachedBytes;
  }
}
