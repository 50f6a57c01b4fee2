/**
 * A member's disk in the simulator: src/testing's SimulatedDisk (the crash
 * model: unsynced data and directory entries lost, torn writes, EIO and
 * ENOSPC, fsyncgate) behind a Disk that adds latency on the member's
 * *current* clock: every fdatasync takes a seeded time (with occasional
 * spikes, and more while a "slow disk" fault is on), so the host's fsync is
 * really in flight while messages, ticks and client calls arrive, and a
 * crash during it loses the unsynced data. (SimulatedDisk's own latency model
 * takes one clock for the disk's lifetime; a member's clock is replaced at
 * every restart, the disk outlives it.)
 *
 * `testingOnlyUnsafe.skipDatasync` makes the disk lie: datasync reports
 * success without making anything durable, so the storage acknowledges
 * writes (and the host sends votes and acknowledgements) before they are
 * durable. The bug-injection test proves the simulator catches that; nothing
 * else sets it.
 */
import type { Prng } from '../../src/common/rng.js';
import type { Disk, DiskFile, DiskLock, OpenMode } from '../../src/storage/disk.js';
import type { SimulatedDisk } from '../../src/testing/simulated-disk.js';
import type { SimClock } from './sim-clock.js';

export interface SimDiskFaults {
  /** Latency of one fdatasync, uniform in [min, max] ms. */
  readonly syncDelayMinMs: number;
  readonly syncDelayMaxMs: number;
  /** Probability that one fdatasync is a latency spike of up to `spikeMaxMs`. */
  readonly spikeRate: number;
  readonly spikeMaxMs: number;
  readonly testingOnlyUnsafe?: { readonly skipDatasync?: boolean };
}

export class SimDiskAdapter implements Disk {
  /** Extra latency per fdatasync while a "slow disk" fault is on (0: none). */
  slowExtraMs = 0;

  constructor(
    readonly inner: SimulatedDisk,
    private readonly clock: () => SimClock | null,
    private readonly rng: Prng,
    private readonly faults: SimDiskFaults,
  ) {}

  /** Waits one fdatasync's latency on the member's clock (forever if the member crashed meanwhile). */
  syncDelay(): Promise<void> {
    const f = this.faults;
    let ms = this.rng.between(f.syncDelayMinMs, f.syncDelayMaxMs);
    if (f.spikeMaxMs > 0 && this.rng.chance(f.spikeRate)) ms += this.rng.between(1, f.spikeMaxMs);
    if (this.slowExtraMs > 0) ms += this.rng.between(0, this.slowExtraMs);
    const clock = this.clock();
    if (ms === 0 || clock === null) return Promise.resolve();
    return new Promise((resolve) => clock.setTimer(ms, resolve));
  }

  get skipDatasync(): boolean {
    return this.faults.testingOnlyUnsafe?.skipDatasync === true;
  }

  mkdirp(dir: string): Promise<string | undefined> {
    return this.inner.mkdirp(dir);
  }

  async open(path: string, mode: OpenMode): Promise<DiskFile> {
    return new SlowFile(this, await this.inner.open(path, mode));
  }

  readdir(dir: string): Promise<string[]> {
    return this.inner.readdir(dir);
  }

  rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to);
  }

  unlink(path: string): Promise<void> {
    return this.inner.unlink(path);
  }

  fsyncDir(dir: string): Promise<void> {
    return this.inner.fsyncDir(dir);
  }

  lockDir(dir: string): Promise<DiskLock> {
    return this.inner.lockDir(dir);
  }
}

class SlowFile implements DiskFile {
  constructor(
    private readonly disk: SimDiskAdapter,
    private readonly file: DiskFile,
  ) {}

  get path(): string {
    return this.file.path;
  }

  size(): Promise<number> {
    return this.file.size();
  }

  readSync(buffer: Uint8Array, position: number): number {
    return this.file.readSync(buffer, position);
  }

  read(buffer: Uint8Array, position: number): Promise<number> {
    return this.file.read(buffer, position);
  }

  writev(buffers: readonly Uint8Array[], position: number): Promise<void> {
    return this.file.writev(buffers, position);
  }

  async datasync(): Promise<void> {
    // The sync runs for its latency, then covers what was written until then.
    await this.disk.syncDelay();
    if (this.disk.skipDatasync) return;
    await this.file.datasync();
  }

  truncate(length: number): Promise<void> {
    return this.file.truncate(length);
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
