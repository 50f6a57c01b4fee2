/**
 * Errors of the storage layer: one class per failure mode a caller can act on.
 */
import { ConcordError, ConcordErrorCode } from '../common/errors.js';

/**
 * The write-ahead log on disk is damaged in a way a crash cannot explain (a
 * checksum mismatch before the tail of the last segment, a gap in indexes, a
 * missing segment). Starting anyway could silently drop acknowledged writes,
 * so the node refuses to start: restore this node from a peer instead.
 */
export class CorruptLogError extends ConcordError {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(ConcordErrorCode.CorruptLog, `corrupt write-ahead log: ${file} at offset ${offset}: ${reason}`);
  }
}

/**
 * A snapshot file on this member's disk fails its checksum or has an
 * unreadable trailer: the disk damaged it (as CorruptLogError for the log).
 * Not the key-value layer's CorruptSnapshotError, which says a snapshot's
 * content does not validate while the state machine restores it.
 */
export class CorruptSnapshotFileError extends ConcordError {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(ConcordErrorCode.CorruptSnapshotFile, `corrupt snapshot ${file}: ${reason}`);
  }
}

/**
 * The disk failed a write or a sync (ENOSPC, EIO, ...). After this the log is
 * poisoned: what reached the disk is unknown (after a failed fsync the kernel
 * may have dropped the dirty pages, see "fsyncgate"), so every later write is
 * refused with this same error and the node must stop accepting writes.
 */
export class StorageFailedError extends ConcordError {
  /**
   * The failing system call's error, when the cause is one (a Node system
   * error): its code (`EIO`, `ENOSPC`, ...), errno (negative on Linux, e.g. -5),
   * the call (`write`, `fdatasync`, ...) and the file. A server tells a real
   * disk failure by these (and exits with its own code); all are undefined
   * when the cause is not a system error.
   */
  readonly systemCode: string | undefined;
  readonly errno: number | undefined;
  readonly syscall: string | undefined;
  readonly path: string | undefined;

  constructor(message: string, options?: { cause?: unknown }) {
    super(ConcordErrorCode.StorageFailed, message, options);
    const cause = (typeof options?.cause === 'object' && options.cause !== null ? options.cause : {}) as {
      code?: unknown;
      errno?: unknown;
      syscall?: unknown;
      path?: unknown;
    };
    this.systemCode = typeof cause.code === 'string' ? cause.code : undefined;
    this.errno = typeof cause.errno === 'number' ? cause.errno : undefined;
    this.syscall = typeof cause.syscall === 'string' ? cause.syscall : undefined;
    this.path = typeof cause.path === 'string' ? cause.path : undefined;
  }
}

/** Another process (or another open storage in this process) holds the data directory. */
export class DataDirLockedError extends ConcordError {
  constructor(
    readonly dir: string,
    readonly holderPid: number | null,
  ) {
    super(
      ConcordErrorCode.DataDirLocked,
      `data directory ${dir} is locked by ${holderPid === null ? 'another process' : `process ${holderPid}`}; ` +
        'is another Concord node running on it?',
    );
  }
}

/** The storage was closed; no more reads or writes. */
export class StorageClosedError extends ConcordError {
  constructor() {
    super(ConcordErrorCode.StorageClosed, 'storage is closed');
  }
}

/** Too many bytes are waiting to be written (`pendingWriteBytesMax`): the caller is outrunning the disk. */
export class WriteQueueFullError extends ConcordError {
  constructor(
    readonly pendingBytes: number,
    readonly pendingWriteBytesMax: number,
  ) {
    super(
      ConcordErrorCode.WriteQueueFull,
      `write queue full: ${pendingBytes} bytes pending, bound pendingWriteBytesMax is ${pendingWriteBytesMax}`,
    );
  }
}

/**
 * An incoming InstallSnapshot chunk does not continue the snapshot being
 * received. `expectedOffset` is where the sender must resume (0 when a new
 * transfer must start).
 */
export class SnapshotChunkRejectedError extends ConcordError {
  constructor(
    readonly index: number,
    readonly term: number,
    readonly expectedOffset: number,
    reason: string,
  ) {
    super(
      ConcordErrorCode.SnapshotChunkRejected,
      `snapshot chunk for index ${index} term ${term} rejected (${reason}); resume at offset ${expectedOffset}`,
    );
  }
}

/** A snapshot being written or received exceeds `snapshotBytesMax`. */
export class SnapshotTooLargeError extends ConcordError {
  constructor(readonly snapshotBytesMax: number) {
    super(ConcordErrorCode.SnapshotTooLarge, `snapshot exceeds snapshotBytesMax (${snapshotBytesMax} bytes)`);
  }
}
