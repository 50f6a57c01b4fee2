/**
 * The server's view of durable storage (ports.ts HostStorage) over
 * src/storage's DurableStorage, plus first-start bootstrap of the log.
 */
import { bootstrapState, type Storage, type NodeId } from '../raft/index.js';
import { DurableStorage, type Disk } from '../storage/index.js';
import type { Logger } from './logger.js';
import type { HostStorage } from './ports.js';

export interface OpenedStorage {
  /** What the Raft core reads through. */
  readonly raftStorage: Storage;
  /** What the loop writes through. */
  readonly hostStorage: HostStorage;
  /**
   * On a brand-new data directory, writes the initial configuration (one
   * committed ConfChange adding every initial voter, as etcd does); does
   * nothing when the log or a snapshot already exists. Returns true when it wrote.
   */
  bootstrapIfEmpty(voters: readonly NodeId[]): Promise<boolean>;
  /** True for a data directory with no log, no snapshot and no hard state (never started, or wiped). */
  isEmpty(): boolean;
  close(): Promise<void>;
}

export async function openHostStorage(dataDir: string, logger: Logger, disk?: Disk): Promise<OpenedStorage> {
  const ds = await DurableStorage.open({ dir: dataDir, logger: logger.child({ component: 'storage' }), ...(disk ? { disk } : {}) });
  const isEmpty = (): boolean => ds.lastIndex() === 0 && ds.snapshotMetadata().index === 0 && ds.hardState().term === 0;
  const hostStorage: HostStorage = {
    persist: (batch) => ds.persist(batch),
    writeSnapshot: (meta, contents) => ds.saveSnapshot(meta, contents),
    readSnapshot: () => {
      const meta = ds.snapshotMetadata();
      if (meta.index === 0) return null;
      return { meta, contents: ds.readSnapshot(meta.index) };
    },
    term: (index) => ds.term(index),
    firstIndex: () => ds.firstIndex(),
    lastIndex: () => ds.lastIndex(),
    snapshotIndex: () => ds.snapshotMetadata().index,
    holdSnapshots: (indexes) => ds.holdSnapshots(indexes),
    close: () => ds.close(),
  };
  return {
    raftStorage: ds,
    hostStorage,
    isEmpty,
    bootstrapIfEmpty: async (voters) => {
      if (!isEmpty()) return false;
      const { entries, hardState } = bootstrapState(voters);
      await ds.append({ entries, hardState });
      return true;
    },
    close: () => ds.close(),
  };
}
