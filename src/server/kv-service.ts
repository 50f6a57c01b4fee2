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
  Authenticator,
  Authorizer,
  PasswordHasher,
  buildUserCommand,
  checkAuthQuery,
  checkCommand,
  checkGet,
  checkScan,
  Operation,
  checkTxn,
  type AuthQuery,
  type Principal,
} from '../auth/index.js';
import {
  AuthCommandKind,
  type AuthView,
  commandProblem,
  encodeCommand,
  isReadOnlyTxn,
  keyProblem,
  txnBytesProblem,
  txnProblem,
  type TxnBody,
  type TxnCommand,
  type TxnResult,
  CommandKind,
  ResultKind,
  type ApplyResult,
  type Command,
  type KvEntry,
  type KvOptions,
  type LeaseInfo,
  LeaseNotFoundError,
  type ScanPage,
  type ScanRequest,
} from '../kv/index.js';
import type { CallContext, Connection, Handlers as RpcHandlers } from '../net/index.js';
import { protocolLimits, type ClientMethods, type Method, type MethodTypes, type KeyValue, type ResponseHeader, type StatusResponse } from '../protocol/index.js';
import { internalError, invalidRequest, notLeader, type LeaderHint } from './errors.js';
import { plainBytes } from './bytes.js';
import { proposalHeadroomBytes } from './proposal-tracker.js';
import { toKeyValue, txnFromWire, txnResponse } from './txn-request.js';

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
  /** Reads hide keys whose lease or TTL has expired by `readTimeMs()` (before the expiry entry deletes them). */
  get(key: Uint8Array): KvEntry | null;
  scan(request: ScanRequest): ScanPage;
  /** This member's view of the entry clock (docs/client.md, "Leases"). */
  readTimeMs(): number;
  lease(id: number, keys: boolean): (LeaseInfo & { keys?: Uint8Array[] }) | null;
  leaseList(): LeaseInfo[];
  /** A read-only transaction on the local state (throws its problem). */
  readTxn(body: TxnBody): TxnResult;
  /** The local state's store revision. */
  revision(): number;
  /** The replicated users, roles and auth switch (live). */
  readonly auth: AuthView;
}

/** Sends a request to the current leader's peer URL and returns its answer. */
export interface Forwarder {
  forward<M extends Method>(method: M, request: MethodTypes[M]['request'], deadlineMs: number): Promise<MethodTypes[M]['response']>;
}

export interface RequestContext {
  /** True when another member forwarded this request (do not forward again). */
  readonly forwarded: boolean;
  /** The client connection the request came on (absent: a forwarded request, or a test). */
  readonly connection?: Connection<any>;
  /** A forwarded request: the user the forwarding member authenticated (null: none). */
  readonly forwardedUser?: string | null;
}

/**
 * The field a follower adds to a request it forwards: the user it acts as.
 * The leader checks the request again, against its own (newest) auth state,
 * as that user; a follower whose auth state lags cannot let through what the
 * leader would refuse. Only members send it: trust in it is trust in the peer
 * port (mutual TLS between members, docs/security.md).
 */
export const FORWARDED_USER_FIELD = 'forwardedUser';

function forwardedUserOf(request: unknown): string | null {
  const value = (request as Record<string, unknown>)[FORWARDED_USER_FIELD];
  return typeof value === 'string' && value.length > 0 ? value : null;
}

export interface ClientServiceOptions {
  /** --client-cert-auth: a verified client certificate's CN logs the connection in as that user. */
  readonly clientCertAuth?: boolean;
  readonly hasher?: PasswordHasher;
}

type Request<M extends Method> = MethodTypes[M]['request'];
type Response<M extends Method> = MethodTypes[M]['response'];
type Handlers = { [M in Method]: (request: Request<M>, context: RequestContext) => Promise<Response<M>> };
type AdminMethod =
  | 'user.add'
  | 'user.delete'
  | 'user.passwd'
  | 'user.grantRole'
  | 'user.revokeRole'
  | 'role.add'
  | 'role.delete'
  | 'role.grantPermission'
  | 'role.revokePermission'
  | 'auth.enable'
  | 'auth.disable';
type QueryMethod = 'user.get' | 'user.list' | 'role.get' | 'role.list' | 'auth.status';
type WriteMethod = 'kv.put' | 'kv.update' | 'kv.delete' | 'session.open' | 'session.keepAlive' | 'session.close' | 'lease.grant' | 'lease.revoke' | 'lease.keepAlive';
/** Most leases one `lease.list` answers. */
export const LEASE_LIST_MAX = 10_000;

export class ClientService {
  private readonly authorizer: Authorizer;
  private readonly authenticator: Authenticator;
  private readonly hasher: PasswordHasher;
  /** One principal per client connection (auth.authenticate, or the client certificate). */
  private readonly principals = new WeakMap<Connection<any>, Principal>();

  constructor(
    private readonly replica: Replica,
    private readonly forwarder: Forwarder,
    private readonly requestTimeoutMs: number,
    /** The leader's wall clock stamps commands; request deadlines are on `monotonicMs`, as the loop sweeps them. */
    private readonly clock: Clock,
    private readonly options: ClientServiceOptions = {},
  ) {
    this.hasher = options.hasher ?? new PasswordHasher();
    this.authorizer = new Authorizer(replica.auth);
    this.authenticator = new Authenticator(replica.auth, this.hasher);
  }

  /** The handler table, one per client method. */
  readonly handlers: Handlers = {
    'kv.get': (request, context) => this.get(request, context),
    'kv.put': (request, context) => this.write('kv.put', request, context, writeCommand(CommandKind.Put, request)),
    'kv.update': (request, context) => this.write('kv.update', request, context, writeCommand(CommandKind.Update, request)),
    'kv.delete': (request, context) =>
      this.write('kv.delete', request, context, { kind: CommandKind.Delete, key: request.key, session: request.session, ...conditions(request) }),
    'kv.scan': (request, context) => this.scan(request, context),
    'kv.txn': (request, context) => this.txn(request, context),
    'session.open': (request, context) =>
      this.write('session.open', request, context, { kind: CommandKind.OpenSession, ttlMs: clampTtl(request.ttlMs) }),
    'session.keepAlive': (request, context) =>
      this.write('session.keepAlive', request, context, { kind: CommandKind.KeepAlive, sessionId: request.sessionId }),
    'session.close': (request, context) =>
      this.write('session.close', request, context, { kind: CommandKind.CloseSession, sessionId: request.sessionId }),
    'lease.grant': (request, context) =>
      this.write('lease.grant', request, context, { kind: CommandKind.LeaseGrant, id: request.id ?? 0, ttlMs: request.ttlMs, session: request.session }),
    'lease.revoke': (request, context) => {
      this.checkLeaseKeys(context, [request.id]);
      return this.write('lease.revoke', request, context, { kind: CommandKind.LeaseRevoke, id: request.id, session: request.session });
    },
    'lease.keepAlive': (request, context) => {
      this.checkLeaseKeys(context, request.ids);
      return this.write('lease.keepAlive', request, context, { kind: CommandKind.LeaseKeepAlive, ids: request.ids, session: request.session });
    },
    'lease.timeToLive': (request, context) =>
      this.leaseRead('lease.timeToLive', request, context, () => {
        this.checkLeaseKeys(context, [request.id]);
        const lease = this.replica.lease(request.id, request.keys === true);
        if (lease === null) throw new LeaseNotFoundError({ leaseId: request.id });
        return {
          header: this.header(),
          id: lease.id,
          ttlMs: Math.max(0, lease.expiresAtMs - this.replica.readTimeMs()),
          grantedTtlMs: lease.grantedTtlMs,
          keys: lease.keys ?? [],
        };
      }),
    'lease.list': (request, context) =>
      this.leaseRead('lease.list', request, context, () => {
        const limit = Math.min(request.limit === undefined || request.limit === 0 ? LEASE_LIST_MAX : request.limit, LEASE_LIST_MAX);
        const all = this.replica.leaseList();
        const now = this.replica.readTimeMs();
        const leases = all.slice(0, limit).map((l) => ({ id: l.id, ttlMs: Math.max(0, l.expiresAtMs - now), grantedTtlMs: l.grantedTtlMs, keyCount: l.keyCount }));
        return { header: this.header(), leases, more: all.length > limit };
      }),
    'cluster.status': async (_request, context) => {
      this.authorizer.checkAuthenticated(this.userOf(context));
      return { header: this.header(), ...this.replica.status() };
    },
    'auth.authenticate': (request, context) => this.authenticate(request, context),
    'user.add': (request, context) => this.admin('user.add', request, context, () => this.userCommand(AuthCommandKind.UserAdd, request)),
    'user.delete': (request, context) => this.admin('user.delete', request, context, () => ({ kind: AuthCommandKind.UserDelete, name: request.name })),
    'user.passwd': (request, context) =>
      this.admin('user.passwd', request, context, () => this.userCommand(AuthCommandKind.UserChangePassword, request)),
    'user.grantRole': (request, context) =>
      this.admin('user.grantRole', request, context, () => ({ kind: AuthCommandKind.UserGrantRole, name: request.name, role: request.role })),
    'user.revokeRole': (request, context) =>
      this.admin('user.revokeRole', request, context, () => ({ kind: AuthCommandKind.UserRevokeRole, name: request.name, role: request.role })),
    'role.add': (request, context) => this.admin('role.add', request, context, () => ({ kind: AuthCommandKind.RoleAdd, name: request.name })),
    'role.delete': (request, context) => this.admin('role.delete', request, context, () => ({ kind: AuthCommandKind.RoleDelete, name: request.name })),
    'role.grantPermission': (request, context) =>
      this.admin('role.grantPermission', request, context, () => ({
        kind: AuthCommandKind.RoleGrantPermission,
        name: request.name,
        permission: {
          access: request.permission.access,
          key: plainBytes(request.permission.key),
          ...(request.permission.rangeEnd !== undefined ? { rangeEnd: plainBytes(request.permission.rangeEnd) } : {}),
        },
      })),
    'role.revokePermission': (request, context) =>
      this.admin('role.revokePermission', request, context, () => ({
        kind: AuthCommandKind.RoleRevokePermission,
        name: request.name,
        range: { key: plainBytes(request.key), ...(request.rangeEnd !== undefined ? { rangeEnd: plainBytes(request.rangeEnd) } : {}) },
      })),
    'auth.enable': (request, context) => this.admin('auth.enable', request, context, () => ({ kind: AuthCommandKind.AuthEnable })),
    'auth.disable': (request, context) => this.admin('auth.disable', request, context, () => ({ kind: AuthCommandKind.AuthDisable })),
    'user.get': (request, context) =>
      this.query('user.get', request, context, { kind: 'userGet', name: request.name }, () => {
        const user = this.replica.auth.getUser(request.name);
        return { header: this.header(), name: user.name, roles: [...user.roles], hasPassword: user.hasPassword };
      }),
    'user.list': (request, context) =>
      this.query('user.list', request, context, { kind: 'userList' }, () => ({ header: this.header(), users: this.replica.auth.listUsers() })),
    'role.get': (request, context) =>
      this.query('role.get', request, context, { kind: 'roleGet', name: request.name }, () => {
        const role = this.replica.auth.getRole(request.name);
        return {
          header: this.header(),
          name: role.name,
          permissions: role.permissions.map((p) => ({ access: p.access, key: p.key, ...(p.rangeEnd !== undefined ? { rangeEnd: p.rangeEnd } : {}) })),
        };
      }),
    'role.list': (request, context) =>
      this.query('role.list', request, context, { kind: 'roleList' }, () => ({ header: this.header(), roles: this.replica.auth.listRoles() })),
    'auth.status': (request, context) =>
      this.query('auth.status', request, context, { kind: 'authStatus' }, () => ({ header: this.header(), ...this.replica.auth.status() })),
  };

  /** The handlers as the RPC server calls them, for requests from clients or (forwarded: true) from other members. */
  rpcHandlers(context: RequestContext): RpcHandlers<ClientMethods> {
    const out: Record<string, (request: never, call: CallContext) => Promise<unknown>> = {};
    for (const [name, handler] of Object.entries(this.handlers)) {
      const invoke = handler as (request: never, context: RequestContext) => Promise<unknown>;
      // A client request carries its connection (whose principal it acts as); a forwarded one was checked by the follower.
      out[name] = context.forwarded
        ? (request: never) => invoke(request, { forwarded: true, forwardedUser: forwardedUserOf(request) })
        : (request: never, call: CallContext) => invoke(request, { forwarded: false, connection: call.connection });
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
    checkGet(this.authorizer, this.userOf(context), plainBytes(request.key));
    if (request.consistency === 'linearizable') {
      if (!this.replica.isLeader()) {
        if (context.forwarded) throw notLeader(this.replica.name, this.replica.hint());
        return this.forwarder.forward('kv.get', this.carry(request, context), this.deadline());
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
    checkScan(this.authorizer, this.userOf(context), {
      ...(request.prefix !== undefined ? { prefix: plainBytes(request.prefix) } : {}),
      ...(request.start !== undefined ? { start: plainBytes(request.start) } : {}),
      ...(request.end !== undefined ? { end: plainBytes(request.end) } : {}),
    });
    if (request.consistency === 'linearizable') {
      if (!this.replica.isLeader()) {
        if (context.forwarded) throw notLeader(this.replica.name, this.replica.hint());
        return this.forwarder.forward('kv.scan', this.carry(request, context), this.deadline());
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
   * A transaction: validated and authorized here (every key it may touch);
   * a read-only one is served like a read (after a ReadIndex on the leader,
   * or locally when stale), one that writes is proposed as one entry,
   * exactly-once through its session.
   */
  private async txn(request: Request<'kv.txn'>, context: RequestContext): Promise<Response<'kv.txn'>> {
    this.replica.checkAccepting();
    const body = txnFromWire(request);
    const command: TxnCommand =
      request.session === undefined
        ? { kind: CommandKind.Txn, compare: body.compare, success: body.success, failure: body.failure }
        : { kind: CommandKind.Txn, compare: body.compare, success: body.success, failure: body.failure, session: request.session };
    const problem = txnProblem(command, this.replica.limits);
    if (problem) throw problem;
    checkTxn(this.authorizer, this.userOf(context), body);
    if (isReadOnlyTxn(body)) {
      if (request.consistency !== 'stale') {
        if (!this.replica.isLeader()) {
          if (context.forwarded) throw notLeader(this.replica.name, this.replica.hint());
          return this.forwarder.forward('kv.txn', this.carry(request, context), this.deadline());
        }
        await this.replica.readBarrier(this.deadline());
      }
      return txnResponse(this.header(), this.replica.readTxn(body));
    }
    this.replica.checkAcceptingWrites();
    if (request.session === undefined) throw invalidRequest('txn: a transaction that writes needs a session (exactly-once)', 'missing session');
    if (!this.replica.isLeader()) {
      if (context.forwarded) throw notLeader(this.replica.name, this.replica.hint());
      return this.forwarder.forward('kv.txn', this.carry(request, context), this.deadline());
    }
    const payload = encodeCommand(command, Math.floor(this.clock.nowMs()), proposalHeadroomBytes);
    const tooLarge = txnBytesProblem(payload.length - proposalHeadroomBytes, this.replica.limits);
    if (tooLarge) throw tooLarge;
    const result = await this.replica.propose(payload, this.deadline());
    if (result.kind === ResultKind.Error) throw result.error;
    if (result.kind !== ResultKind.Txn) throw unexpected(result);
    return txnResponse(this.header(), result);
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
    checkCommand(this.authorizer, this.userOf(context), command);
    if (!this.replica.isLeader()) {
      if (context.forwarded) throw notLeader(this.replica.name, this.replica.hint());
      return this.forwarder.forward(method, this.carry(request, context), this.deadline());
    }
    const payload = encodeCommand(command, Math.floor(this.clock.nowMs()), proposalHeadroomBytes);
    const result = await this.replica.propose(payload, this.deadline());
    if (result.kind === ResultKind.Error) throw result.error;
    return this.response(method, result);
  }

  /**
   * The user a client connection acts as, or null. A password login that a
   * later change made stale (user deleted, password changed) is dropped here;
   * with --client-cert-auth a connection without a login acts as its
   * certificate's CN.
   */
  private userOf(context: RequestContext): string | null {
    if (context.forwarded) return context.forwardedUser ?? null;
    const connection = context.connection;
    if (connection === undefined) return null;
    let principal = this.principals.get(connection);
    if (principal !== undefined && !this.authenticator.isCurrent(principal)) {
      this.principals.delete(connection);
      principal = undefined;
    }
    if (principal === undefined && this.options.clientCertAuth === true) {
      const identity = connection.peerIdentity;
      if (identity !== null) {
        try {
          principal = this.authenticator.authenticateCertificate({ subject: identity.commonName === null ? null : { CN: identity.commonName } });
          this.principals.set(connection, principal);
        } catch {
          principal = undefined;
        }
      }
    }
    return principal?.user ?? null;
  }

  /** The request as forwarded to the leader: with the user it acts as (see FORWARDED_USER_FIELD). */
  private carry<R>(request: R, context: RequestContext): R {
    return { ...request, [FORWARDED_USER_FIELD]: this.userOf(context) ?? '' };
  }

  private async authenticate(request: Request<'auth.authenticate'>, context: RequestContext): Promise<Response<'auth.authenticate'>> {
    this.replica.checkAccepting();
    const principal = await this.authenticator.authenticatePassword(request.user, request.password);
    if (context.connection !== undefined) this.principals.set(context.connection, principal);
    return { header: this.header() };
  }

  private async userCommand(
    kind: typeof AuthCommandKind.UserAdd | typeof AuthCommandKind.UserChangePassword,
    request: { readonly name: string; readonly password: string | null },
  ): Promise<Command> {
    return buildUserCommand(this.hasher, kind, request.name, request.password);
  }

  /**
   * User, role and auth-switch changes: checked here (admin), forwarded from
   * a follower, and built on the leader only (a password is hashed once, by
   * the leader, right before proposing).
   */
  private async admin<M extends AdminMethod>(method: M, request: Request<M>, context: RequestContext, build: () => Command | Promise<Command>): Promise<Response<M>> {
    this.replica.checkAcceptingWrites();
    checkCommand(this.authorizer, this.userOf(context), { kind: AuthCommandKind.AuthDisable });
    if (!this.replica.isLeader()) {
      if (context.forwarded) throw notLeader(this.replica.name, this.replica.hint());
      return this.forwarder.forward(method, this.carry(request, context), this.deadline());
    }
    const command = await build();
    const problem = commandProblem(command, this.replica.limits);
    if (problem) throw problem;
    const payload = encodeCommand(command, Math.floor(this.clock.nowMs()), proposalHeadroomBytes);
    const result = await this.replica.propose(payload, this.deadline());
    if (result.kind === ResultKind.Error) throw result.error;
    return { header: this.header() } as Response<M>;
  }

  /**
   * Revoking, renewing or inspecting a lease needs write access to every key attached to it (etcd's rule),
   * checked against this member's state (the leader checks again when the request is forwarded).
   */
  private checkLeaseKeys(context: RequestContext, ids: readonly number[]): void {
    if (!this.replica.auth.enabled) return;
    const user = this.userOf(context);
    this.authorizer.checkAuthenticated(user);
    for (const id of ids) {
      for (const key of this.replica.lease(id, true)?.keys ?? []) this.authorizer.check(user, Operation.Write, { key });
    }
  }

  /** Lease reads: answered by the leader after a ReadIndex (a follower forwards them). */
  private async leaseRead<M extends 'lease.timeToLive' | 'lease.list'>(method: M, request: Request<M>, context: RequestContext, answer: () => Response<M>): Promise<Response<M>> {
    this.replica.checkAccepting();
    this.authorizer.checkAuthenticated(this.userOf(context));
    if (!this.replica.isLeader()) {
      if (context.forwarded) throw notLeader(this.replica.name, this.replica.hint());
      return this.forwarder.forward(method, this.carry(request, context), this.deadline());
    }
    await this.replica.readBarrier(this.deadline());
    return answer();
  }

  /** User/role queries and auth status: checked here, answered by the leader after a ReadIndex. */
  private async query<M extends QueryMethod>(method: M, request: Request<M>, context: RequestContext, query: AuthQuery, answer: () => Response<M>): Promise<Response<M>> {
    this.replica.checkAccepting();
    checkAuthQuery(this.authorizer, this.userOf(context), query, (user) => this.replica.auth.user(user)?.roles ?? []);
    if (!this.replica.isLeader()) {
      if (context.forwarded) throw notLeader(this.replica.name, this.replica.hint());
      return this.forwarder.forward(method, this.carry(request, context), this.deadline());
    }
    await this.replica.readBarrier(this.deadline());
    return answer();
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
      case 'lease.grant':
        if (result.kind !== ResultKind.LeaseGranted) throw unexpected(result);
        return { header, id: result.id, ttlMs: result.ttlMs } as Response<M>;
      case 'lease.revoke':
        if (result.kind !== ResultKind.LeaseDeleted) throw unexpected(result);
        return { header, revision: result.revision, deletedKeys: result.keys } as Response<M>;
      case 'lease.keepAlive':
        if (result.kind !== ResultKind.LeaseKeptAlive) throw unexpected(result);
        return { header, ttls: result.ttls } as Response<M>;
      default:
        return { header } as Response<M>;
    }
  }
}

function writeCommand(
  kind: typeof CommandKind.Put | typeof CommandKind.Update,
  request: Request<'kv.put'> | Request<'kv.update'>,
): Command {
  const command = { kind, key: request.key, value: request.value, session: request.session, ...conditions(request) };
  if ((request.lease ?? 0) === 0 && (request.ttlMs ?? 0) === 0) return command;
  return {
    ...command,
    ...(request.lease !== undefined && request.lease !== 0 ? { lease: request.lease } : {}),
    ...(request.ttlMs !== undefined && request.ttlMs !== 0 ? { ttlMs: request.ttlMs } : {}),
  };
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


function unexpected(result: ApplyResult): Error {
  return internalError(`unexpected result kind ${result.kind}`);
}
