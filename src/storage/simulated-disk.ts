/**
 * An in-memory Disk for tests and the cluster simulator.
 *
 * It keeps two images of everything: what the process sees (current) and what
 * would survive a power cut (durable). File data becomes durable on
 * `datasync()`; directory entries (create, rename, unlink) on `fsyncDir()`,
 * as POSIX requires. `crash()` throws away everything not durable. With
 * `tear: true` a seeded prefix of each file's unsynced operations survives,
 * the last surviving write torn: where it extends the file it is cut at a
 * seeded byte (the torn tail a power cut leaves when a file grows); where it
 * overwrites bytes the file already had (the WAL's preallocated zeros), each
 * 512-byte sector of it lands or not, independently (sectors are written
 * atomically, in any order), so lost sectors keep their old bytes.
 *
 * Faults: `injectFault` makes the next N calls of an operation fail with
 * ENOSPC or EIO (nothing of a failed call takes effect). `pauseSyncs()` holds
 * every datasync until `resumeSyncs()`, to make group commit deterministic in
 * tests. `stats` counts calls.
 */
import * as nodePath from 'node:path';
import { DataDirLockedError } from './errors.js';
import type { Disk, DiskFile, DiskLock, OpenMode } from './disk.js';

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

type PendingOp = { kind: 'write'; position: number; data: Uint8Array } | { kind: 'truncate'; length: number };

class Inode {
  current = new Bytes();
  durable = new Bytes();
  pending: PendingOp[] = [];

  apply(op: PendingOp, target: Bytes): void {
    if (op.kind === 'write') target.write(op.position, op.data);
    else target.truncate(op.length);
  }
}

interface Directory {
  current: Map<string, Inode>;
  durable: Map<string, Inode>;
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
}

export interface SimulatedDiskStats {
  writevs: number;
  datasyncs: number;
  fsyncDirs: number;
  bytesWritten: number;
}

function ioError(code: string, syscall: string, path: string): Error {
  const messages: Record<string, string> = {
    ENOSPC: 'no space left on device',
    EIO: 'i/o error',
    ENOENT: 'no such file or directory',
    EEXIST: 'file already exists',
    EBADF: 'bad file descriptor',
  };
  return Object.assign(new Error(`${code}: ${messages[code] ?? 'error'}, ${syscall} '${path}' (simulated)`), {
    code,
    syscall,
    path,
  });
}

/** mulberry32: small, seeded, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class SimulatedDisk implements Disk {
  readonly stats: SimulatedDiskStats = { writevs: 0, datasyncs: 0, fsyncDirs: 0, bytesWritten: 0 };
  private readonly dirs = new Map<string, Directory>();
  private readonly faults: Fault[] = [];
  private readonly locks = new Set<string>();
  private readonly random: () => number;
  /** Bumped by crash(): handles opened before it are dead. */
  private generation = 0;
  private syncsPaused = false;
  private readonly heldSyncs: Array<() => void> = [];

  constructor(options: { seed?: number } = {}) {
    this.random = prng(options.seed ?? 1);
    this.dirs.set('/', { current: new Map(), durable: new Map() });
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

  /**
   * Power cut: everything not durable is lost (with `tear`, a seeded prefix of
   * each file's unsynced operations survives, possibly cutting a write short).
   * Every open handle dies, locks are released, held syncs never complete.
   */
  crash(options: { tear?: boolean } = {}): void {
    this.generation++;
    this.locks.clear();
    this.heldSyncs.length = 0;
    this.syncsPaused = false;
    const survivors = new Set<Inode>();
    for (const dir of this.dirs.values()) {
      dir.current = new Map(dir.durable);
      for (const inode of dir.durable.values()) survivors.add(inode);
    }
    for (const inode of survivors) {
      const image = Bytes.copyOf(inode.durable);
      if (options.tear && inode.pending.length > 0) {
        const keep = Math.floor(this.random() * (inode.pending.length + 1));
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

  /** See the class comment: a write torn by a power cut. */
  private tearWrite(image: Bytes, op: { position: number; data: Uint8Array }): void {
    const end = op.position + op.data.byteLength;
    const oldLength = image.length;
    // The part overwriting existing bytes: whole sectors, each landing or not.
    for (let s = op.position; s < Math.min(end, oldLength); ) {
      const next = Math.min((Math.floor(s / sectorBytes) + 1) * sectorBytes, end, oldLength);
      if (this.random() < 0.5) image.write(s, op.data.subarray(s - op.position, next - op.position));
      s = next;
    }
    // The part extending the file: a prefix, cut at any byte.
    const from = Math.max(op.position, oldLength);
    if (end > from) {
      const cut = from + Math.floor(this.random() * (end - from + 1));
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

  async mkdirp(dir: string): Promise<void> {
    const parts = nodePath.resolve(dir).split('/').filter(Boolean);
    let at = '/';
    for (const part of parts) {
      at = nodePath.join(at, part);
      if (!this.dirs.has(at)) {
        // Directory creation is treated as durable at once: the storage layer
        // creates its directory once and fsyncs it before use anyway.
        this.dirs.set(at, { current: new Map(), durable: new Map() });
      }
    }
  }

  async open(path: string, mode: OpenMode): Promise<DiskFile> {
    this.maybeFail('open', path);
    const { dir, name } = this.split(path);
    let inode = dir.current.get(name);
    if (mode === 'create-exclusive') {
      if (inode) throw ioError('EEXIST', 'open', path);
      inode = new Inode();
      dir.current.set(name, inode);
    } else if (!inode) throw ioError('ENOENT', 'open', path);
    return new SimulatedFile(this, path, inode, this.generation, mode === 'read');
  }

  async readdir(dirPath: string): Promise<string[]> {
    const dir = this.dirs.get(nodePath.resolve(dirPath));
    if (!dir) throw ioError('ENOENT', 'scandir', dirPath);
    return [...dir.current.keys()].sort();
  }

  async rename(from: string, to: string): Promise<void> {
    this.maybeFail('rename', from);
    const a = this.split(from);
    const b = this.split(to);
    const inode = a.dir.current.get(a.name);
    if (!inode) throw ioError('ENOENT', 'rename', from);
    a.dir.current.delete(a.name);
    b.dir.current.set(b.name, inode);
  }

  async unlink(path: string): Promise<void> {
    this.maybeFail('unlink', path);
    const { dir, name } = this.split(path);
    if (!dir.current.delete(name)) throw ioError('ENOENT', 'unlink', path);
  }

  async fsyncDir(dirPath: string): Promise<void> {
    this.maybeFail('fsyncDir', dirPath);
    const dir = this.dirs.get(nodePath.resolve(dirPath));
    if (!dir) throw ioError('ENOENT', 'fsync', dirPath);
    this.stats.fsyncDirs++;
    dir.durable = new Map(dir.current);
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

  /** @internal */
  checkAlive(generation: number, path: string): void {
    if (generation !== this.generation) throw ioError('EBADF', 'use after crash', path);
  }

  /** @internal */
  maybeFail(op: SimulatedDiskOp, path: string): void {
    const fault = this.faults.find(
      (f) => f.op === op && (f.count ?? 1) > 0 && (f.pathIncludes === undefined || path.includes(f.pathIncludes)),
    );
    if (!fault) return;
    fault.count = (fault.count ?? 1) - 1;
    throw ioError(fault.code, op, path);
  }

  /** @internal */
  async waitForSync(): Promise<void> {
    if (!this.syncsPaused) return;
    const generation = this.generation;
    await new Promise<void>((resolve) => this.heldSyncs.push(resolve));
    // A crash while the sync was held: it never completed.
    if (generation !== this.generation) await new Promise<never>(() => {});
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
    if (!inode) throw ioError('ENOENT', syscall, path);
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
    this.disk.maybeFail('writev', this.path);
    let at = position;
    for (const b of buffers) {
      const op: PendingOp = { kind: 'write', position: at, data: b.slice() };
      this.inode.apply(op, this.inode.current);
      this.inode.pending.push(op);
      at += b.byteLength;
    }
    this.disk.stats.writevs++;
    this.disk.stats.bytesWritten += at - position;
  }

  async datasync(): Promise<void> {
    this.check();
    this.disk.maybeFail('datasync', this.path);
    this.disk.stats.datasyncs++;
    // What is pending now is what this sync covers, even if the sync is held.
    const covered = this.inode.pending.length;
    await this.disk.waitForSync();
    this.disk.checkAlive(this.generation, this.path);
    const ops = this.inode.pending.splice(0, covered);
    for (const op of ops) this.inode.apply(op, this.inode.durable);
  }

  async truncate(length: number): Promise<void> {
    this.check();
    if (this.readOnly) throw ioError('EBADF', 'ftruncate', this.path);
    this.disk.maybeFail('truncate', this.path);
    const op: PendingOp = { kind: 'truncate', length };
    this.inode.apply(op, this.inode.current);
    this.inode.pending.push(op);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
