/**
 * The one crash model of Concord's disk: an in-memory `Disk` for the storage
 * tests, the server's failure tests and the deterministic simulator. A test
 * double: shipped code never imports src/testing.
 *
 * The model (POSIX, as `Disk` documents it). Two images of everything are
 * kept: what the process sees (the page cache) and what survives a power cut.
 * - File data becomes durable only by `datasync()` on the file: it covers the
 *   writes and truncates made before the call (a file's size is data).
 * - Directory entries (a file created, renamed or unlinked; a directory made
 *   by `mkdirp`) become durable only by `fsyncDir()` on the directory holding
 *   them. Until then a created file may vanish after a crash, an unlinked one
 *   reappear, a rename be undone; a directory whose own entry is lost takes
 *   everything inside it along. A rename inside one directory is one change
 *   (either done or not after a crash); across directories it is two.
 * - `crash()` is a power cut: everything not durable is lost, every handle
 *   dies, locks are released, syncs in flight never complete. With
 *   `tear: true` the crash is adversarial instead: each unsynced directory
 *   change survives or not (a seeded coin each), and per file a seeded prefix
 *   of its unsynced writes lands, the last of them torn: where it extends the
 *   file it is cut at any byte; where it overwrites bytes the file had (the
 *   WAL's preallocated zeros) each 512-byte sector lands or not, independently
 *   (sectors are atomic, written in any order), lost ones keeping old bytes.
 * - `processCrash()` is `kill -9`: handles die and locks are released, but
 *   the page cache survives, with what it has not yet made durable still at
 *   risk from a later `crash()`.
 * - Faults (`injectFault`): the next `count` matching calls of an operation
 *   fail with ENOSPC or EIO, each with `probability` (seeded). A failed call
 *   has no effect, except a failed `datasync`: as on Linux ("fsyncgate") the
 *   writes it covered stay visible but are never made durable by a later
 *   sync, so only a crash tells what the disk kept.
 * - Latency: with a `clock`, each write, sync and directory operation takes
 *   the `latency` model's time on that clock, with seeded spikes; without one
 *   every operation completes at once (in promise order).
 * - `pauseSyncs()` holds every datasync until `resumeSyncs()` (deterministic
 *   group commit in tests); `stats` counts calls.
 *
 * All randomness comes from one injected `RandomSource` (a seeded `Prng` by
 * default), so a seed fixes every tear, fault and spike.
 */
import * as nodePath from 'node:path';
import type { Clock } from '../common/clock.js';
import { Prng, type RandomSource } from '../common/rng.js';
import type { Disk, DiskFile, DiskLock, OpenMode } from '../storage/disk.js';
import { DataDirLockedError } from '../storage/errors.js';

/** Sectors a disk writes atomically (a torn overwrite keeps or loses whole sectors). */
const sectorBytes = 512;

/** A growable byte image of one file. */
class Bytes {
  private buf = new Uint8Array(0);
  length = 0;

  static copyOf(other: Bytes): Bytes {
    const b = new Bytes();
    b.buf = other.buf.slice(0, other.length);
    b.length = other.length;
    return b;
  }

  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  write(position: number, data: Uint8Array): void {
    const end = position + data.byteLength;
    this.ensure(end);
    if (position > this.length) this.buf.fill(0, this.length, position);
    this.buf.set(data, position);
    this.length = Math.max(this.length, end);
  }

  truncate(length: number): void {
    this.ensure(length);
    if (length > this.length) this.buf.fill(0, this.length, length);
    this.length = length;
  }

  private ensure(capacity: number): void {
    if (capacity <= this.buf.byteLength) return;
    const next = new Uint8Array(Math.max(capacity, this.buf.byteLength * 2, 4096));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
}

type PendingWrite = { kind: 'write'; position: number; data: Uint8Array } | { kind: 'truncate'; length: number };

class Inode {
  current = new Bytes();
  durable = new Bytes();
  /** Writes not yet durable, oldest first. */
  pending: PendingWrite[] = [];

  apply(op: PendingWrite, target: Bytes): void {
    if (op.kind === 'write') target.write(op.position, op.data);
    else target.truncate(op.length);
  }
}

/** A directory's entry for a subdirectory (the directory itself lives in SimulatedDisk.dirs by path). */
class DirEntry {
  constructor(readonly path: string) {}
}

type Node = Inode | DirEntry;

/** One unsynced change of a directory: names set (to a node) or removed (null), applied together. */
type DirChange = ReadonlyArray<readonly [name: string, node: Node | null]>;

class Directory {
  current = new Map<string, Node>();
  durable = new Map<string, Node>();
  pending: DirChange[] = [];

  change(change: DirChange): void {
    for (const [name, node] of change) {
      if (node === null) this.current.delete(name);
      else this.current.set(name, node);
    }
    this.pending.push(change);
  }

  sync(): void {
    this.durable = new Map(this.current);
    this.pending = [];
  }
}

export const SimulatedDiskOp = {
  Open: 'open',
  Writev: 'writev',
  Datasync: 'datasync',
  Truncate: 'truncate',
  Rename: 'rename',
  Unlink: 'unlink',
  FsyncDir: 'fsyncDir',
  Read: 'read',
} as const;
export type SimulatedDiskOp = (typeof SimulatedDiskOp)[keyof typeof SimulatedDiskOp];

export interface Fault {
  readonly op: SimulatedDiskOp;
  readonly code: 'ENOSPC' | 'EIO';
  /** How many calls fail (default 1; Infinity for a dead disk). */
  count?: number;
  /** Only calls on paths containing this string. */
  readonly pathIncludes?: string;
  /** Each matching call fails with this probability (default 1), drawn from the disk's RandomSource. */
  readonly probability?: number;
}

/** Time operations take on the injected clock (milliseconds; all default 0). */
export interface LatencyModel {
  readonly writeMs?: number;
  readonly datasyncMs?: number;
  /** open, rename, unlink, fsyncDir, truncate. */
  readonly metadataMs?: number;
  /** Chance that one operation takes `spikeMs` more. */
  readonly spikeProbability?: number;
  readonly spikeMs?: number;
}

export interface SimulatedDiskOptions {
  /** Seed of the default RandomSource (a Prng); ignored when `random` is given. Default 1. */
  readonly seed?: number;
  readonly random?: RandomSource;
  /** Required for `latency`: operations then complete on this clock's timers. */
  readonly clock?: Clock;
  readonly latency?: LatencyModel;
}

export interface SimulatedDiskStats {
  writevs: number;
  datasyncs: number;
  fsyncDirs: number;
  bytesWritten: number;
  faultsInjected: number;
  latencySpikes: number;
}

function ioError(code: string, syscall: string, path: string): Error {
  const messages: Record<string, string> = {
    ENOSPC: 'no space left on device',
    EIO: 'i/o error',
    ENOENT: 'no such file or directory',
    EEXIST: 'file already exists',
    EBADF: 'bad file descriptor',
    ENOTEMPTY: 'directory not empty',
  };
  return Object.assign(new Error(`${code}: ${messages[code] ?? 'error'}, ${syscall} '${path}' (simulated)`), {
    code,
    errno: code === 'EIO' ? -5 : code === 'ENOSPC' ? -28 : undefined,
    syscall,
    path,
  });
}

const never = new Promise<never>(() => {});

export class SimulatedDisk implements Disk {
  readonly stats: SimulatedDiskStats = { writevs: 0, datasyncs: 0, fsyncDirs: 0, bytesWritten: 0, faultsInjected: 0, latencySpikes: 0 };
  private readonly dirs = new Map<string, Directory>();
  private readonly faults: Fault[] = [];
  private readonly locks = new Set<string>();
  private readonly random: RandomSource;
  private readonly clock: Clock | undefined;
  private readonly latency: Required<LatencyModel>;
  /** Bumped by crash() and processCrash(): handles opened before are dead. */
  private generation = 0;
  private syncsPaused = false;
  private readonly heldSyncs: Array<() => void> = [];

  constructor(options: SimulatedDiskOptions = {}) {
    this.random = options.random ?? new Prng(options.seed ?? 1);
    this.clock = options.clock;
    const l = options.latency ?? {};
    this.latency = {
      writeMs: l.writeMs ?? 0,
      datasyncMs: l.datasyncMs ?? 0,
      metadataMs: l.metadataMs ?? 0,
      spikeProbability: l.spikeProbability ?? 0,
      spikeMs: l.spikeMs ?? 0,
    };
    const slow = this.latency.writeMs + this.latency.datasyncMs + this.latency.metadataMs + this.latency.spikeProbability > 0;
    if (slow && this.clock === undefined) throw new RangeError('SimulatedDisk latency needs a clock');
    this.dirs.set('/', new Directory());
  }

  // ---- test controls -------------------------------------------------------

  injectFault(fault: Fault): void {
    this.faults.push({ ...fault, count: fault.count ?? 1 });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  pauseSyncs(): void {
    this.syncsPaused = true;
  }

  resumeSyncs(): void {
    this.syncsPaused = false;
    for (const release of this.heldSyncs.splice(0)) release();
  }

  /** Datasyncs currently held by pauseSyncs(). */
  get heldSyncCount(): number {
    return this.heldSyncs.length;
  }

  /** Power cut (see the file comment): everything not durable is lost, or with `tear` partly kept. */
  crash(options: { tear?: boolean } = {}): void {
    this.kill();
    const tear = options.tear === true;
    // Directory entries first: which names, and so which files, survive.
    for (const dir of this.dirs.values()) {
      const image = new Map(dir.durable);
      if (tear) {
        for (const change of dir.pending) {
          if (this.random.nextInt(2) === 0) continue;
          for (const [name, node] of change) {
            if (node === null) image.delete(name);
            else image.set(name, node);
          }
        }
      }
      dir.durable = image;
      dir.current = new Map(image);
      dir.pending = [];
    }
    // Directories whose entry was lost are gone with their contents.
    const reachable = new Set<string>(['/']);
    const survivors = new Set<Inode>();
    const walk = (path: string): void => {
      for (const node of this.dirs.get(path)!.current.values()) {
        if (node instanceof DirEntry) {
          if (!reachable.has(node.path) && this.dirs.has(node.path)) {
            reachable.add(node.path);
            walk(node.path);
          }
        } else survivors.add(node);
      }
    };
    walk('/');
    for (const path of [...this.dirs.keys()]) if (!reachable.has(path)) this.dirs.delete(path);
    for (const inode of survivors) {
      const image = Bytes.copyOf(inode.durable);
      if (tear && inode.pending.length > 0) {
        const keep = this.random.nextInt(inode.pending.length + 1);
        for (let i = 0; i < keep; i++) {
          const op = inode.pending[i]!;
          if (i === keep - 1 && op.kind === 'write') this.tearWrite(image, op);
          else inode.apply(op, image);
        }
      }
      inode.durable = image;
      inode.current = Bytes.copyOf(image);
      inode.pending = [];
    }
  }

  /** `kill -9` of the process using the disk: handles and locks go, the page cache (and its risk) stays. */
  processCrash(): void {
    this.kill();
  }

  private kill(): void {
    this.generation++;
    this.locks.clear();
    this.heldSyncs.length = 0;
    this.syncsPaused = false;
  }

  /** See the file comment: a write torn by a power cut. */
  private tearWrite(image: Bytes, op: { position: number; data: Uint8Array }): void {
    const end = op.position + op.data.byteLength;
    const oldLength = image.length;
    // The part overwriting existing bytes: whole sectors, each landing or not.
    for (let s = op.position; s < Math.min(end, oldLength); ) {
      const next = Math.min((Math.floor(s / sectorBytes) + 1) * sectorBytes, end, oldLength);
      if (this.random.nextInt(2) === 0) image.write(s, op.data.subarray(s - op.position, next - op.position));
      s = next;
    }
    // The part extending the file: a prefix, cut at any byte.
    const from = Math.max(op.position, oldLength);
    if (end > from) {
      const cut = from + this.random.nextInt(end - from + 1);
      if (cut > from) image.write(from, op.data.subarray(from - op.position, cut - op.position));
    }
  }

  /** Length of a file's durable image: what a crash now would leave (tests check preallocation through this). */
  durableBytes(path: string): number {
    return this.lookup(path, 'stat').durable.length;
  }

  /** The bytes of a file as the process sees them (tests corrupt files through this). */
  fileBytes(path: string): Uint8Array {
    return this.lookup(path, 'read').current.view();
  }

  /** True if `path` names a file or directory (as the process sees it). */
  exists(path: string): boolean {
    const resolved = nodePath.resolve(path);
    if (this.dirs.has(resolved)) return true;
    const dir = this.dirs.get(nodePath.dirname(resolved));
    return dir?.current.has(nodePath.basename(resolved)) ?? false;
  }

  /** Overwrites bytes of a file, durably (simulates bit rot or a cut). */
  corrupt(path: string, mutate: (bytes: Uint8Array) => Uint8Array): void {
    const inode = this.lookup(path, 'open');
    const next = mutate(inode.current.view().slice());
    const image = new Bytes();
    image.write(0, next);
    inode.current = image;
    inode.durable = Bytes.copyOf(image);
    inode.pending = [];
  }

  // ---- Disk ----------------------------------------------------------------

  async mkdirp(dir: string): Promise<string | undefined> {
    const parts = nodePath.resolve(dir).split('/').filter(Boolean);
    let at = '/';
    let first: string | undefined;
    for (const part of parts) {
      const parent = this.dirs.get(at)!;
      const child = nodePath.join(at, part);
      const existing = parent.current.get(part);
      if (existing instanceof Inode) throw ioError('EEXIST', 'mkdir', child);
      if (existing === undefined) {
        // The new directory's entry in its parent is durable only after fsyncDir(parent).
        this.dirs.set(child, new Directory());
        parent.change([[part, new DirEntry(child)]]);
        first ??= child;
      }
      at = child;
    }
    return first;
  }

  async open(path: string, mode: OpenMode): Promise<DiskFile> {
    const generation = this.generation;
    await this.delay(this.latency.metadataMs);
    this.checkAlive(generation, path);
    this.maybeFail('open', path);
    const { dir, name } = this.split(path);
    let inode = dir.current.get(name);
    if (inode instanceof DirEntry) throw ioError('EISDIR', 'open', path);
    if (mode === 'create-exclusive') {
      if (inode) throw ioError('EEXIST', 'open', path);
      inode = new Inode();
      dir.change([[name, inode]]);
    } else if (!inode) throw ioError('ENOENT', 'open', path);
    return new SimulatedFile(this, path, inode, this.generation, mode === 'read');
  }

  async readdir(dirPath: string): Promise<string[]> {
    const dir = this.dirs.get(nodePath.resolve(dirPath));
    if (!dir) throw ioError('ENOENT', 'scandir', dirPath);
    return [...dir.current.keys()].sort();
  }

  async rename(from: string, to: string): Promise<void> {
    const generation = this.generation;
    await this.delay(this.latency.metadataMs);
    this.checkAlive(generation, from);
    this.maybeFail('rename', from);
    const a = this.split(from);
    const b = this.split(to);
    const inode = a.dir.current.get(a.name);
    if (!(inode instanceof Inode)) throw ioError('ENOENT', 'rename', from);
    if (a.dir === b.dir) a.dir.change([[a.name, null], [b.name, inode]]);
    else {
      b.dir.change([[b.name, inode]]);
      a.dir.change([[a.name, null]]);
    }
  }

  async unlink(path: string): Promise<void> {
    const generation = this.generation;
    await this.delay(this.latency.metadataMs);
    this.checkAlive(generation, path);
    this.maybeFail('unlink', path);
    const { dir, name } = this.split(path);
    if (!(dir.current.get(name) instanceof Inode)) throw ioError('ENOENT', 'unlink', path);
    dir.change([[name, null]]);
  }

  async fsyncDir(dirPath: string): Promise<void> {
    const generation = this.generation;
    await this.delay(this.latency.metadataMs);
    this.checkAlive(generation, dirPath);
    this.maybeFail('fsyncDir', dirPath);
    const dir = this.dirs.get(nodePath.resolve(dirPath));
    if (!dir) throw ioError('ENOENT', 'fsync', dirPath);
    this.stats.fsyncDirs++;
    dir.sync();
  }

  async lockDir(dirPath: string): Promise<DiskLock> {
    const key = nodePath.resolve(dirPath);
    if (this.locks.has(key)) throw new DataDirLockedError(key, null);
    this.locks.add(key);
    const generation = this.generation;
    return {
      release: async () => {
        if (generation === this.generation) this.locks.delete(key);
      },
    };
  }

  // ---- internals used by SimulatedFile --------------------------------------

  /** @internal Throws EBADF for a handle from before a crash. */
  checkAlive(generation: number, path: string): void {
    if (generation !== this.generation) throw ioError('EBADF', 'use after crash', path);
  }

  /** @internal */
  isAlive(generation: number): boolean {
    return generation === this.generation;
  }

  /** @internal Throws the first matching injected fault, if its coin says so. */
  maybeFail(op: SimulatedDiskOp, path: string): void {
    const fault = this.faults.find(
      (f) => f.op === op && (f.count ?? 1) > 0 && (f.pathIncludes === undefined || path.includes(f.pathIncludes)),
    );
    if (!fault) return;
    if (fault.probability !== undefined && fault.probability < 1 && this.random.nextFloat() >= fault.probability) return;
    fault.count = (fault.count ?? 1) - 1;
    this.stats.faultsInjected++;
    throw ioError(fault.code, op, path);
  }

  /**
   * @internal Waits the operation's simulated time (none without latency).
   * An operation in flight when the process dies never completes.
   */
  async delay(baseMs: number): Promise<void> {
    if (this.clock === undefined) return;
    let ms = baseMs;
    if (this.latency.spikeProbability > 0 && this.random.nextFloat() < this.latency.spikeProbability) {
      ms += this.latency.spikeMs;
      this.stats.latencySpikes++;
    }
    if (ms <= 0) return;
    const generation = this.generation;
    const clock = this.clock;
    await new Promise<void>((resolve) => clock.setTimer(ms, resolve));
    if (generation !== this.generation) await never;
  }

  /** @internal */
  get writeMs(): number {
    return this.latency.writeMs;
  }

  /** @internal */
  get datasyncMs(): number {
    return this.latency.datasyncMs;
  }

  /** @internal */
  get metadataMs(): number {
    return this.latency.metadataMs;
  }

  /** @internal Holds a datasync while syncs are paused; one held across a crash never completes. */
  async waitForSync(): Promise<void> {
    if (!this.syncsPaused) return;
    const generation = this.generation;
    await new Promise<void>((resolve) => this.heldSyncs.push(resolve));
    if (generation !== this.generation) await never;
  }

  private split(path: string): { dir: Directory; name: string } {
    const resolved = nodePath.resolve(path);
    const dir = this.dirs.get(nodePath.dirname(resolved));
    if (!dir) throw ioError('ENOENT', 'open', path);
    return { dir, name: nodePath.basename(resolved) };
  }

  private lookup(path: string, syscall: string): Inode {
    const { dir, name } = this.split(path);
    const inode = dir.current.get(name);
    if (!(inode instanceof Inode)) throw ioError('ENOENT', syscall, path);
    return inode;
  }
}

class SimulatedFile implements DiskFile {
  private closed = false;

  constructor(
    private readonly disk: SimulatedDisk,
    readonly path: string,
    private readonly inode: Inode,
    private readonly generation: number,
    private readonly readOnly: boolean,
  ) {}

  private check(): void {
    if (this.closed) throw ioError('EBADF', 'closed', this.path);
    this.disk.checkAlive(this.generation, this.path);
  }

  async size(): Promise<number> {
    this.check();
    return this.inode.current.length;
  }

  readSync(buffer: Uint8Array, position: number): number {
    this.check();
    this.disk.maybeFail('read', this.path);
    const data = this.inode.current.view();
    const n = Math.max(0, Math.min(buffer.byteLength, data.byteLength - position));
    if (n > 0) buffer.set(data.subarray(position, position + n));
    return n;
  }

  async read(buffer: Uint8Array, position: number): Promise<number> {
    return this.readSync(buffer, position);
  }

  async writev(buffers: readonly Uint8Array[], position: number): Promise<void> {
    this.check();
    if (this.readOnly) throw ioError('EBADF', 'write', this.path);
    // Copies now: the caller may reuse its buffers as soon as the call returns.
    const copies = buffers.map((b) => b.slice());
    await this.disk.delay(this.disk.writeMs);
    this.check();
    this.disk.maybeFail('writev', this.path);
    let at = position;
    for (const data of copies) {
      const op: PendingWrite = { kind: 'write', position: at, data };
      this.inode.apply(op, this.inode.current);
      this.inode.pending.push(op);
      at += data.byteLength;
    }
    this.disk.stats.writevs++;
    this.disk.stats.bytesWritten += at - position;
  }

  async datasync(): Promise<void> {
    this.check();
    // What is pending now is what this sync covers, even if the sync is held or slow.
    const covered = this.inode.pending.slice();
    try {
      this.disk.maybeFail('datasync', this.path);
    } catch (error) {
      // fsyncgate: the covered writes are dropped from the sync queue, never made durable.
      this.inode.pending = this.inode.pending.filter((op) => !covered.includes(op));
      throw error;
    }
    this.disk.stats.datasyncs++;
    await this.disk.waitForSync();
    await this.disk.delay(this.disk.datasyncMs);
    this.disk.checkAlive(this.generation, this.path);
    for (const op of covered) {
      const at = this.inode.pending.indexOf(op);
      if (at < 0) continue; // made durable by a sync that finished first
      // Durable in order: everything pending before a covered write lands with it.
      for (const earlier of this.inode.pending.splice(0, at + 1)) this.inode.apply(earlier, this.inode.durable);
    }
  }

  async truncate(length: number): Promise<void> {
    this.check();
    if (this.readOnly) throw ioError('EBADF', 'ftruncate', this.path);
    await this.disk.delay(this.disk.metadataMs);
    this.check();
    this.disk.maybeFail('truncate', this.path);
    const op: PendingWrite = { kind: 'truncate', length };
    this.inode.apply(op, this.inode.current);
    this.inode.pending.push(op);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
