/**
 * The watchers of one member, served from its applied state's revision
 * history (src/kv/history.ts).
 *
 * Transport: a multiplexed long-poll, not a server-push frame. Each client
 * connection keeps one `watch.poll` outstanding; its answer carries batches
 * for every watcher of that connection. This keeps src/net strictly
 * request/response (its bounds, cancellation and pipelining apply as they
 * are), needs one pending call per connection whatever the number of
 * watchers (10,000 watchers are one call, not 10,000: pendingCallsMax is
 * 1024), and gives backpressure for free: a client that does not poll is
 * sent nothing, and the member holds nothing for it beyond its cursor.
 *
 * Fan-out: the history is the one shared queue. A watcher is a cursor into
 * it (`next`, the next revision to deliver) and a range; watchers with the
 * same range share one RangeGroup, which matches each revision's events
 * against the range once for all of them. When a revision is recorded, only
 * the groups it touches are looked at (exact keys by hash, ranges by scan),
 * and only their caught-up watchers are marked ready and their connections
 * woken; an idle watcher costs nothing per write.
 *
 * Fairness and bounds: a poll takes ready watchers round-robin from where
 * the previous poll of that connection stopped, until the answer holds
 * `pollEventsMax` events or `pollBytesMax` bytes (a revision's events are
 * never split: one revision may go over alone). A watcher whose consumer
 * is not keeping up (the client lists it as paused: its buffer is full) is
 * held back, and once it trails the head by more than `lagRevisionsMax`
 * revisions it is cancelled with
 * WatchCanceled 'slow-consumer'; one whose next revision was compacted away
 * gets CompactedError. Others on the connection are unaffected.
 */
import type { Clock, Timer } from '../common/clock.js';
import {
  binaryStringFromBytes,
  CompactedError,
  prefixEnd,
  type BinaryString,
  type HistoryEvent,
  type RevisionHistory,
  type RevisionRecord,
} from '../kv/index.js';
import type { Connection } from '../net/index.js';
import { ErrorCode, type WatchRange, type WireWatchBatch, type WireWatchCancel, type WireWatchEvent } from '../protocol/index.js';
import { toKeyValue } from './txn-request.js';
import { invalidRequest, overloaded } from './errors.js';

export interface WatchHubOptions {
  /** A caught-up watcher trailing the head by more revisions than this is cancelled (slow consumer). */
  readonly lagRevisionsMax: number;
  /** Events per poll answer (soft: whole revisions). */
  readonly pollEventsMax: number;
  /** Bytes of keys and values per poll answer (soft: whole revisions). */
  readonly pollBytesMax: number;
  /** How often a watcher with progressNotify that got nothing is told the revision it is caught up to. */
  readonly progressIntervalMs: number;
  readonly watchersPerConnectionMax: number;
  readonly watchersMax: number;
}

export const watchHubDefaults: WatchHubOptions = Object.freeze({
  lagRevisionsMax: 10_000,
  pollEventsMax: 10_000,
  pollBytesMax: 4 * 1024 * 1024,
  progressIntervalMs: 10_000,
  watchersPerConnectionMax: 100_000,
  watchersMax: 1_000_000,
});

/** Matched events of this many revisions are kept per range group (several watchers at nearby cursors reuse them). */
const GROUP_MEMO_REVISIONS_MAX = 1024;

/** What a watcher asks for, once validated. */
export interface WatchSpec {
  readonly watchId: number;
  readonly range: WatchRange;
  /** The first revision to deliver (resolved by the service when the client gave none). */
  readonly startRevision: number;
  readonly prevKv: boolean;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly progressNotify: boolean;
}

class RangeGroup {
  readonly members = new Set<Watcher>();
  /** The members that are caught up (not ready): all a new revision in range has to look at. */
  readonly idle = new Set<Watcher>();
  private readonly memo = new Map<number, readonly HistoryEvent[]>();
  constructor(
    readonly id: string,
    readonly low: BinaryString,
    /** Exclusive; null: to the last key. */
    readonly high: BinaryString | null,
    readonly exact: boolean,
  ) {}

  covers(key: BinaryString): boolean {
    return key >= this.low && (this.high === null || key < this.high);
  }

  /** This group's events of `record` (shared by every member). */
  eventsOf(record: RevisionRecord): readonly HistoryEvent[] {
    const cached = this.memo.get(record.revision);
    if (cached !== undefined) return cached;
    const matched = record.events.filter((e) => this.covers(e.kv.keyString));
    if (this.memo.size >= GROUP_MEMO_REVISIONS_MAX) this.memo.delete(this.memo.keys().next().value!);
    this.memo.set(record.revision, matched);
    return matched;
  }
}

class Watcher {
  /** In the connection's ready set: may have something to deliver (or is catching up). */
  ready = true;
  progressDue = false;
  lastSentMs: number;
  cancel: WireWatchCancel | null = null;
  constructor(
    readonly spec: WatchSpec,
    readonly group: RangeGroup,
    readonly owner: ConnectionWatches,
    /** The next revision to deliver. */
    public next: number,
    nowMs: number,
  ) {
    this.lastSentMs = nowMs;
  }
}

interface WaitingPoll {
  resolve(batches: WireWatchBatch[]): void;
  timer: Timer;
  paused: ReadonlySet<number>;
}

class ConnectionWatches {
  readonly watchers = new Map<number, Watcher>();
  /** Watchers that may have something to deliver, in round-robin order (a Set keeps insertion order). */
  readonly ready = new Set<Watcher>();
  waiting: WaitingPoll | null = null;
  wakeScheduled = false;
}

export class WatchHub {
  private readonly connections = new Map<Connection<any>, ConnectionWatches>();
  private readonly exactGroups = new Map<BinaryString, RangeGroup>();
  private readonly rangeGroups = new Map<string, RangeGroup>();
  private watcherCount = 0;
  private progressTimer: Timer | null = null;
  private stopped = false;

  constructor(
    private readonly history: RevisionHistory,
    /** The state machine's current revision (the head every cursor runs towards). */
    private readonly head: () => number,
    private readonly clock: Clock,
    private readonly options: WatchHubOptions = watchHubDefaults,
  ) {
    history.onRecord = (record) => this.recorded(record);
    // A restored snapshot replaced the history: caught-up cursors may now be below it (CompactedError at the next poll).
    history.onReset = () => {
      for (const conn of this.connections.values()) {
        for (const w of conn.watchers.values()) {
          w.ready = true;
          w.group.idle.delete(w);
          conn.ready.add(w);
        }
        this.wake(conn);
      }
    };
  }

  /** Watchers on this member (metrics, tests). */
  get size(): number {
    return this.watcherCount;
  }

  start(): void {
    this.progressTimer ??= this.clock.setRepeating(this.options.progressIntervalMs, () => this.progressTick(), { keepsProcessAlive: false });
  }

  stop(): void {
    this.stopped = true;
    this.progressTimer?.cancel();
    this.progressTimer = null;
    for (const conn of this.connections.values()) this.answer(conn, []);
  }

  /** Adds a watcher on `connection`; throws CompactedError when its start is gone, InvalidRequest/Overloaded on bounds. */
  create(connection: Connection<any>, spec: WatchSpec): void {
    const conn = this.connectionOf(connection);
    if (conn.watchers.has(spec.watchId)) throw invalidRequest(`watch id ${spec.watchId} is in use on this connection`, 'duplicate watch id');
    if (conn.watchers.size >= this.options.watchersPerConnectionMax) throw overloaded('watchers-per-connection', this.options.watchersPerConnectionMax);
    if (this.watcherCount >= this.options.watchersMax) throw overloaded('watchers', this.options.watchersMax);
    if (spec.startRevision <= this.history.compactRevision) throw this.compactedError();
    const group = this.groupOf(spec.range);
    const watcher = new Watcher(spec, group, conn, spec.startRevision, this.clock.monotonicMs());
    group.members.add(watcher);
    conn.watchers.set(spec.watchId, watcher);
    conn.ready.add(watcher);
    this.watcherCount++;
    this.wake(conn);
  }

  /** Ends a watcher of `connection`; false when there is none with that id. */
  cancel(connection: Connection<any>, watchId: number): boolean {
    const conn = this.connections.get(connection);
    const watcher = conn?.watchers.get(watchId);
    if (conn === undefined || watcher === undefined) return false;
    this.remove(watcher);
    return true;
  }

  /**
   * The connection's long-poll: answers at once when something is ready
   * (or progress was asked for), else when something becomes ready or
   * `waitMs` passes. A newer poll on the same connection ends the older one empty.
   */
  poll(connection: Connection<any>, waitMs: number, progress: boolean, paused: ReadonlySet<number>, signal: AbortSignal): Promise<WireWatchBatch[]> {
    const conn = this.connectionOf(connection);
    this.answer(conn, []);
    if (progress) for (const w of conn.watchers.values()) if (!w.ready) w.progressDue = true;
    const now = this.collect(conn, paused);
    if (now.length > 0 || signal.aborted || this.stopped) return Promise.resolve(now);
    return new Promise((resolve) => {
      const timer = this.clock.setTimer(waitMs, () => this.answer(conn, this.collect(conn, paused)));
      conn.waiting = { resolve, timer, paused };
      signal.addEventListener('abort', () => this.answer(conn, []), { once: true });
    });
  }

  private connectionOf(connection: Connection<any>): ConnectionWatches {
    let conn = this.connections.get(connection);
    if (conn === undefined) {
      conn = new ConnectionWatches();
      this.connections.set(connection, conn);
      const owned = conn;
      connection.onClose(() => {
        this.answer(owned, []);
        for (const w of [...owned.watchers.values()]) this.remove(w);
        this.connections.delete(connection);
      });
    }
    return conn;
  }

  private groupOf(range: WatchRange): RangeGroup {
    if (range.key !== undefined) {
      const key = binaryStringFromBytes(range.key);
      let group = this.exactGroups.get(key);
      if (group === undefined) {
        group = new RangeGroup(key, key, key + '\u0000', true);
        this.exactGroups.set(key, group);
      }
      return group;
    }
    const startBytes = range.prefix ?? range.start ?? new Uint8Array(0);
    const endBytes = range.prefix !== undefined ? prefixEnd(range.prefix) : (range.end ?? null);
    const low = binaryStringFromBytes(startBytes);
    const high = endBytes === null ? null : binaryStringFromBytes(endBytes);
    const id = `${low}\u0000${high ?? ''}\u0000${high === null ? 1 : 0}`;
    let group = this.rangeGroups.get(id);
    if (group === undefined) {
      group = new RangeGroup(id, low, high, false);
      this.rangeGroups.set(id, group);
    }
    return group;
  }

  private remove(watcher: Watcher): void {
    const conn = watcher.owner;
    if (conn.watchers.get(watcher.spec.watchId) !== watcher) return;
    conn.watchers.delete(watcher.spec.watchId);
    conn.ready.delete(watcher);
    const group = watcher.group;
    group.members.delete(watcher);
    group.idle.delete(watcher);
    if (group.members.size === 0) {
      if (group.exact) this.exactGroups.delete(group.id);
      else this.rangeGroups.delete(group.id);
    }
    this.watcherCount--;
  }

  /** A new revision: mark the caught-up watchers it concerns ready, and wake their connections. */
  private recorded(record: RevisionRecord): void {
    if (this.watcherCount === 0) return;
    for (const event of record.events) {
      const exact = this.exactGroups.get(event.kv.keyString);
      if (exact !== undefined) this.touch(exact, record.revision);
    }
    for (const group of this.rangeGroups.values()) {
      if (record.events.some((e) => group.covers(e.kv.keyString))) this.touch(group, record.revision);
    }
    // Watchers behind on paused consumers get checked against their bound as the head moves.
    for (const conn of this.connections.values()) if (conn.ready.size > 0) this.wake(conn);
  }

  private touch(group: RangeGroup, revision: number): void {
    for (const w of group.idle) {
      // Starting after this revision (a client resuming here from a member that was ahead).
      if (revision < w.next) continue;
      group.idle.delete(w);
      // Caught up until now: every revision since its cursor missed its range.
      w.next = revision;
      w.ready = true;
      w.owner.ready.add(w);
      this.wake(w.owner);
    }
  }

  private wake(conn: ConnectionWatches): void {
    if (conn.waiting === null || conn.wakeScheduled) return;
    conn.wakeScheduled = true;
    // Coalesced: the revisions applied in one event-loop turn go out in one answer.
    this.clock.schedule(() => {
      conn.wakeScheduled = false;
      const waiting = conn.waiting;
      if (waiting === null) return;
      const batches = this.collect(conn, waiting.paused);
      if (batches.length > 0) this.answer(conn, batches);
    });
  }

  private answer(conn: ConnectionWatches, batches: WireWatchBatch[]): void {
    const waiting = conn.waiting;
    if (waiting === null) return;
    conn.waiting = null;
    waiting.timer.cancel();
    waiting.resolve(batches);
  }

  private progressTick(): void {
    const dueBefore = this.clock.monotonicMs() - this.options.progressIntervalMs;
    for (const conn of this.connections.values()) {
      let any = false;
      for (const w of conn.watchers.values()) {
        if (w.spec.progressNotify && !w.ready && w.lastSentMs <= dueBefore) {
          w.progressDue = true;
          any = true;
        }
      }
      if (any && conn.waiting !== null) this.answer(conn, this.collect(conn, conn.waiting.paused));
    }
  }

  /** The batches ready on `conn`, round-robin over its ready watchers, within the answer's bounds. */
  private collect(conn: ConnectionWatches, paused: ReadonlySet<number>): WireWatchBatch[] {
    const batches: WireWatchBatch[] = [];
    const head = this.head();
    const nowMs = this.clock.monotonicMs();
    let events = 0;
    let bytes = 0;
    const full = (): boolean => events >= this.options.pollEventsMax || bytes >= this.options.pollBytesMax;
    // Caught-up watchers owed a progress notification.
    for (const w of conn.watchers.values()) {
      if (!w.progressDue || w.ready) continue;
      w.progressDue = false;
      w.lastSentMs = nowMs;
      batches.push({ watchId: w.spec.watchId, events: [], progressRevision: Math.max(head, w.next - 1) });
    }
    const visited: Watcher[] = [];
    const shared = new Map<string, { batch: { watchId: number; watchIds: number[]; events: WireWatchEvent[]; progressRevision: number }; next: number; caughtUp: boolean }>();
    for (const w of conn.ready) {
      if (full()) break;
      visited.push(w);
      const cancel = this.cancelReason(w, head, paused);
      if (cancel !== null) {
        batches.push({ watchId: w.spec.watchId, events: [], progressRevision: 0, canceled: cancel });
        this.remove(w);
        continue;
      }
      if (paused.has(w.spec.watchId)) continue;
      // Watchers of one group at the same cursor with the same options get the same batch: sent once, for all of them.
      const shareKey = `${w.group.id}\u0001${w.next}\u0001${w.spec.prevKv ? 1 : 0}${w.spec.noPut ? 1 : 0}${w.spec.noDelete ? 1 : 0}`;
      const twin = shared.get(shareKey);
      if (twin !== undefined) {
        w.next = twin.next;
        twin.batch.watchIds.push(w.spec.watchId);
        this.settle(conn, w, head, twin.caughtUp, nowMs, twin.batch.events.length > 0);
        continue;
      }
      const out: WireWatchEvent[] = [];
      let i = this.history.indexFrom(w.next);
      for (; i >= 0 && i < this.history.size && !full(); i++) {
        const record = this.history.at(i)!;
        for (const e of w.group.eventsOf(record)) {
          if (e.type === 'put' ? w.spec.noPut : w.spec.noDelete) continue;
          out.push(wireEvent(e, w.spec.prevKv));
          events++;
          bytes += e.kv.keyString.length + e.kv.value.length + (w.spec.prevKv && e.prevKv !== null ? e.prevKv.keyString.length + e.prevKv.value.length : 0);
        }
        w.next = record.revision + 1;
      }
      const caughtUp = w.next > head || i < 0;
      const batch = { watchId: w.spec.watchId, watchIds: [] as number[], events: out, progressRevision: 0 };
      shared.set(shareKey, { batch, next: w.next, caughtUp });
      this.settle(conn, w, head, caughtUp, nowMs, out.length > 0);
      if (out.length > 0) batches.push(batch);
    }
    // Round-robin: the watchers served this time go to the back of the line.
    for (const w of visited) {
      if (conn.ready.delete(w)) conn.ready.add(w);
    }
    // A batch for one watcher only goes out without the (empty) list of the others.
    return batches.map((b) => ('watchIds' in b && (b.watchIds as number[]).length === 0 ? { watchId: b.watchId, events: b.events, progressRevision: b.progressRevision } : b));
  }

  /** After a watcher's turn: caught up (leaves the ready set), and when it was sent something. */
  private settle(conn: ConnectionWatches, w: Watcher, head: number, caughtUp: boolean, nowMs: number, sent: boolean): void {
    if (caughtUp) {
      // Never below where it asked to start: a resumed watcher may start beyond this member's head.
      w.next = Math.max(w.next, head + 1);
      w.ready = false;
      w.group.idle.add(w);
      conn.ready.delete(w);
    }
    if (sent) {
      w.lastSentMs = nowMs;
      w.progressDue = false;
    }
  }

  /** The refusal of a start at or below the history's floor; says so when only this member lacks those revisions. */
  private compactedError(): CompactedError {
    const compactRevision = this.history.compactRevision;
    const clusterCompactRevision = this.history.clusterCompactRevision;
    return new CompactedError(clusterCompactRevision < compactRevision ? { compactRevision, clusterCompactRevision } : { compactRevision });
  }

  private cancelReason(w: Watcher, head: number, paused: ReadonlySet<number>): WireWatchCancel | null {
    if (w.next <= this.history.compactRevision) {
      const error = this.compactedError();
      return { code: error.code, message: error.message, details: { ...error.details } };
    }
    const lag = head - w.next + 1;
    // Only a watcher its consumer asked to hold back: a busy store must not cancel a watcher that is keeping up.
    if (paused.has(w.spec.watchId) && lag > this.options.lagRevisionsMax) {
      const limit = this.options.lagRevisionsMax;
      return {
        code: ErrorCode.WatchCanceled,
        message: `watch ${w.spec.watchId} cancelled: its consumer trails the head by ${lag} revisions, over the bound of ${limit} (slow consumer)`,
        details: { watchId: w.spec.watchId, reason: 'slow-consumer', limit },
      };
    }
    return null;
  }
}

function wireEvent(e: HistoryEvent, prevKv: boolean): WireWatchEvent {
  const kv = toKeyValue(e.kv);
  return prevKv && e.prevKv !== null ? { type: e.type, kv, prevKv: toKeyValue(e.prevKv) } : { type: e.type, kv };
}
