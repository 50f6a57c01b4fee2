/**
 * The Raft consensus core: public API.
 *
 * A host (the server, the simulator, the tests) owns one RaftNode and drives it:
 *
 *   const node = new RaftNode({ id, storage, electionTimeoutTicks: 10, heartbeatIntervalTicks: 1, rng });
 *   every tick interval:       node.tick();
 *   on a message from a peer:  node.step(message);
 *   on a client write:         const { index, term } = node.propose(bytes);   // or throws ProposalDroppedError
 *   on a linearizable read:    node.readIndex(uniqueContext);                 // answer arrives as a ReadState
 *   whenever no Ready is in flight and node.hasReady():
 *     const rd = node.ready();
 *     send(rd.messages);                                   // at once
 *     write rd.snapshotChunks, install rd.snapshot, append rd.entries, write rd.hardState; fsync
 *     send(rd.messagesAfterPersist);                       // only after the fsync
 *     apply(rd.committedEntries); serve rd.readStates once applied >= index
 *     node.advance(rd);
 *   (step/tick/propose may be called while the fsync runs; their output joins the next Ready)
 *
 * A new cluster's members start from `bootstrapState(voters)` (see bootstrap.ts);
 * a node joining later starts from empty storage and is added with proposeConfChange.
 */
export { RaftNode, type ProposalResult, type ProgressStatus, type RaftStatus, type SnapshotTransfers } from './raw-node.js';
export { resolveConfig, type RaftConfig, type RandomSource, type ResolvedRaftConfig } from './config.js';
export * from './messages.js';
export * from './ready.js';
export * from './errors.js';
export * from './types.js';
export * from './storage.js';
export {
  ConfChangeType,
  ConfChangeTransition,
  applyConfChange,
  encodeConfChange,
  decodeConfChange,
  isJoint,
  isVoter,
  allMembers,
  type ConfChange,
  type ConfChangeSingle,
} from './confchange.js';
export { ProgressState } from './progress.js';
export { bootstrapState } from './bootstrap.js';
export { MemoryStorage } from './memory-storage.js';
