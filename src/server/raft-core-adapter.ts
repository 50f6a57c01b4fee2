/**
 * The server's view of the Raft core (ports.ts RaftCore) over src/raft's
 * RaftNode, with the injected randomness source for election timeouts. The
 * simulator builds its members' cores here too, so that it runs the node
 * settings and the adapter the server runs.
 */
import type { RandomSource } from '../common/rng.js';
import { RaftNode, type RaftConfig, type Storage, type NodeId } from '../raft/index.js';
import type { CoreLimits, CoreStatus, RaftCore } from './ports.js';

/** The core's drop bounds, set here so that the Overloaded errors they cause can name them. */
const coreLimits: CoreLimits = {
  uncommittedEntriesBytesMax: 64 * 1024 * 1024,
  pendingReadIndexRequestsMax: 4096,
};

export interface CreateRaftCoreOptions {
  readonly name: NodeId;
  readonly storage: Storage;
  /** Index the state machine has applied (restored from a snapshot) when the core starts. */
  readonly applied: number;
  readonly heartbeatIntervalTicks: number;
  readonly electionTimeoutTicks: number;
  /** Randomizes election timeouts. */
  readonly random: RandomSource;
  /**
   * Node settings that differ from the server's: the simulator varies pre-vote and check-quorum per
   * seed, bounds snapshot chunks and injects a bug on purpose; the server passes none.
   */
  readonly raftOverrides?: Pick<RaftConfig, 'preVote' | 'checkQuorum' | 'snapshotChunkBytesMax' | 'testingOnlyUnsafe'>;
}

/** The core, and the node under it for views the RaftCore port does not carry (the simulator's invariants read its status). */
export interface CreatedRaftCore {
  readonly core: RaftCore;
  readonly node: RaftNode;
}

export function createRaftCore(options: CreateRaftCoreOptions): CreatedRaftCore {
  const node = new RaftNode({
    id: options.name,
    storage: options.storage,
    applied: options.applied,
    heartbeatIntervalTicks: options.heartbeatIntervalTicks,
    electionTimeoutTicks: options.electionTimeoutTicks,
    rng: options.random,
    preVote: true,
    checkQuorum: true,
    // Followers serve watches from their applied state: they learn each commit at once, not with the next batch.
    commitNotify: true,
    uncommittedEntriesBytesMax: coreLimits.uncommittedEntriesBytesMax,
    pendingReadIndexRequestsMax: coreLimits.pendingReadIndexRequestsMax,
    ...options.raftOverrides,
  });
  const core: RaftCore = {
    tick: () => node.tick(),
    step: (message) => node.step(message),
    propose: (data) => node.propose(data),
    readIndex: (context) => node.readIndex(context),
    proposeConfChange: (change) => node.proposeConfChange(change),
    transferLeadership: (to) => node.transferLeadership(to),
    hasReady: () => node.hasReady(),
    takeDuringPersist: () => node.takeDuringPersist(),
    ready: () => node.ready(),
    advance: (ready) => node.advance(ready),
    conf: () => node.confState,
    currentTerm: () => node.term,
    snapshotTransfers: () => node.snapshotTransfers(),
    limits: coreLimits,
    status: (): CoreStatus => {
      const s = node.status();
      const matchIndex: Record<NodeId, number> = {};
      const recentActive: Record<NodeId, boolean> = {};
      for (const [id, progress] of Object.entries(s.progress ?? {})) {
        matchIndex[id] = progress.match;
        recentActive[id] = progress.recentActive;
      }
      return {
        role: s.role,
        term: s.term,
        leader: s.leader,
        commitIndex: s.commit,
        appliedIndex: s.applied,
        conf: s.conf,
        matchIndex,
        recentActive,
        lastLogIndex: s.lastIndex,
        leadTransferee: s.leadTransferee,
      };
    },
  };
  return { core, node };
}
