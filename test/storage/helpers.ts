/** Shared helpers of the storage tests. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Disk, DiskFile, DiskLock, OpenMode } from '../../src/storage/disk.js';
import type { StorageLogger } from '../../src/storage/logger.js';
import type { Entry, SnapshotMetadata } from '../../src/raft/types.js';
import { emptyConfState } from '../../src/raft/types.js';

export function tempDir(prefix = 'concord-storage-test-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export function entry(index: number, term: number, text = `e${index}t${term}`): Entry {
  return { index, term, type: 0, data: new TextEncoder().encode(text) };
}

export function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

export function text(e: Entry): string {
  return new TextDecoder().decode(e.data);
}

export function meta(index: number, term: number, voters: string[] = ['n1']): SnapshotMetadata {
  return { index, term, conf: { ...emptyConfState, voters } };
}

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  fields: object;
  message: string;
}

export function recordingLogger(): StorageLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  return {
    lines,
    info: (fields, message) => lines.push({ level: 'info', fields, message }),
    warn: (fields, message) => lines.push({ level: 'warn', fields, message }),
    error: (fields, message) => lines.push({ level: 'error', fields, message }),
  };
}

/**
 * A Disk that forwards everything to `inner`; subclasses watch or change a
 * file's writes and syncs by overriding `writev`/`datasync`.
 */
export class ForwardingDisk implements Disk {
  constructor(protected readonly inner: Disk) {}

  /** A write of `file` (forwarded as is). */
  protected writev(file: DiskFile, buffers: readonly Uint8Array[], position: number): Promise<void> {
    return file.writev(buffers, position);
  }
  /** A sync of `file` (forwarded as is). */
  protected datasync(file: DiskFile): Promise<void> {
    return file.datasync();
  }

  mkdirp(dir: string): Promise<string | undefined> {
    return this.inner.mkdirp(dir);
  }
  async open(p: string, mode: OpenMode): Promise<DiskFile> {
    const file = await this.inner.open(p, mode);
    return {
      path: file.path,
      size: () => file.size(),
      readSync: (b, pos) => file.readSync(b, pos),
      read: (b, pos) => file.read(b, pos),
      writev: (buffers, position) => this.writev(file, buffers, position),
      datasync: () => this.datasync(file),
      truncate: (n) => file.truncate(n),
      close: () => file.close(),
    };
  }
  readdir(dir: string): Promise<string[]> {
    return this.inner.readdir(dir);
  }
  rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to);
  }
  unlink(p: string): Promise<void> {
    return this.inner.unlink(p);
  }
  fsyncDir(dir: string): Promise<void> {
    return this.inner.fsyncDir(dir);
  }
  lockDir(dir: string): Promise<DiskLock> {
    return this.inner.lockDir(dir);
  }
}

/** Wraps a Disk and counts the calls that matter for group commit. */
export class CountingDisk extends ForwardingDisk {
  datasyncs = 0;
  writevs = 0;

  protected override writev(file: DiskFile, buffers: readonly Uint8Array[], position: number): Promise<void> {
    this.writevs++;
    return file.writev(buffers, position);
  }
  protected override datasync(file: DiskFile): Promise<void> {
    this.datasyncs++;
    return file.datasync();
  }
}

export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of stream) parts.push(chunk);
  return Buffer.concat(parts);
}
