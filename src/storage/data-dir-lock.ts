/**
 * Exclusive ownership of a data directory by one process.
 *
 * Why a lock file holding the PID and not proper-lockfile: a lock must
 * be reclaimable the moment its holder dies (`kill -9` then restart is the
 * normal recovery path). proper-lockfile detects a dead holder only when the
 * lock's mtime is older than its `stale` period (10 s by default; it needs a
 * timer refreshing the mtime), so a restart right after a crash would fail or
 * wait. Here the holder is identified by PID plus the process start time read
 * from /proc (Linux), so a dead holder is detected at once and a recycled PID
 * is not mistaken for the holder. Where /proc is missing the PID alone is used.
 *
 * Taking the lock is atomic: the holder's record is written in full (and
 * synced) to a private temp file first, then `link()`ed to LOCK, which fails
 * with EEXIST if LOCK exists. So LOCK, whenever it exists, names its holder:
 * a second starter can never read it half written and call it stale (creating
 * LOCK with O_EXCL and writing it afterwards had that window).
 *
 * Taking over a stale lock: the stale file is renamed aside (atomic: of two
 * processes racing, only one rename succeeds), its contents are checked to be
 * the stale holder we judged (if not, we raced with a process that had just
 * taken the lock: it is linked back), and our own lock is linked as above.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataDirLockedError } from './errors.js';
import type { DiskLock } from './disk.js';

export const lockFileName = 'LOCK';

interface LockHolder {
  readonly pid: number;
  /** Process start time in clock ticks since boot (/proc/PID/stat field 22), or null when unknown. */
  readonly startTime: string | null;
}

/** Directories locked by this process (a second open in the same process must fail too). */
const lockedInThisProcess = new Set<string>();

export function processStartTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) is parenthesised and may contain spaces: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null; // field 22 overall = index 19 after pid and comm
  } catch {
    return null;
  }
}

function isAlive(holder: LockHolder): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: it exists but belongs to someone else.
  }
  if (holder.startTime === null) return true;
  const current = processStartTime(holder.pid);
  // A different start time means the PID was recycled by an unrelated process.
  return current === null || current === holder.startTime;
}

function readHolder(file: string): LockHolder | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as { pid?: unknown; startTime?: unknown };
    if (typeof parsed.pid === 'number') {
      return { pid: parsed.pid, startTime: typeof parsed.startTime === 'string' ? parsed.startTime : null };
    }
  } catch {
    // Unreadable: left by an older version (it created LOCK before writing it) or damaged.
    // A holder of this version never leaves LOCK so (see the file comment).
  }
  return { pid: -1, startTime: null };
}

function sameHolder(a: LockHolder, b: LockHolder | null): boolean {
  return b !== null && a.pid === b.pid && a.startTime === b.startTime;
}

/** Temp files of this process's lock attempts: unique per attempt. */
let attemptCounter = 0;

/** Creates the lock file, holder record complete, atomically; false if it exists. */
function tryCreate(file: string, holder: LockHolder): boolean {
  const temp = `${file}.${process.pid}.${++attemptCounter}.tmp`;
  const fd = fs.openSync(temp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644);
  try {
    try {
      const record = Buffer.from(JSON.stringify(holder));
      let written = 0;
      while (written < record.byteLength) written += fs.writeSync(fd, record, written);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    try {
      fs.linkSync(temp, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
    return true;
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

export async function lockDataDir(dir: string): Promise<DiskLock> {
  const resolved = path.resolve(dir);
  if (lockedInThisProcess.has(resolved)) throw new DataDirLockedError(resolved, process.pid);
  const file = path.join(resolved, lockFileName);
  const me: LockHolder = { pid: process.pid, startTime: processStartTime(process.pid) };
  // Bounded: each round either takes the lock, fails, or removes one stale holder.
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(file, me)) {
      lockedInThisProcess.add(resolved);
      return {
        async release() {
          lockedInThisProcess.delete(resolved);
          if (sameHolder(me, readHolder(file))) fs.rmSync(file, { force: true });
        },
      };
    }
    const holder = readHolder(file);
    if (holder === null) continue; // released meanwhile: try again
    if (holder.pid !== -1 && isAlive(holder)) throw new DataDirLockedError(resolved, holder.pid);
    const aside = `${file}.stale.${process.pid}`;
    try {
      fs.renameSync(file, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // another process took it over first
      throw error;
    }
    const movedAside = readHolder(aside);
    if (movedAside !== null && movedAside.pid !== -1 && !sameHolder(holder, movedAside) && isAlive(movedAside)) {
      // We raced with a process that had just taken the stale lock over: give its
      // lock back (by link, so that it never replaces a lock taken meanwhile).
      try {
        fs.linkSync(aside, file);
      } finally {
        fs.rmSync(aside, { force: true });
      }
      throw new DataDirLockedError(resolved, movedAside.pid);
    }
    fs.rmSync(aside, { force: true });
  }
  throw new DataDirLockedError(resolved, readHolder(file)?.pid ?? null);
}
