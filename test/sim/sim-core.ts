/**
 * What the simulator adds around a member's Raft core (built by the server's
 * own createRaftCore, src/server/raft-core-adapter.ts): a report of every
 * Ready and every early hand-out while a Ready persists (the entries the host
 * is told to persist and to apply), which is where the invariants observe the
 * log; and the fingerprints the invariants compare.
 */
import type { DuringPersist, Ready } from '../../src/raft/ready.js';
import type { RaftCore } from '../../src/server/ports.js';

export interface CoreObserver {
  /** A Ready was handed to the host (before it handles it). */
  onReady(ready: Ready): void;
  /** Entries and messages handed out while a Ready persists. */
  onDuringPersist(early: DuringPersist): void;
}

/** `core`, reporting to `observer` each Ready and each non-empty early hand-out it gives the host. */
export function observeCore(core: RaftCore, observer: CoreObserver): RaftCore {
  return {
    ...core,
    takeDuringPersist: () => {
      const early = core.takeDuringPersist();
      if (early.messages.length > 0 || early.committedEntries.length > 0) observer.onDuringPersist(early);
      return early;
    },
    ready: () => {
      const ready = core.ready();
      observer.onReady(ready);
      return ready;
    },
  };
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
