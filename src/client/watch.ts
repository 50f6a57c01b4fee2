/**
 * Client side of watches: `kv.watch(key | { prefix } | { range }, options)`
 * returns an async iterable of batches of events, in revision order, each
 * revision's events in one batch, without gaps or duplicates.
 *
 * All watchers of one client share one member and one long-poll
 * (`watch.poll`, src/server/watch-hub.ts): the WatchMux keeps exactly one
 * poll outstanding and routes its batches to the watchers. When the member
 * goes away (connection lost, shutting down, a failed poll), the mux picks
 * another member and creates every watcher there again from the revision
 * after the last one it delivered, so the caller sees nothing but a pause.
 *
 * Each watcher buffers at most WATCH_BUFFER_BATCHES_MAX batches for its
 * consumer (plus one poll answer's worth already on the way); while full it
 * is reported paused in the polls, so the member holds its events back and,
 * past the member's bound, cancels it (WatchCanceledError, "slow consumer")
 * without slowing the client's other watchers.
 */
import { ConcordError, ConcordErrorCode } from '../common/errors.js';
import { Backoff, type BackoffOptions } from '../common/backoff.js';
import type { Clock } from '../common/clock.js';
import type { RandomSource } from '../common/rng.js';
import { CompactedError } from '../kv/errors.js';
import { isRetryableCode, Method, type MethodTypes, type WatchRange, type WireWatchBatch, type WireWatchEvent } from '../protocol/index.js';
import { toBytes, type BytesLike } from './bytes.js';
import type { RpcChannel } from './channel.js';
import type { EndpointPool } from './endpoint-pool.js';
import { AbortedError, ClientClosedError, errorFromRemote } from './errors.js';
import { KeyValueResult } from './key-value.js';
import { RemoteError } from '../net/index.js';

/** Batches one watcher holds for a consumer that has not taken them; past it the watcher is paused on the member. */
export const WATCH_BUFFER_BATCHES_MAX = 64;
/** Creates sent at once when (re)creating many watchers on a member (the member serves 1024 calls per connection). */
const WATCH_CREATES_IN_FLIGHT_MAX = 256;
/** How long one poll may be held by the member when nothing happens. */
export const WATCH_POLL_WAIT_MS = 10_000;

export type WatchTarget = BytesLike | { readonly prefix: BytesLike } | { readonly range: { readonly start: BytesLike; readonly end?: BytesLike } };

export interface WatchOptions {
  /** The first revision to deliver; absent: changes after the linearizable current revision. */
  readonly startRevision?: number;
  /** Each event also carries the key's previous entry. */
  readonly prevKv?: boolean;
  readonly filters?: readonly ('noPut' | 'noDelete')[];
  /** Periodic progress notifications (batches without events) while nothing changes. */
  readonly progressNotify?: boolean;
  /** Aborting ends the watch (the iteration throws AbortedError). */
  readonly signal?: AbortSignal;
}

export interface WatchEvent {
  readonly type: 'put' | 'delete';
  /** For a delete: the key, an empty value, version 0 and the delete's revision as modRevision. */
  readonly kv: KeyValueResult;
  readonly prevKv?: KeyValueResult;
}

export interface WatchBatch {
  /** Whole revisions, oldest first. Empty for a progress notification. */
  readonly events: readonly WatchEvent[];
  /** Every event up to this revision has been delivered (the last event's revision, or the progress revision). */
  readonly revision: number;
  /** True for a progress notification. */
  readonly progress: boolean;
}

/** The member ended the watcher (a slow consumer past its bound); details say why. Watch again from `revision + 1` to go on. */
export class WatchCanceledError extends ConcordError {
  constructor(
    message: string,
    readonly details: unknown,
  ) {
    super(ConcordErrorCode.WatchCanceled, message);
  }
}

type Call = <M extends keyof MethodTypes>(channel: RpcChannel, method: M, request: MethodTypes[M]['request'], timeoutMs: number) => Promise<MethodTypes[M]['response']>;

class ClientWatcher {
  readonly buffer: WatchBatch[] = [];
  /** The next revision to deliver: where a resume starts (0 until the first member answered the create). */
  resumeFrom: number;
  /** Members in a row that lacked its start only in their own history (CompactedError with clusterCompactRevision). */
  localFloorRefusals = 0;
  private waiter: { resolve(r: IteratorResult<WatchBatch>): void; reject(e: unknown): void } | null = null;
  private failure: unknown = null;
  done = false;
  private settleStart: ((revision: number) => void) | null = null;
  private failStart: ((error: unknown) => void) | null = null;
  /** Resolves with the first revision it delivers once a member accepted it. */
  readonly started = new Promise<number>((resolve, reject) => {
    this.settleStart = resolve;
    this.failStart = reject;
  });

  constructor(
    readonly id: number,
    readonly request: Omit<MethodTypes['watch.create']['request'], 'watchId' | 'startRevision'>,
    startRevision: number,
    private readonly onEnd: (w: ClientWatcher) => void,
    signal: AbortSignal | undefined,
  ) {
    this.resumeFrom = startRevision;
    this.started.catch(() => undefined);
    signal?.addEventListener('abort', () => this.fail(new AbortedError('the watch was aborted')), { once: true });
  }

  accepted(startRevision: number): void {
    // Never back: a poll answered while the create's own answer was on its way may have delivered already.
    this.resumeFrom = Math.max(this.resumeFrom, startRevision);
    this.localFloorRefusals = 0;
    this.settleStart?.(startRevision);
    this.settleStart = null;
  }

  get full(): boolean {
    return this.buffer.length >= WATCH_BUFFER_BATCHES_MAX;
  }

  deliver(batch: WatchBatch): void {
    if (this.done) return;
    this.resumeFrom = Math.max(this.resumeFrom, batch.revision + 1);
    if (this.waiter !== null) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve({ value: batch, done: false });
    } else this.buffer.push(batch);
  }

  /** Ends the watcher with `error` once its buffered batches are taken. */
  fail(error: unknown): void {
    if (this.done) return;
    this.done = true;
    this.failure = error;
    this.failStart?.(error);
    this.onEnd(this);
    if (this.waiter !== null && this.buffer.length === 0) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(error);
    }
  }

  take(): Promise<IteratorResult<WatchBatch>> {
    const batch = this.buffer.shift();
    if (batch !== undefined) return Promise.resolve({ value: batch, done: false });
    if (this.done) return this.failure === null ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** `break` out of `for await`: cancels the watcher on the member. */
  return(): Promise<IteratorResult<WatchBatch>> {
    this.buffer.length = 0;
    if (!this.done) {
      this.done = true;
      this.onEnd(this);
    }
    const w = this.waiter;
    this.waiter = null;
    w?.resolve({ value: undefined, done: true });
    return Promise.resolve({ value: undefined, done: true });
  }
}

/** The async iterable `kv.watch` returns. */
export class WatchStream implements AsyncIterable<WatchBatch> {
  constructor(
    private readonly watcher: ClientWatcher,
    private readonly mux: WatchMux,
  ) {}

  /** Resolves with the first revision delivered once a member has accepted the watch (rejects if it ends first). */
  get started(): Promise<number> {
    return this.watcher.started;
  }

  /** The member serving this client's watches now (null before its first answer). */
  get member(): string | null {
    return this.mux.member;
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchBatch> {
    const w = this.watcher;
    return { next: () => w.take(), return: () => w.return() };
  }

  /** Cancels the watch (like breaking out of the loop). */
  cancel(): void {
    void this.watcher.return();
  }
}

export interface WatchMuxDeps {
  readonly pool: EndpointPool;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly backoff: BackoffOptions;
  /** Per-call timeout of create and cancel. */
  readonly timeoutMs: number;
  readonly closeSignal: AbortSignal;
}

export class WatchMux {
  private readonly watchers = new Map<number, ClientWatcher>();
  private nextId = 1;
  private url: string | null = null;
  private channel: RpcChannel | null = null;
  /** Watchers created on the current channel, and those whose create is in flight. */
  private readonly created = new Set<ClientWatcher>();
  private readonly creating = new Set<ClientWatcher>();
  private running = false;
  private progressWanted = false;
  /** A watcher was cancelled by a member that lacks its revisions only locally: leave that member after this round. */
  private moveOnAfterRound = false;
  private readonly call: Call;
  /** The member that answered the last poll. */
  member: string | null = null;

  constructor(private readonly deps: WatchMuxDeps) {
    this.call = (channel, method, request, timeoutMs) => channel.call(method, request, { timeoutMs }) as never;
    deps.closeSignal.addEventListener('abort', () => {
      for (const w of [...this.watchers.values()]) w.fail(new ClientClosedError());
    });
  }

  watch(target: WatchTarget, options: WatchOptions = {}): WatchStream {
    if (this.deps.closeSignal.aborted) throw new ClientClosedError();
    const filters = new Set(options.filters ?? []);
    const request = {
      ...rangeOf(target),
      ...(options.prevKv === true ? { prevKv: true } : {}),
      ...(filters.has('noPut') ? { noPut: true } : {}),
      ...(filters.has('noDelete') ? { noDelete: true } : {}),
      ...(options.progressNotify === true ? { progressNotify: true } : {}),
    };
    const watcher = new ClientWatcher(this.nextId++, request, options.startRevision ?? 0, (w) => this.ended(w), options.signal);
    this.watchers.set(watcher.id, watcher);
    // While a poll is held, create it at once on the current member (the poll loop would only after the poll).
    const channel = this.channel;
    if (channel !== null && this.running) void this.createOne(channel, watcher).catch(() => undefined);
    this.run();
    return new WatchStream(watcher, this);
  }

  /** Ask the member for a progress notification on every caught-up watcher (etcd's RequestProgress). */
  requestProgress(): void {
    this.progressWanted = true;
  }

  private ended(w: ClientWatcher): void {
    this.watchers.delete(w.id);
    if (this.created.delete(w) && this.channel !== null) {
      void this.call(this.channel, Method.WatchCancel, { watchId: w.id }, this.deps.timeoutMs).catch(() => undefined);
    }
  }

  /** The poll loop: runs while there are watchers; moves to another member when the current one fails. */
  private run(): void {
    if (this.running) return;
    this.running = true;
    void this.loop().finally(() => {
      this.running = false;
      if (this.watchers.size > 0 && !this.deps.closeSignal.aborted) this.run();
    });
  }

  private async loop(): Promise<void> {
    const backoff = new Backoff(this.deps.backoff, this.deps.random);
    while (this.watchers.size > 0 && !this.deps.closeSignal.aborted) {
      try {
        const channel = await this.connect();
        await this.createPending(channel);
        const paused = [...this.created].filter((w) => w.full).map((w) => w.id);
        const progress = this.progressWanted;
        this.progressWanted = false;
        const response = await this.call(
          channel,
          Method.WatchPoll,
          { waitMs: WATCH_POLL_WAIT_MS, ...(progress ? { progress: true } : {}), ...(paused.length > 0 ? { paused } : {}) },
          WATCH_POLL_WAIT_MS + this.deps.timeoutMs,
        );
        this.member = response.header.memberName;
        for (const batch of response.batches) this.route(batch);
        if (this.moveOnAfterRound) {
          this.moveOnAfterRound = false;
          // The member is alive: end our watchers there, they are all made again on the next one.
          for (const w of this.created) void this.call(channel, Method.WatchCancel, { watchId: w.id }, this.deps.timeoutMs).catch(() => undefined);
          throw new Error('a watcher must resume on another member');
        }
        backoff.reset();
      } catch (error) {
        if (this.deps.closeSignal.aborted) return;
        this.moveOn();
        await sleep(this.deps.clock, backoff.nextDelayMs());
      }
    }
  }

  private async connect(): Promise<RpcChannel> {
    if (this.channel !== null) return this.channel;
    const url = (this.url ??= this.deps.pool.pickAny());
    const channel = await this.deps.pool.channel(url);
    this.channel = channel;
    this.created.clear();
    channel.onClose(() => {
      if (this.channel === channel) {
        this.channel = null;
        this.created.clear();
      }
    });
    return channel;
  }

  /** The current member failed us: forget it and its watchers; the next round resumes them elsewhere. */
  private moveOn(): void {
    if (this.url !== null) this.deps.pool.noteFailure(this.url);
    this.url = null;
    this.channel = null;
    this.created.clear();
  }

  /** Creates (again) every watcher the current channel does not have, from its next revision; pipelined in rounds. */
  private async createPending(channel: RpcChannel): Promise<void> {
    const pending = [...this.watchers.values()].filter((w) => !this.created.has(w) && !w.done);
    for (let i = 0; i < pending.length; i += WATCH_CREATES_IN_FLIGHT_MAX) {
      await Promise.all(pending.slice(i, i + WATCH_CREATES_IN_FLIGHT_MAX).map((w) => this.createOne(channel, w)));
    }
  }

  /** Creates `w` on `channel` unless it is there or on its way; a definitive refusal ends `w`, anything else throws. */
  private async createOne(channel: RpcChannel, w: ClientWatcher): Promise<void> {
    if (this.created.has(w) || this.creating.has(w) || w.done) return;
    this.creating.add(w);
    try {
      const response = await this.call(channel, Method.WatchCreate, { ...w.request, watchId: w.id, ...(w.resumeFrom > 0 ? { startRevision: w.resumeFrom } : {}) }, this.deps.timeoutMs);
      if (w.done || this.channel !== channel) {
        void this.call(channel, Method.WatchCancel, { watchId: w.id }, this.deps.timeoutMs).catch(() => undefined);
        return;
      }
      w.accepted(response.startRevision);
      this.created.add(w);
    } catch (error) {
      const typed = error instanceof RemoteError ? errorFromRemote(error.code, error.message, error.details) : error;
      // Only that member lacks the start (it restarted or was restored): another may still have it.
      if (typed instanceof CompactedError && this.anotherMemberMayHave(w, typed)) throw error;
      // A definitive refusal ends that watcher only (compacted start, permission, bad range); anything else moves on.
      if (typed instanceof CompactedError || (error instanceof RemoteError && !isRetryableCode(error.code))) w.fail(typed);
      else throw error;
    } finally {
      this.creating.delete(w);
    }
  }

  /**
   * True (counting the refusal) when `refusal` came from a member whose own
   * history starts above the cluster's compaction point, below `w`'s start,
   * and not every other member has refused it that way yet.
   */
  private anotherMemberMayHave(w: ClientWatcher, refusal: CompactedError): boolean {
    const cluster = refusal.details.clusterCompactRevision;
    if (cluster === undefined || w.resumeFrom <= cluster || w.localFloorRefusals >= this.deps.pool.known.length - 1) return false;
    w.localFloorRefusals++;
    return true;
  }

  private route(batch: WireWatchBatch): void {
    // One batch may be for several watchers (the member sends identical batches once): one decoded copy, shared.
    const events = batch.events.length === 0 ? null : batch.events.map(eventOf);
    for (const id of batch.watchIds ?? []) {
      if (events !== null) this.watchers.get(id)?.deliver({ events, revision: events[events.length - 1]!.kv.modRevision, progress: false });
    }
    const w = this.watchers.get(batch.watchId);
    if (w === undefined) return;
    if (events !== null) w.deliver({ events, revision: events[events.length - 1]!.kv.modRevision, progress: false });
    if (batch.progressRevision > 0) w.deliver({ events: [], revision: batch.progressRevision, progress: true });
    if (batch.canceled !== undefined) {
      this.created.delete(w);
      const c = batch.canceled;
      const error = c.code === ConcordErrorCode.Compacted ? errorFromRemote(c.code, c.message, c.details) : new WatchCanceledError(c.message, c.details);
      // This member's history was replaced under the watcher (a snapshot installed): resume it on another member.
      if (error instanceof CompactedError && this.anotherMemberMayHave(w, error)) this.moveOnAfterRound = true;
      else w.fail(error);
    }
  }
}


function eventOf(e: WireWatchEvent): WatchEvent {
  const kv = new KeyValueResult(e.kv);
  return e.prevKv !== undefined ? { type: e.type, kv, prevKv: new KeyValueResult(e.prevKv) } : { type: e.type, kv };
}

function rangeOf(target: WatchTarget): WatchRange {
  if (typeof target === 'object' && target !== null && !(target instanceof Uint8Array)) {
    if ('prefix' in target) return { prefix: toBytes(target.prefix) };
    const { start, end } = target.range;
    return { start: toBytes(start), ...(end !== undefined ? { end: toBytes(end) } : {}) };
  }
  return { key: toBytes(target) };
}

function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(ms, () => resolve(), { keepsProcessAlive: false }));
}
