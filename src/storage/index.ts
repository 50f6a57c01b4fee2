/** The storage layer's public surface. */
export { DurableStorage, isEmptyPersistBatch, type DurableStorageOptions, type PersistBatch } from './durable-storage.js';
export { OpenMode, type Disk, type DiskFile, type DiskLock } from './disk.js';
export { NodeDisk } from './node-disk.js';
export { SnapshotStore, type SnapshotInfo } from './snapshot-store.js';
export {
  CorruptLogError,
  CorruptSnapshotFileError,
  DataDirLockedError,
  SnapshotChunkRejectedError,
  SnapshotTooLargeError,
  StorageClosedError,
  StorageFailedError,
  WriteQueueFullError,
} from './errors.js';
