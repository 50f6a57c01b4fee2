/**
 * Every disk access of the storage layer goes through this small interface:
 * `NodeDisk` is the real one (node:fs); the test double
 * `src/testing/simulated-disk.ts` keeps files in memory and implements the
 * crash model below adversarially.
 *
 * Durability model (POSIX): data written to a file is durable only after
 * `datasync()` on it; a created, renamed or deleted directory entry (a file's,
 * or a new directory's in its parent) is durable only after `fsyncDir()` on
 * the directory holding it.
 */

export const OpenMode = {
  /** Existing file, read only. */
  Read: 'read',
  /** Existing file, read and write. */
  ReadWrite: 'readwrite',
  /** New file, read and write; fails with EEXIST if the name is taken. */
  CreateExclusive: 'create-exclusive',
} as const;
export type OpenMode = (typeof OpenMode)[keyof typeof OpenMode];

export interface DiskFile {
  readonly path: string;
  /** Current size in bytes (including unsynced writes). */
  size(): Promise<number>;
  /**
   * Synchronous positional read, for the rare cache miss of the synchronous
   * `Storage` reads. Returns the number of bytes read (short at end of file).
   */
  readSync(buffer: Uint8Array, position: number): number;
  read(buffer: Uint8Array, position: number): Promise<number>;
  /** Writes all of `buffers` at `position`, in order (one writev when the platform allows). */
  writev(buffers: readonly Uint8Array[], position: number): Promise<void>;
  /** Makes the file's data (and its size) durable. */
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/** Held while a process owns a data directory. */
export interface DiskLock {
  release(): Promise<void>;
}

export interface Disk {
  /**
   * Creates `dir` and missing parents. Returns the first directory it created
   * (undefined if `dir` existed), like `fs.mkdir(dir, { recursive: true })`:
   * the caller fsyncs the parents of what was created to make it durable.
   */
  mkdirp(dir: string): Promise<string | undefined>;
  open(path: string, mode: OpenMode): Promise<DiskFile>;
  /** File names (not paths) in `dir`. */
  readdir(dir: string): Promise<string[]>;
  /** Atomically replaces `to` by `from` (durable after fsyncDir). */
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  fsyncDir(dir: string): Promise<void>;
  /** Exclusive ownership of `dir` across processes; fails with DataDirLockedError when taken. */
  lockDir(dir: string): Promise<DiskLock>;
}

/** Node-style error codes callers may see from a Disk. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
