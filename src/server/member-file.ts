/**
 * `member.json` in the data directory: the member's name and the initial
 * cluster, written on first start so that a restart needs only the data
 * directory and the URLs (and so that a data directory is never silently
 * reused under another name), and the cluster ID (cluster-id.ts): which
 * cluster this member belongs to, so that a member of another cluster with the
 * same names is refused.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConcordError, ConcordErrorCode } from '../common/errors.js';

export const memberFileName = 'member.json';

export interface MemberFile {
  readonly name: string;
  readonly initialCluster: Readonly<Record<string, string>>;
  /** Set when the cluster was bootstrapped, or learned on first contact (absent in data dirs from before cluster IDs). */
  readonly clusterId?: string;
}

export class CorruptMemberFileError extends ConcordError {
  constructor(path: string, reason: string) {
    super(ConcordErrorCode.CorruptMemberFile, `${path} is unreadable: ${reason}`);
  }
}

/** The stored member file, or null when the data directory has none yet. */
export function readMemberFile(dataDir: string): MemberFile | null {
  const path = join(dataDir, memberFileName);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CorruptMemberFileError(path, (error as Error).message);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CorruptMemberFileError(path, (error as Error).message);
  }
  const candidate = parsed as Partial<MemberFile> | null;
  if (
    candidate === null ||
    typeof candidate !== 'object' ||
    typeof candidate.name !== 'string' ||
    candidate.initialCluster === null ||
    typeof candidate.initialCluster !== 'object' ||
    !Object.values(candidate.initialCluster).every((v) => typeof v === 'string') ||
    (candidate.clusterId !== undefined && typeof candidate.clusterId !== 'string')
  ) {
    throw new CorruptMemberFileError(path, 'expected { name: string, initialCluster: { [name]: url }, clusterId?: string }');
  }
  const base = { name: candidate.name, initialCluster: candidate.initialCluster };
  return candidate.clusterId === undefined ? base : { ...base, clusterId: candidate.clusterId };
}

/** Writes member.json durably: temp file, fsync, rename, fsync of the directory. */
export function writeMemberFile(dataDir: string, file: MemberFile): void {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, memberFileName);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify({ name: file.name, initialCluster: file.initialCluster, clusterId: file.clusterId }, null, 2) + '\n');
  const fd = openSync(tmp, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dirFd = openSync(dataDir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}
