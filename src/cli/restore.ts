/**
 * `concord snapshot restore`: the data directory of one member of a NEW
 * cluster holding exactly a backup's data, as `etcdutl snapshot restore`
 * makes it. An offline tool on the data directory (no member runs on it), so
 * it lives with the CLI, not in the member (src/server reads no system
 * randomness or hashing: the simulator runs it). Run it once per member, with the same file, `--initial-cluster`
 * and token: each run derives the same cluster ID from the file's checksum,
 * the initial cluster and the token, so the members agree on it without
 * talking, and the new cluster never mixes with the one the backup came from
 * (a different ID: peers of the old cluster are refused, cluster-id.ts).
 *
 * The directory gets the backup as its latest Raft snapshot (the backup's
 * index and term, the new members as voters), a hard state committed up to
 * it, an empty log after it, and member.json with the name, initial cluster
 * and cluster ID. A member started on it restores the state machine from that
 * snapshot (checking every block again) and elects a leader with the others.
 *
 * Nothing is written until the whole file has been checked (length, trailer,
 * checksum, header against contents); if the file changes during the second
 * read the half-written directory is removed again.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { parseAddress } from '../net/index.js';
import { DurableStorage } from '../storage/index.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { checkBackupFile, CorruptBackupError, hex } from '../server/backup-file.js';
import { InvalidConfigError } from '../server/config.js';
import { writeMemberFile } from '../server/member-file.js';

export interface RestoreOptions {
  readonly file: string;
  /** This member's name (one of initialCluster's). */
  readonly name: string;
  readonly dataDir: string;
  /** The new cluster: name -> peer URL. */
  readonly initialCluster: Readonly<Record<string, string>>;
  /** Tells apart clusters restored from the same file with the same members (default ''). */
  readonly initialClusterToken?: string;
  readonly logger?: Logger;
}

export interface RestoreResult {
  readonly dataDir: string;
  readonly clusterId: string;
  readonly index: number;
  readonly term: number;
  readonly keys: number;
  readonly contentBytes: number;
}

/**
 * The new cluster's ID: the same for every member restored from the same
 * file with the same initial cluster and token (see the file comment).
 */
export function restoredClusterId(checksum: number, initialCluster: Readonly<Record<string, string>>, token: string): string {
  const members = Object.entries(initialCluster)
    .map(([name, url]) => `${name}=${url}`)
    .sort()
    .join(',');
  return createHash('sha256').update(`concord-restore\0${hex(checksum)}\0${members}\0${token}`).digest('hex').slice(0, 32);
}

async function checkTarget(dataDir: string): Promise<'created' | 'existing-empty'> {
  let names: string[];
  try {
    names = await readdir(dataDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'created';
    throw new InvalidConfigError(`--data-dir ${dataDir}: ${(error as Error).message}`);
  }
  if (names.length > 0) {
    throw new InvalidConfigError(`--data-dir ${dataDir} is not empty: restore makes the data directory of a new member (move the old one away first)`);
  }
  return 'existing-empty';
}

export async function restoreBackup(options: RestoreOptions): Promise<RestoreResult> {
  const { file, name, dataDir, initialCluster } = options;
  const log = options.logger ?? silentLogger;
  const names = Object.keys(initialCluster);
  if (names.length === 0) throw new InvalidConfigError('--initial-cluster names no member');
  if (!(name in initialCluster)) throw new InvalidConfigError(`--name ${name} is not one of --initial-cluster (${names.join(', ')})`);
  for (const [member, url] of Object.entries(initialCluster)) {
    try {
      parseAddress(url);
    } catch (error) {
      throw new InvalidConfigError(`--initial-cluster ${member}=${url}: ${(error as Error).message}`);
    }
  }
  const target = await checkTarget(dataDir);

  // Pass 1: the whole file is checked before anything is written.
  const checked = await checkBackupFile(file);
  const { header } = checked;
  if (header.index === 0) throw new CorruptBackupError(file, 'it holds no log entry (index 0)');
  const clusterId = restoredClusterId(checked.checksum, initialCluster, options.initialClusterToken ?? '');

  await mkdir(dataDir, { recursive: true });
  let storage: DurableStorage | null = null;
  try {
    storage = await DurableStorage.open({ dir: dataDir, logger: log });
    const ds = storage;
    // Pass 2: the contents become the member's latest snapshot, checked again as they are read.
    let offset = 0;
    const again = await checkBackupFile(file, async (chunk) => {
      const done = offset + chunk.length === header.contentBytes;
      await ds.receiveSnapshotChunk({ index: header.index, term: header.term, offset, data: chunk, done });
      offset += chunk.length;
    });
    if (again.checksum !== checked.checksum || offset !== header.contentBytes) {
      throw new CorruptBackupError(file, 'it changed between the check and the restore');
    }
    await ds.installSnapshot({
      index: header.index,
      term: header.term,
      conf: { voters: names, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
    });
    await ds.append({ hardState: { term: header.term, vote: null, commit: header.index } });
    await ds.close();
    storage = null;
    writeMemberFile(dataDir, { name, initialCluster, clusterId });
  } catch (error) {
    await storage?.close().catch(() => {});
    if (target === 'created') await rm(dataDir, { recursive: true, force: true });
    else for (const entry of await readdir(dataDir).catch(() => [])) await rm(`${dataDir}/${entry}`, { recursive: true, force: true });
    throw error;
  }
  log.info({ dataDir, clusterId, index: header.index, term: header.term, keys: header.keys }, 'restored a backup into a new data directory');
  return { dataDir, clusterId, index: header.index, term: header.term, keys: header.keys, contentBytes: header.contentBytes };
}
