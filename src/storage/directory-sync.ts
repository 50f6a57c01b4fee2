/**
 * Directory fsync at open: the names the storage stands on, made durable
 * before anything is acknowledged.
 */
import * as path from 'node:path';
import { errorCode, type Disk } from './disk.js';
import type { Logger } from '../common/logger.js';

/**
 * Makes every directory entry the store stands on durable before anything is
 * acknowledged (a name is durable only after an fsync of the directory that
 * holds it, disk.ts): the data directory in its parent (and any parents
 * `mkdirp` just created), `wal/` and `snap/` in the data directory, and the
 * names inside `wal/` and `snap/` that recovery is about to trust. Those may
 * still be only in the page cache if the previous process died between
 * creating or renaming a file and syncing its directory; without this a
 * power cut after this start could take away a segment (or a snapshot) whose
 * entries this process acknowledged.
 */
export async function syncDirectoryEntries(
  disk: Disk,
  logger: Logger,
  dir: string,
  firstCreated: string | undefined,
  subdirs: readonly string[],
): Promise<void> {
  const parents = new Set<string>([path.dirname(dir)]);
  if (firstCreated !== undefined) {
    for (let d = dir; d.length >= firstCreated.length && d !== path.dirname(d); d = path.dirname(d)) parents.add(path.dirname(d));
  }
  for (const parent of [...parents].sort()) {
    try {
      await disk.fsyncDir(parent);
    } catch (error) {
      // A parent this process may not open (no read permission) cannot be synced by it.
      const code = errorCode(error);
      if (code !== 'EACCES' && code !== 'EPERM') throw error;
      logger.warn({ dir: parent, code }, 'cannot fsync the parent of the data directory; its entry may not survive a power cut');
    }
  }
  await disk.fsyncDir(dir);
  for (const sub of subdirs) await disk.fsyncDir(sub);
}
