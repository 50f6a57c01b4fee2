/**
 * The `watch.*` methods over the member's WatchHub (watch-hub.ts): request
 * checks, the linearizable start point, and the poll's wait bound. Watches
 * are served by the contacted member from its own applied state and never
 * forwarded: a watcher belongs to the client connection it was created on.
 */
import type { Clock } from '../common/clock.js';
import { keyProblem } from '../kv/index.js';
import type { MethodTypes, WatchRange } from '../protocol/index.js';
import { invalidRequest } from './errors.js';
import type { RequestContext } from './request-auth.js';
import { plainBytes } from './bytes.js';
import type { WatchHub } from './watch-hub.js';
import type { KvOptions } from '../kv/index.js';

/** Longest a poll is held before it answers empty (a client asks for less; its call timeout must exceed it). */
export const WATCH_POLL_WAIT_MS_MAX = 30_000;

type Request<M extends keyof MethodTypes> = MethodTypes[M]['request'];
type Response<M extends keyof MethodTypes> = MethodTypes[M]['response'];

export interface WatchServiceDeps {
  readonly hub: WatchHub;
  readonly clock: Clock;
  readonly limits: KvOptions;
  /** The local state's store revision. */
  revision(): number;
  /** Resolves once this member has applied everything committed before the call (ReadIndex through the leader). */
  catchUp(deadlineMs: number): Promise<void>;
  checkAccepting(): void;
  header(): Response<'watch.poll'>['header'];
}

export class WatchService {
  constructor(
    private readonly deps: WatchServiceDeps,
    private readonly requestTimeoutMs: number,
  ) {}

  /**
   * A new watcher: `authorize` checks the user may read the whole range (a
   * watcher sees only keys its user may read). Without startRevision it
   * starts right after the linearizable current revision: every change
   * acknowledged before the call is below its start, every later one is seen.
   */
  async create(request: Request<'watch.create'>, context: RequestContext, authorize: (range: WatchRange) => Promise<void>): Promise<Response<'watch.create'>> {
    const { hub, clock } = this.deps;
    this.deps.checkAccepting();
    const connection = this.connectionOf(context);
    const range = this.rangeOf(request);
    await authorize(range);
    let startRevision = request.startRevision ?? 0;
    if (startRevision === 0) {
      await this.deps.catchUp(clock.monotonicMs() + this.requestTimeoutMs);
      startRevision = this.deps.revision() + 1;
    }
    hub.create(connection, {
      watchId: request.watchId,
      range,
      startRevision,
      prevKv: request.prevKv === true,
      noPut: request.noPut === true,
      noDelete: request.noDelete === true,
      progressNotify: request.progressNotify === true,
    });
    return { header: this.deps.header(), watchId: request.watchId, startRevision };
  }

  async cancel(request: Request<'watch.cancel'>, context: RequestContext): Promise<Response<'watch.cancel'>> {
    const canceled = this.deps.hub.cancel(this.connectionOf(context), request.watchId);
    return { header: this.deps.header(), canceled };
  }

  async poll(request: Request<'watch.poll'>, context: RequestContext, signal: AbortSignal): Promise<Response<'watch.poll'>> {
    this.deps.checkAccepting();
    const waitMs = Math.min(request.waitMs, WATCH_POLL_WAIT_MS_MAX);
    const paused = new Set(request.paused ?? []);
    const batches = await this.deps.hub.poll(this.connectionOf(context), waitMs, request.progress === true, paused, signal);
    return { header: this.deps.header(), batches };
  }

  private connectionOf(context: RequestContext): NonNullable<RequestContext['connection']> {
    if (context.connection === undefined) throw invalidRequest('watches are served to client connections only (never forwarded)', 'watch forwarded');
    return context.connection;
  }

  /** Exactly one of key, prefix, or start (with an optional end). */
  private rangeOf(request: Request<'watch.create'>): WatchRange {
    const given = [request.key, request.prefix, request.start].filter((v) => v !== undefined).length;
    if (given !== 1 || (request.end !== undefined && request.start === undefined)) {
      throw invalidRequest('watch: give exactly one of key, prefix, or start [with end]', 'bad watch range');
    }
    if (request.key !== undefined) {
      const problem = keyProblem(request.key, this.deps.limits);
      if (problem) throw problem;
      return { key: plainBytes(request.key) };
    }
    if (request.prefix !== undefined) return { prefix: plainBytes(request.prefix) };
    return { start: plainBytes(request.start!), ...(request.end !== undefined ? { end: plainBytes(request.end) } : {}) };
  }
}
