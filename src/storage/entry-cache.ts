/**
 * The most recent entries, by value, so that replication and the apply loop
 * rarely read the disk. It always holds a contiguous suffix of the log, in a
 * ring buffer (appends are the hot path). Its bound is `entryCacheBytesMax`
 * (sum of data lengths) except for entries whose records are not written yet:
 * those are the only copy and stay until written.
 */
import type { Entry } from '../raft/types.js';

export class EntryCache {
  private ring: Array<Entry | undefined> = new Array<Entry | undefined>(1024);
  /** Ring slot of firstIndex. */
  private head = 0;
  private count = 0;
  private firstIndex = 1;
  private bytes = 0;

  constructor(private readonly bytesMax: number) {}

  get(index: number): Entry | undefined {
    const i = index - this.firstIndex;
    if (i < 0 || i >= this.count) return undefined;
    return this.ring[(this.head + i) & (this.ring.length - 1)];
  }

  /** Adds `entry` at the end; it must follow the cached suffix, else the cache restarts at it. */
  put(entry: Entry): void {
    if (this.count === 0 || entry.index !== this.firstIndex + this.count) this.clear(entry.index);
    if (this.count === this.ring.length) this.grow();
    this.ring[(this.head + this.count) & (this.ring.length - 1)] = entry;
    this.count++;
    this.bytes += entry.data.byteLength;
  }

  /** Drops cached entries after `index`. */
  truncateAfter(index: number): void {
    const keep = Math.max(0, index - this.firstIndex + 1);
    while (this.count > keep) {
      const slot = (this.head + this.count - 1) & (this.ring.length - 1);
      this.bytes -= this.ring[slot]!.data.byteLength;
      this.ring[slot] = undefined;
      this.count--;
    }
  }

  /** Drops cached entries up to `index`. */
  dropThrough(index: number): void {
    while (this.count > 0 && this.firstIndex <= index) this.dropFirst();
    if (this.count === 0) this.clear(Math.max(this.firstIndex, index + 1));
  }

  /** Evicts oldest entries while over the bound, never an entry `canEvict` refuses. */
  evict(canEvict: (index: number) => boolean): void {
    while (this.bytes > this.bytesMax && this.count > 0 && canEvict(this.firstIndex)) this.dropFirst();
  }

  clear(nextIndex: number): void {
    this.ring.fill(undefined);
    this.head = 0;
    this.count = 0;
    this.firstIndex = nextIndex;
    this.bytes = 0;
  }

  private dropFirst(): void {
    this.bytes -= this.ring[this.head]!.data.byteLength;
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) & (this.ring.length - 1);
    this.count--;
    this.firstIndex++;
  }

  private grow(): void {
    const next = new Array<Entry | undefined>(this.ring.length * 2);
    for (let i = 0; i < this.count; i++) next[i] = this.ring[(this.head + i) & (this.ring.length - 1)];
    this.ring = next;
    this.head = 0;
  }
}
