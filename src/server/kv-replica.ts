/**
 * The key-value side of the member: the adapter that lets the replication
 * loop (which moves opaque bytes) drive the key-value state machine, and the
 * `Replica` the client service works against (the loop for writes and
 * linearizable-read barriers, the state machine for reads).
 */
import type { ApplyResult, AuthView, KvEntry, KvOptions, KvStateMachine, LeaseInfo, ScanPage, ScanRequest, TxnBody, TxnResult } from '../kv/index.js';
import type { SessionTableView } from './session-status.js';
import type { StatusResponse } from '../protocol/index.js';
import type { LeaderHint } from './errors.js';
import type { Replica } from './kv-service.js';
import type { StateMachine } from './ports.js';
import type { RaftHost } from './raft-host.js';

/** The loop's state machine port over the key-value state machine. */
export function kvStateMachinePort(kv: KvStateMachine): StateMachine<ApplyResult> {
  return {
    get appliedIndex() {
      return kv.appliedIndex;
    },
    apply: (index, command) => kv.apply(index, command),
    skip: (index) => kv.skip(index),
    applyConfChange: (index) => kv.skip(index),
    restore: (contents) => kv.restoreAsync(contents),
    snapshot: () => {
      const snapshot = kv.snapshot();
      return { appliedIndex: snapshot.appliedIndex, contents: snapshot };
    },
    describe: () => ({ keys: kv.keyCount }),
  };
}

/** One member as the client service sees it. */
export class KvReplica implements Replica {
  readonly name: string;
  readonly limits: KvOptions;

  constructor(
    private readonly host: RaftHost<ApplyResult>,
    private readonly kv: KvStateMachine,
    /**
     * This member's view of the entry clock, which reads measure lease and TTL expiry against
     * (EntryClock.viewMs in a server); by default the state machine's own clock (the last entry's time).
     */
    private readonly readTime: () => number = () => kv.clockMs,
  ) {
    this.name = host.name;
    this.limits = kv.options;
  }

  isLeader(): boolean {
    return this.host.isLeader();
  }

  leaderId(): string | null {
    return this.host.leaderId();
  }

  leaderClientUrl(): string | null {
    return this.host.leaderClientUrl();
  }

  hint(): LeaderHint {
    return this.host.hint();
  }

  checkAccepting(): void {
    this.host.checkAccepting();
  }

  checkAcceptingWrites(): void {
    this.host.checkAcceptingWrites();
  }

  propose(payload: Uint8Array, deadlineMs: number): Promise<ApplyResult> {
    return this.host.propose(payload, deadlineMs);
  }

  readBarrier(deadlineMs: number): Promise<void> {
    return this.host.readBarrier(deadlineMs);
  }

  catchUp(deadlineMs: number): Promise<void> {
    return this.host.catchUp(deadlineMs);
  }

  status(): Omit<StatusResponse, 'header'> {
    return this.host.status();
  }

  get(key: Uint8Array): KvEntry | null {
    return this.kv.get(key, this.readTimeMs());
  }

  scan(request: ScanRequest): ScanPage {
    return this.kv.scan(request, this.readTimeMs());
  }

  readTimeMs(): number {
    // Never behind the applied entries' own time: an expiry the log decided is never un-hidden.
    return Math.floor(Math.max(this.readTime(), this.kv.clockMs));
  }

  lease(id: number, keys: boolean): (LeaseInfo & { keys?: Uint8Array[] }) | null {
    return this.kv.lease(id, keys);
  }

  leaseList(): LeaseInfo[] {
    return this.kv.leaseList();
  }

  sessionTable(): SessionTableView {
    return { count: this.kv.sessionCount, bytes: this.kv.sessionBytes, infos: () => this.kv.sessionInfos() };
  }

  readTxn(body: TxnBody): TxnResult {
    return this.kv.readTxn(body, this.readTimeMs());
  }

  revision(): number {
    return this.kv.revision;
  }

  get auth(): AuthView {
    return this.kv.auth;
  }
}
