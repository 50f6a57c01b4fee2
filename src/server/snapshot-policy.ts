/**
 * When this member snapshots its state machine, and how it installs one from
 * the leader (Raft §7). Every `snapshotEveryEntries` applied entries it
 * streams the state machine's snapshot (a copy-on-write view, so applies go
 * on meanwhile) into the snapshot store, which then compacts the log up to
 * it; a follower that needs compacted entries gets the snapshot by
 * InstallSnapshot.
 *
 * A leader postpones its snapshot while a follower is being caught up (a
 * snapshot transfer in flight, or a follower probed from the log): the
 * snapshot compacts the log, and a follower that installs a snapshot must
 * find the entries after it in the leader's log, or it needs yet another
 * snapshot (under steady writes, forever). The delay is bounded by
 * `snapshotCatchUpEntries` entries beyond `snapshotEveryEntries` (etcd keeps
 * that many entries behind each snapshot for slow followers).
 *
 * A local snapshot that fails for a reason that leaves the member running
 * (ENOSPC, say: nothing acknowledged depends on it) is retried with
 * exponential back-off on the injected clock, not after every advance(): a
 * full disk would otherwise be hammered with a snapshot attempt per Ready.
 */
import type { Clock } from '../common/clock.js';
import type { ConfState } from '../raft/index.js';
import { StorageFailedError } from '../storage/index.js';
import { internalError } from './errors.js';
import type { Logger } from './logger.js';
import type { HostStorage, StateMachine } from './ports.js';

export interface SnapshotPolicyOptions {
  readonly snapshotEveryEntries: number;
  /** How many more entries the log may hold while a follower catches up (see above). */
  readonly snapshotCatchUpEntries: number;
  /** First wait after a failed local snapshot; doubles per consecutive failure up to `retryMaxMs`. */
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
}

export class SnapshotPolicy {
  private inProgress = false;
  /** Term of the entry at appliedIndex (the snapshot's term when one was installed). */
  private appliedTerm: number;
  private lastSnapshotIndex: number;
  private failures = 0;
  /** No local snapshot is attempted before this time (clock.monotonicMs), after a failure. */
  private retryAtMs = 0;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;

  constructor(
    private readonly options: SnapshotPolicyOptions,
    private readonly storage: HostStorage,
    private readonly stateMachine: StateMachine<unknown>,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly events: {
      /** The storage refused a write for good: the member stops taking part. */
      readonly onStorageFailure: (error: StorageFailedError) => void;
      /** A snapshot was written: the loop may have work (the log was compacted). */
      readonly onTaken: () => void;
    },
  ) {
    this.lastSnapshotIndex = storage.snapshotIndex();
    this.appliedTerm = this.lastSnapshotIndex > 0 ? storage.term(this.lastSnapshotIndex) : 0;
    this.retryInitialMs = options.retryInitialMs ?? 1000;
    this.retryMaxMs = options.retryMaxMs ?? 60_000;
  }

  /** The entry of `term` was applied (or skipped) at the state machine's appliedIndex. */
  noteApplied(term: number): void {
    this.appliedTerm = term;
  }

  /** Restores the state machine from the snapshot the core told us to install (already durable). */
  async install(index: number): Promise<void> {
    const latest = this.storage.readSnapshot();
    if (latest === null || latest.meta.index !== index) throw internalError(`snapshot ${index} was persisted but cannot be read back`);
    await this.stateMachine.restore(latest.contents);
    this.lastSnapshotIndex = index;
    this.appliedTerm = latest.meta.term;
    this.logger.info({ index, term: latest.meta.term, ...this.stateMachine.describe() }, 'installed a snapshot from the leader');
  }

  /**
   * Called after each advance(): takes a local snapshot when one is due.
   * `followerCatchingUp` (a leader's, from RaftNode.snapshotTransfers)
   * postpones it, up to the catch-up bound.
   */
  maybeSnapshot(conf: ConfState, followerCatchingUp = false): void {
    if (this.inProgress) return;
    const applied = this.stateMachine.appliedIndex;
    const since = applied - this.lastSnapshotIndex;
    if (since < this.options.snapshotEveryEntries) return;
    if (followerCatchingUp && since < this.options.snapshotEveryEntries + this.options.snapshotCatchUpEntries) return;
    // Entries are applied as soon as they commit, possibly before this member's log holds
    // them, or while it still holds a conflicting entry from an older term at that index
    // (a follower whose log is being repaired). The snapshot's term must be that of the
    // applied entry, so wait until the log agrees.
    if (applied > this.storage.lastIndex() || this.storage.term(applied) !== this.appliedTerm) return;
    if (this.failures > 0 && this.clock.monotonicMs() < this.retryAtMs) return;
    this.inProgress = true;
    const snapshot = this.stateMachine.snapshot();
    const meta = { index: snapshot.appliedIndex, term: this.storage.term(snapshot.appliedIndex), conf };
    const started = this.clock.monotonicMs();
    this.storage.writeSnapshot(meta, snapshot.contents).then(
      () => {
        this.inProgress = false;
        this.failures = 0;
        this.lastSnapshotIndex = meta.index;
        const ms = Math.round(this.clock.monotonicMs() - started);
        this.logger.info({ index: meta.index, term: meta.term, ...this.stateMachine.describe(), ms }, 'snapshot taken');
        this.events.onTaken();
      },
      (error: unknown) => {
        this.inProgress = false;
        if (error instanceof StorageFailedError) {
          this.events.onStorageFailure(error);
          return;
        }
        const snapshotIndex = this.storage.snapshotIndex();
        if (snapshotIndex >= meta.index) {
          // A newer snapshot from the leader was installed meanwhile: this one is moot.
          this.lastSnapshotIndex = snapshotIndex;
          this.logger.info({ index: meta.index, snapshotIndex }, 'local snapshot superseded by an installed one');
          return;
        }
        this.failures++;
        const waitMs = Math.min(this.retryMaxMs, this.retryInitialMs * 2 ** Math.min(this.failures - 1, 30));
        this.retryAtMs = this.clock.monotonicMs() + waitMs;
        this.logger.warn({ err: error, index: meta.index, failures: this.failures, retryInMs: waitMs }, 'snapshot not taken; will retry');
      },
    );
  }
}
