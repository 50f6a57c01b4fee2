/**
 * The host's view of the Raft core (src/server/ports.ts RaftCore) over a real
 * RaftNode, as src/server/raft-core-adapter.ts builds it, plus what the
 * simulator needs and the production adapter does not: a handle on the node
 * (its status, for the invariants) and a report of every Ready and every
 * early hand-out while a Ready persists (the entries the host is told to
 * persist and to apply), which is where the invariants observe the log.
 *
 * The node is built with a seeded RNG and may carry the core's test-only
 * `countStaleVotes` flag (the bug-injection test); production never sets it.
 */
import type { RaftConfig } from '../../src/raft/config.js';
import { RaftNode } from '../../src/raft/node.js';
import type { DuringPersist, Ready } from '../../src/raft/ready.js';
import type { NodeId } from '../../src/raft/types.js';
import type { CoreLimits, CoreStatus, RaftCore } from '../../src/server/ports.js';

/** The drop bounds, as the production adapter sets them (raft-core-adapter.ts). */
const coreLimits: CoreLimits = {
  uncommittedEntriesBytesMax: 64 * 1024 * 1024,
  pendingReadIndexRequestsMax: 4096,
};

export interface CoreObserver {
  /** A Ready was handed to the host (before it handles it). */
  onReady(ready: Ready): void;
  /** Entries and messages handed out while a Ready persists. */
  onDuringPersist(early: DuringPersist): void;
}

export function createSimCore(config: RaftConfig, observer: CoreObserver): { core: RaftCore; node: RaftNode } {
  const node = new RaftNode({ ...coreLimits, ...config });
  const core: RaftCore = {
    tick: () => node.tick(),
    step: (message) => node.step(message),
    propose: (data) => node.propose(data),
    readIndex: (context) => node.readIndex(context),
    proposeConfChange: (change) => node.proposeConfChange(change),
    transferLeadership: (to) => node.transferLeadership(to),
    hasReady: () => node.hasReady(),
    takeDuringPersist: () => {
      const early = node.takeDuringPersist();
      if (early.messages.length > 0 || early.committedEntries.length > 0) observer.onDuringPersist(early);
      return early;
    },
    ready: () => {
      const ready = node.ready();
      observer.onReady(ready);
      return ready;
    },
    advance: (ready) => node.advance(ready),
    conf: () => node.confState,
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

/** FNV-1a over bytes: entry and state fingerprints for the invariants. */
export function fingerprint(data: Uint8Array | string, h = 0x811c9dc5): number {
  if (typeof data === 'string') {
    for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data.charCodeAt(i), 0x01000193) >>> 0;
  } else {
    for (let i = 0; i < data.length; i++) h = Math.imul(h ^ (data[i] as number), 0x01000193) >>> 0;
  }
  return h;
}
