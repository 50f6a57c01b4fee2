/**
 * The handlers of the client methods. Every member serves every method:
 * - stale reads and status are answered locally;
 * - on the leader, writes are proposed through Raft and answered when
 *   applied, linearizable reads wait for a (batched) read index;
 * - on a follower, writes and linearizable reads are forwarded to the
 *   leader's peer URL unchanged, and the leader's answer is returned (its
 *   header names the leader, so the client can go direct next time).
 * A request that was itself forwarded is never forwarded again (no loops):
 * if this member is no longer the leader it answers NotLeader with a hint.
 */
import { commandProblem, keyProblem, KvError, CommandKind, ResultKind, type ApplyResult, type Command, type KvEntry, type KvStateMachine } from '../kv/index.js';
import {
  ErrorCode,
  protocolLimits,
  type Method,
  type MethodTypes,
  type KeyValue,
  type ResponseHeader,
  type StatusResponse,
} from '../protocol/index.js';
import type { Clock } from '../common/clock.js';
import { ServerError } from './errors.js';
import { plainBytes } from './bytes.js';

/** What the client handlers need from the member's replication machinery (implemented by RaftHost). */
export interface Replica {
  readonly name: string;
  readonly kv: KvStateMachine;
  isLeader(): boolean;
  leaderId(): string | null;
  leaderClientUrl(): string | null;
  /** Proposes a command (leader only) and resolves with its result once applied here. */
  propose(command: Command, deadlineMs: number): Promise<ApplyResult>;
  /** Resolves once a linearizable read may be served from the local state (leader only, ReadIndex). */
  readBarrier(deadlineMs: number): Promise<void>;
  /** Throws (StorageFailed, ShuttingDown) when this member must not take new writes. */
  checkAcceptingWrites(): void;
  /** Throws ShuttingDown once the member stopped accepting requests. */
  checkAccepting(): void;
  status(): Omit<StatusResponse, 'header'>;
}

/** Sends a request to the current leader's peer URL and returns its answer. */
export interface Forwarder {
  forward<M extends Method>(method: M, request: MethodTypes[M]['request'], deadlineMs: number): Promise<MethodTypes[M]['response']>;
}

export interface RequestContext {
  /** True when another member forwarded this request (do not forward again). */
  readonly forwarded: boolean;
}

type Handlers = { [M in Method]: (request: MethodTypes[M]['request'], context: RequestContext) => Promise<MethodTypes[M]['response']> };

export class ClientService {
  constructor(
    private readonly replica: Replica,
    private readonly forwarder: Forwarder,
    private readonly requestTimeoutMs: number,
    /** Request deadlines are on `monotonicMs`, as the host's queues sweep them. */
    private readonly clock: Clock,
  ) {}

  /** The handler table, one per client method. */
  readonly handlers: Handlers = {
    'kv.get': (request, context) => this.get(request, context),
    'kv.put': (request, context) =>
      this.write('kv.put', request, context, {
        kind: CommandKind.Put,
        key: request.key,
        value: request.value,
        session: request.session,
        ...conditions(request),
      }).then((result) => this.writeResponse(result)),
    'kv.update': (request, context) =>
      this.write('kv.update', request, context, {
        kind: CommandKind.Update,
        key: request.key,
        value: request.value,
        session: request.session,
        ...conditions(request),
      }).then((result) => this.writeResponse(result)),
    'kv.delete': (request, context) =>
      this.write('kv.delete', request, context, {
        kind: CommandKind.Delete,
        key: request.key,
        session: request.session,
        ...conditions(request),
      }).then((result) => {
        if (result.kind !== ResultKind.Delete) throw unexpected(result);
        return { header: this.header(), revision: result.revision, deleted: result.deleted };
      }),
    'kv.scan': (request, context) => this.scan(request, context),
    'session.open': (request, context) =>
      this.write('session.open', request, context, { kind: CommandKind.OpenSession, ttlMs: clampTtl(request.ttlMs) }).then((result) => {
        if (result.kind !== ResultKind.SessionOpened) throw unexpected(result);
        return { header: this.header(), sessionId: result.sessionId, ttlMs: result.ttlMs };
      }),
    'session.keepAlive': (request, context) =>
      this.write('session.keepAlive', request, context, { kind: CommandKind.KeepAlive, sessionId: request.sessionId }).then(() => ({
        header: this.header(),
      })),
    'session.close': (request, context) =>
      this.write('session.close', request, context, { kind: CommandKind.CloseSession, sessionId: request.sessionId }).then(() => ({
        header: this.header(),
      })),
    'cluster.status': async () => {
      return { header: this.header(), ...this.replica.status() };
    },
  };

  header(): ResponseHeader {
    return {
      memberName: this.replica.name,
      leaderId: this.replica.leaderId(),
      leaderClientUrl: this.replica.leaderClientUrl(),
      revision: this.replica.kv.appliedIndex,
    };
  }

  private deadline(): number {
    return this.clock.monotonicMs() + this.requestTimeoutMs;
  }

  private notLeader(): ServerError {
    return new ServerError(ErrorCode.NotLeader, `member ${this.replica.name} is not the leader`, {
      leaderId: this.replica.leaderId(),
      leaderClientUrl: this.replica.leaderClientUrl(),
    });
  }

  private async get(request: MethodTypes['kv.get']['request'], context: RequestContext): Promise<MethodTypes['kv.get']['response']> {
    this.replica.checkAccepting();
    const problem = keyProblem(request.key, this.replica.kv.options);
    if (problem) throw problem;
    if (request.consistency === 'linearizable') {
      if (!this.replica.isLeader()) {
        if (context.forwarded) throw this.notLeader();
        return this.forwarder.forward('kv.get', request, this.deadline());
      }
      await this.replica.readBarrier(this.deadline());
    }
    const entry = this.replica.kv.get(plainBytes(request.key));
    return { header: this.header(), kv: entry === null ? null : toKeyValue(entry) };
  }

  private async scan(request: MethodTypes['kv.scan']['request'], context: RequestContext): Promise<MethodTypes['kv.scan']['response']> {
    this.replica.checkAccepting();
    if (!Number.isSafeInteger(request.limit) || request.limit < 1 || request.limit > protocolLimits.scanLimitMax) {
      throw new ServerError(ErrorCode.InvalidRequest, `scan limit must be in [1, ${protocolLimits.scanLimitMax}]`, {
        reason: 'limit out of range',
      });
    }
    if (request.consistency === 'linearizable') {
      if (!this.replica.isLeader()) {
        if (context.forwarded) throw this.notLeader();
        return this.forwarder.forward('kv.scan', request, this.deadline());
      }
      await this.replica.readBarrier(this.deadline());
    }
    const page = this.replica.kv.scan({
      limit: Math.min(request.limit, this.replica.kv.options.scanLimitMax),
      ...(request.prefix !== undefined ? { prefix: plainBytes(request.prefix) } : {}),
      ...(request.start !== undefined ? { start: plainBytes(request.start) } : {}),
      ...(request.end !== undefined ? { end: plainBytes(request.end) } : {}),
      ...(request.after !== undefined ? { after: plainBytes(request.after) } : {}),
    });
    return { header: this.header(), items: page.entries.map(toKeyValue), next: page.next };
  }

  /**
   * Validates, then proposes on the leader or forwards from a follower.
   * Validation happens here, before proposing, so an oversize or malformed
   * request never reaches the log.
   */
  private async write<M extends Method>(
    method: M,
    request: MethodTypes[M]['request'],
    context: RequestContext,
    command: Command,
  ): Promise<ApplyResult> {
    this.replica.checkAcceptingWrites();
    const problem = commandProblem(command, this.replica.kv.options);
    if (problem) throw problem;
    if (!this.replica.isLeader()) {
      if (context.forwarded) throw this.notLeader();
      const response = await this.forwarder.forward(method, request, this.deadline());
      return resultFromForwarded(method, response);
    }
    const result = await this.replica.propose(command, this.deadline());
    if (result.kind === ResultKind.Error) throw result.error;
    return result;
  }

  private writeResponse(result: ApplyResult): MethodTypes['kv.put']['response'] {
    if (result.kind !== ResultKind.Write) throw unexpected(result);
    return { header: this.header(), revision: result.modRevision, version: result.version };
  }
}

/**
 * The leader's answer to a forwarded write, turned back into an ApplyResult
 * so that the same response builders serve both paths. (The header of the
 * answer is rebuilt by this member; it names the leader as leader.)
 */
function resultFromForwarded(method: Method, response: unknown): ApplyResult {
  const r = response as Record<string, unknown>;
  switch (method) {
    case 'kv.put':
    case 'kv.update':
      return { kind: ResultKind.Write, version: r['version'] as number, createRevision: 0, modRevision: r['revision'] as number };
    case 'kv.delete':
      return { kind: ResultKind.Delete, deleted: r['deleted'] as boolean, revision: r['revision'] as number };
    case 'session.open':
      return { kind: ResultKind.SessionOpened, sessionId: r['sessionId'] as number, ttlMs: r['ttlMs'] as number };
    case 'session.close':
      return { kind: ResultKind.SessionClosed, closed: true };
    default:
      return { kind: ResultKind.Ok };
  }
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

function unexpected(result: ApplyResult): ServerError {
  return new ServerError(ErrorCode.Internal, `unexpected result kind ${result.kind}`);
}

/** True for errors whose code and details may go to the client as they are. */
export function isClientFacing(error: unknown): error is KvError | ServerError {
  return error instanceof KvError || error instanceof ServerError;
}
