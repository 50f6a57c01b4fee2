/**
 * The client methods, served over the key-value state machine. Every member
 * serves every method:
 * - stale reads and status are answered locally;
 * - on the leader, a write is validated, encoded (with the leader's wall
 *   clock, the state machine's only clock: thesis §6.3) and proposed through
 *   Raft, and its result shaped into the response once applied;
 *   linearizable reads wait for a (batched) read index;
 * - on a follower, writes and linearizable reads are forwarded to the
 *   leader's peer URL unchanged, and the leader's answer is returned as it is
 *   (its header names the leader, so the client can go direct next time, and
 *   carries the leader's revision, never below the write's own).
 * A request that was itself forwarded is never forwarded again (no loops):
 * if this member is no longer the leader it answers NotLeader with a hint.
 */
import type { Clock } from '../common/clock.js';
import {
  commandProblem,
  encodeCommand,
  keyProblem,
  CommandKind,
  ResultKind,
  type ApplyResult,
  type Command,
  type KvEntry,
  type KvOptions,
  type ScanPage,
  type ScanRequest,
} from '../kv/index.js';
import type { Handlers as RpcHandlers } from '../net/index.js';
import { protocolLimits, type ClientMethods, type Method, type MethodTypes, type KeyValue, type ResponseHeader, type StatusResponse } from '../protocol/index.js';
import { internalError, invalidRequest, notLeader, type LeaderHint } from './errors.js';
import { plainBytes } from './bytes.js';
import { proposalHeadroomBytes } from './proposal-tracker.js';

/** One member as the client methods need it (implemented by KvReplica over the loop and the state machine). */
export interface Replica {
  readonly name: string;
  /** The state machine's bounds (key and value sizes, scan page). */
  readonly limits: KvOptions;
  isLeader(): boolean;
  leaderId(): string | null;
  leaderClientUrl(): string | null;
  /** Where to retry, for a refusal. */
  hint(): LeaderHint;
  /** Proposes encoded command bytes (after proposalHeadroomBytes of free space; leader only); resolves with the result once applied here. */
  propose(payload: Uint8Array, deadlineMs: number): Promise<ApplyResult>;
  /** Resolves once a linearizable read may be served from the local state (leader only, ReadIndex). */
  readBarrier(deadlineMs: number): Promise<void>;
  /** Throws (StorageFailed, ShuttingDown) when this member must not take new writes. */
  checkAcceptingWrites(): void;
  /** Throws ShuttingDown once the member stopped accepting requests. */
  checkAccepting(): void;
  status(): Omit<StatusResponse, 'header'>;
  get(key: Uint8Array): KvEntry | null;
  scan(request: ScanRequest): ScanPage;
  /** The local state's revision (applied index). */
  revision(): number;
}

/** Sends a request to the current leader's peer URL and returns its answer. */
export interface Forwarder {
  forward<M extends Method>(method: M, request: MethodTypes[M]['request'], deadlineMs: number): Promise<MethodTypes[M]['response']>;
}

export interface RequestContext {
  /** True when another member forwarded this request (do not forward again). */
  readonly forwarded: boolean;
}

type Request<M extends Method> = MethodTypes[M]['request'];
type Response<M extends Method> = MethodTypes[M]['response'];
type Handlers = { [M in Method]: (request: Request<M>, context: RequestContext) => Promise<Response<M>> };
type WriteMethod = 'kv.put' | 'kv.update' | 'kv.delete' | 'session.open' | 'session.keepAlive' | 'session.close';

export class ClientService {
  constructor(
    private readonly replica: Replica,
    private readonly forwarder: Forwarder,
    private readonly requestTimeoutMs: number,
    /** The leader's wall clock stamps commands; request deadlines are on `monotonicMs`, as the loop sweeps them. */
    private readonly clock: Clock,
  ) {}

  /** The handler table, one per client method. */
  readonly handlers: Handlers = {
    'kv.get': (request, context) => this.get(request, context),
    'kv.put': (request, context) => this.write('kv.put', request, context, writeCommand(CommandKind.Put, request)),
    'kv.update': (request, context) => this.write('kv.update', request, context, writeCommand(CommandKind.Update, request)),
    'kv.delete': (request, context) =>
      this.write('kv.delete', request, context, { kind: CommandKind.Delete, key: request.key, session: request.session, ...conditions(request) }),
    'kv.scan': (request, context) => this.scan(request, context),
    'session.open': (request, context) =>
      this.write('session.open', request, context, { kind: CommandKind.OpenSession, ttlMs: clampTtl(request.ttlMs) }),
    'session.keepAlive': (request, context) =>
      this.write('session.keepAlive', request, context, { kind: CommandKind.KeepAlive, sessionId: request.sessionId }),
    'session.close': (request, context) =>
      this.write('session.close', request, context, { kind: CommandKind.CloseSession, sessionId: request.sessionId }),
    'cluster.status': async () => ({ header: this.header(), ...this.replica.status() }),
  };

  /** The handlers as the RPC server calls them, for requests from clients or (forwarded: true) from other members. */
  rpcHandlers(context: RequestContext): RpcHandlers<ClientMethods> {
    const out: Record<string, (request: never) => Promise<unknown>> = {};
    for (const [name, handler] of Object.entries(this.handlers)) {
      const call = handler as (request: never, context: RequestContext) => Promise<unknown>;
      out[name] = (request: never) => call(request, context);
    }
    return out as unknown as RpcHandlers<ClientMethods>;
  }

  header(): ResponseHeader {
    return {
      memberName: this.replica.name,
      leaderId: this.replica.leaderId(),
      leaderClientUrl: this.replica.leaderClientUrl(),
      revision: this.replica.revision(),
    };
  }

  private deadline(): number {
    return this.clock.monotonicMs() + this.requestTimeoutMs;
  }

  private async get(request: Request<'kv.get'>, context: RequestContext): Promise<Response<'kv.get'>> {
    this.replica.checkAccepting();
    const problem = keyProblem(request.key, this.replica.limits);
    if (problem) throw problem;
    if (request.consistency === 'linearizable') {
      if (!this.replica.isLeader()) {
        if (context.forwarded) throw notLeader(this.replica.name, this.replica.hint());
        return this.forwarder.forward('kv.get', request, this.deadline());
      }
      await this.replica.readBarrier(this.deadline());
    }
    const entry = this.replica.get(plainBytes(request.key));
    return { header: this.header(), kv: entry === null ? null : toKeyValue(entry) };
  }

  private async scan(request: Request<'kv.scan'>, context: RequestContext): Promise<Response<'kv.scan'>> {
    this.replica.checkAccepting();
    if (!Number.isSafeInteger(request.limit) || request.limit < 1 || request.limit > protocolLimits.scanLimitMax) {
      throw invalidRequest(`scan limit must be in [1, ${protocolLimits.scanLimitMax}]`, 'limit out of range');
    }
    if (request.consistency === 'linearizable') {
      if (!this.replica.isLeader()) {
        if (context.forwarded) throw notLeader(this.replica.name, this.replica.hint());
        return this.forwarder.forward('kv.scan', request, this.deadline());
      }
      await this.replica.readBarrier(this.deadline());
    }
    const page = this.replica.scan({
      limit: Math.min(request.limit, this.replica.limits.scanLimitMax),
      ...(request.prefix !== undefined ? { prefix: plainBytes(request.prefix) } : {}),
      ...(request.start !== undefined ? { start: plainBytes(request.start) } : {}),
      ...(request.end !== undefined ? { end: plainBytes(request.end) } : {}),
      ...(request.after !== undefined ? { after: plainBytes(request.after) } : {}),
    });
    return { header: this.header(), items: page.entries.map(toKeyValue), next: page.next };
  }

  /**
   * Validates, then proposes on the leader (and shapes the applied result
   * into the method's response) or forwards from a follower (and returns the
   * leader's response). Validation happens here, before proposing, so an
   * oversize or malformed request never reaches the log.
   */
  private async write<M extends WriteMethod>(method: M, request: Request<M>, context: RequestContext, command: Command): Promise<Response<M>> {
    this.replica.checkAcceptingWrites();
    const problem = commandProblem(command, this.replica.limits);
    if (problem) throw problem;
    if (!this.replica.isLeader()) {
      if (context.forwarded) throw notLeader(this.replica.name, this.replica.hint());
      return this.forwarder.forward(method, request, this.deadline());
    }
    const payload = encodeCommand(command, Math.floor(this.clock.nowMs()), proposalHeadroomBytes);
    const result = await this.replica.propose(payload, this.deadline());
    if (result.kind === ResultKind.Error) throw result.error;
    return this.response(method, result);
  }

  /** The applied result as the method's response (the header is this leader's: its revision includes the write). */
  private response<M extends WriteMethod>(method: M, result: ApplyResult): Response<M> {
    const header = this.header();
    switch (method) {
      case 'kv.put':
      case 'kv.update':
        if (result.kind !== ResultKind.Write) throw unexpected(result);
        return { header, revision: result.modRevision, version: result.version } as Response<M>;
      case 'kv.delete':
        if (result.kind !== ResultKind.Delete) throw unexpected(result);
        return { header, revision: result.revision, deleted: result.deleted } as Response<M>;
      case 'session.open':
        if (result.kind !== ResultKind.SessionOpened) throw unexpected(result);
        return { header, sessionId: result.sessionId, ttlMs: result.ttlMs } as Response<M>;
      default:
        return { header } as Response<M>;
    }
  }
}

function writeCommand(
  kind: typeof CommandKind.Put | typeof CommandKind.Update,
  request: Request<'kv.put'> | Request<'kv.update'>,
): Command {
  return { kind, key: request.key, value: request.value, session: request.session, ...conditions(request) };
}

function conditions(request: { expectedVersion?: number; expectedModRevision?: number }): {
  expectedVersion?: number;
  expectedModRevision?: number;
} {
  return {
    ...(request.expectedVersion !== undefined ? { expectedVersion: request.expectedVersion } : {}),
    ...(request.expectedModRevision !== undefined ? { expectedModRevision: request.expectedModRevision } : {}),
  };
}

function clampTtl(ttlMs: number): number {
  if (ttlMs === 0) return 0;
  return Math.min(Math.max(ttlMs, protocolLimits.sessionTtlMinMs), protocolLimits.sessionTtlMaxMs);
}

function toKeyValue(entry: KvEntry): KeyValue {
  return {
    key: entry.key,
    value: entry.value,
    version: entry.version,
    createRevision: entry.createRevision,
    modRevision: entry.modRevision,
  };
}

function unexpected(result: ApplyResult): Error {
  return internalError(`unexpected result kind ${result.kind}`);
}
