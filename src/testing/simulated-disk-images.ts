/**
 * The in-memory images behind SimulatedDisk (simulated-disk.ts): a file's
 * bytes as the process sees them and as they survive a power cut, with the
 * writes in between; a directory's entries likewise, with its unsynced
 * changes. Only simulated-disk.ts uses these.
 */

/** A growable byte image of one file. */
export class Bytes {
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

export type PendingWrite = { kind: 'write'; position: number; data: Uint8Array } | { kind: 'truncate'; length: number };

export class Inode {
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
export class DirEntry {
  constructor(readonly path: string) {}
}

export type Node = Inode | DirEntry;

/** One unsynced change of a directory: names set (to a node) or removed (null), applied together. */
export type DirChange = ReadonlyArray<readonly [name: string, node: Node | null]>;

export class Directory {
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
