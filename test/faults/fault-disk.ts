/**
 * A Disk that starts failing when told: the real NodeDisk underneath, with
 * every fdatasync (and directory fsync) rejected with EIO while `failing` is
 * set, as a dying drive reports it. Test code only: the fault suite's member
 * launcher (member.ts) passes it to `startServer` through the `disk` option.
 */
import { NodeDisk } from '../../src/storage/index.js';
import type { Disk, DiskFile, DiskLock, OpenMode } from '../../src/storage/index.js';

function eio(op: string, path: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`EIO: i/o error (injected by the fault suite), ${op} '${path}'`);
  error.code = 'EIO';
  error.errno = -5;
  error.syscall = op;
  error.path = path;
  return error;
}

export class FaultDisk implements Disk {
  /** While true, every sync fails with EIO (writes still reach the page cache, as on a real failing disk). */
  failing = false;
  /** Syncs failed so far (for the member's log). */
  failedSyncs = 0;

  constructor(private readonly inner: Disk = new NodeDisk()) {}

  mkdirp(dir: string): Promise<string | undefined> {
    return this.inner.mkdirp(dir);
  }

  async open(path: string, mode: OpenMode): Promise<DiskFile> {
    const file = await this.inner.open(path, mode);
    const disk = this;
    return {
      path: file.path,
      size: () => file.size(),
      readSync: (buffer, position) => file.readSync(buffer, position),
      read: (buffer, position) => file.read(buffer, position),
      writev: (buffers, position) => file.writev(buffers, position),
      datasync(): Promise<void> {
        if (disk.failing) {
          disk.failedSyncs++;
          return Promise.reject(eio('fdatasync', file.path));
        }
        return file.datasync();
      },
      truncate: (length) => file.truncate(length),
      close: () => file.close(),
    };
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
    if (this.failing) {
      this.failedSyncs++;
      return Promise.reject(eio('fsync', dir));
    }
    return this.inner.fsyncDir(dir);
  }

  lockDir(dir: string): Promise<DiskLock> {
    return this.inner.lockDir(dir);
  }
}
