/**
 * Former home of `RaftNode`, kept as a re-export for deep imports (test/sim
 * imports it from here until the simulator rewrite imports from index.ts).
 * The core is now raw-node.ts (the public class and its Ready bookkeeping),
 * raft.ts (the protocol), leader.ts, follower.ts and read-only.ts.
 */
export { RaftNode, type ProposalResult, type ProgressStatus, type RaftStatus } from './raw-node.js';
