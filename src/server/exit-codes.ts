/**
 * Exit codes of a member process (`concord server`, src/server/main.ts),
 * stable for supervisors (systemd, Kubernetes): documented in
 * docs/operations.md and docs/security.md.
 *
 * StorageFailed is distinct so that a supervisor can tell "the disk under
 * this member failed" (do not just restart it in a loop; replace the disk or
 * the member) from a crash or a bad configuration.
 */
import { StorageFailedError } from '../storage/index.js';

export const ServerExitCode = {
  /** Shut down gracefully after a signal. */
  Ok: 0,
  /** Could not start (bad configuration, data directory locked, ...), or a second signal during shutdown. */
  Failure: 1,
  /** A real storage failure (EIO on write or fdatasync): sysexits' EX_IOERR. */
  StorageFailed: 74,
  /** This member was removed from the cluster (`concord member remove`): do not restart it (add it again first). */
  Removed: 80,
} as const;
export type ServerExitCode = (typeof ServerExitCode)[keyof typeof ServerExitCode];

/**
 * System error codes that mean the disk itself failed: after EIO from
 * fdatasync the page cache may have dropped the dirty pages (Linux clears
 * the error once reported), so retrying could "succeed" with data lost. The
 * only safe answer is to stop this member; its peers hold every acknowledged
 * write. ENOSPC is not here: the member stays up refusing writes until space
 * is freed and it is restarted.
 */
const fatalSystemCodes: ReadonlySet<string> = new Set(['EIO', 'EROFS']);

/** True for a storage failure that must end the member process (see fatalSystemCodes). */
export function isFatalStorageFailure(error: unknown): error is StorageFailedError {
  return error instanceof StorageFailedError && error.systemCode !== undefined && fatalSystemCodes.has(error.systemCode);
}
