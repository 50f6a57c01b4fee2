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
import { Operation, PasswordHasher, buildUserCommand, checkAuthQuery, checkCommand, checkGet, checkScan, checkTxn, type AuthQuery } from '../auth/index.js';
import {
  AuthenticationFailedError,
  PermissionDeniedError,
  AuthCommandKind,
  KvErrorCode,
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
  type EntryPrincipal,
  type KvEntry,
  type KvOptions,
  type LeaseInfo,
  LeaseNotFoundError,
  type ScanPage,
  type ScanRequest,
} from '../kv/index.js';
import type { CallContext, Connection, Handlers as RpcHandlers } from '../net/index.js';
import { protocolLimits, writeConditions, type ClientMethods, type Method, type MethodTypes, type KeyValue, type ResponseHeader, type StatusResponse } from '../protocol/index.js';
import { internalError, invalidRequest, notLeader, type LeaderHint } from './errors.js';
import { plainBytes } from './bytes.js';
import { proposalHeadroomBytes } from './proposal-tracker.js';
import type { MembershipService } from './member-changes.js';
import type { SnapshotStreams } from './snapshot-streams.js';
import { toKeyValue, txnFromWire, txnResponse } from './txn-request.js';
import { forwardedUserOf, RequestAuth, type RequestContext } from './request-auth.js';
import { clampTtl, unexpected, writeCommand, writeResponse, type WriteMethod } from './write-requests.js';
import type { WatchService } from './watch-service.js';
import { sessionListAnswer, type SessionTableView } from './session-status.js';

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
  /**
   * Resolves once this member has applied at least the leader's commit index
   * as of the call (a follower asks the leader by ReadIndex; the leader
   * confirms its own): every change acknowledged before the call is applied here.
   */
  catchUp(deadlineMs: number): Promise<void>;
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
  /** The replicated session table, read-only (session.list). */
  sessionTable(): SessionTableView;
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

export { FORWARDED_USER_FIELD, type RequestContext } from './request-auth.js';

export interface ClientServiceOptions {
  /** --client-cert-auth: a verified client certificate's CN logs the connection in as that user. */
  readonly clientCertAuth?: boolean;
  readonly hasher?: PasswordHasher;
  /** The membership methods on the leader (absent: they answer Internal; tests of the key-value side only). */
  readonly membership?: MembershipService;
  /** Serves `snapshot.save` (backups); without it the method is refused. */
  readonly snapshots?: SnapshotStreams;
  /** Serves `watch.*` (watch-service.ts); without it they are refused. */
  readonly watches?: WatchService;
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
type MemberMethod = 'member.list' | 'member.add' | 'member.promote' | 'member.remove' | 'leader.transfer';
type QueryMethod = 'user.get' | 'user.list' | 'role.get' | 'role.list' | 'auth.status';
/** Most leases one `lease.list` answers. */
export const LEASE_LIST_MAX = 10_000;

/**
 * How often the leader checks and proposes one request again after the state
 * machine refused it with AuthOldRevisionError (an auth change committed
 * between the check and the apply: auth-revision.ts). Each round is one
 * commit; the client sees the error only if auth changes that often.
 */
export const AUTH_REVISION_ATTEMPTS_MAX = 3;

export class ClientService {
  private readonly hasher: PasswordHasher;
  /** Who each request acts as, and the auth checks with their catch-up rule. */
  private readonly access: RequestAuth;

  constructor(
    private readonly replica: Replica,
    private readonly forwarder: Forwarder,
    private readonly requestTimeoutMs: number,
    /** The leader's wall clock stamps commands; request deadlines are on `monotonicMs`, as the loop sweeps them. */
    private readonly clock: Clock,
    private readonly options: ClientServiceOptions = {},
  ) {
    this.hasher = options.hasher ?? new PasswordHasher();
    this.access = new RequestAuth(replica, this.hasher, options.clientCertAuth === true, () => this.deadline());
  }

  /** The handler table, one per client method. */
  readonly handlers: Handlers = {
    'kv.get': (request, context) => this.get(request, context),
    'kv.put': (request, context) => this.write('kv.put', request, context, writeCommand(CommandKind.Put, request)),
    'kv.update': (request, context) => this.write('kv.update', request, context, writeCommand(CommandKind.Update, request)),
    'kv.delete': (request, context) =>
      this.write('kv.delete', request, context, { kind: CommandKind.Delete, key: request.key, session: request.session, ...writeConditions(request) }),
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
    'lease.revoke': (request, context) =>
      this.write('lease.revoke', request, context, { kind: CommandKind.LeaseRevoke, id: request.id, session: request.session }, [request.id]),
    'lease.keepAlive': (request, context) =>
      this.write('lease.keepAlive', request, context, { kind: CommandKind.LeaseKeepAlive, ids: request.ids, session: request.session }, request.ids),
    'lease.timeToLive': (request, context) =>
      this.leaseRead('lease.timeToLive', request, context, [request.id], () => {
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
      this.leaseRead('lease.list', request, context, [], () => {
        const limit = Math.min(request.limit === undefined || request.limit === 0 ? LEASE_LIST_MAX : request.limit, LEASE_LIST_MAX);
        const all = this.replica.leaseList();
        const now = this.replica.readTimeMs();
        const leases = all.slice(0, limit).map((l) => ({ id: l.id, ttlMs: Math.max(0, l.expiresAtMs - now), grantedTtlMs: l.grantedTtlMs, keyCount: l.keyCount }));
        return { header: this.header(), leases, more: all.length > limit };
      }),
    'session.list': (request, context) => this.sessionList(request, context),
    'cluster.status': async (_request, context) => {
      await this.access.allowed(context, (user) => this.access.authorizer.checkAuthenticated(user));
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
    'member.list': (request, context) => this.member('member.list', request, context, async (m) => m.list(() => this.header())),
    'member.add': (request, context) => this.member('member.add', request, context, (m, deadline) => m.add(request, deadline, () => this.header())),
    'member.promote': (request, context) => this.member('member.promote', request, context, (m, deadline) => m.promote(request, deadline, () => this.header())),
    // A leader removing itself hands over and sends the request on: with the user it acts as, checked again there.
    'member.remove': (request, context) =>
      this.member('member.remove', request, context, (m, deadline) => m.remove(this.access.carry(request, context), deadline, () => this.header())),
    'leader.transfer': (request, context) => this.member('leader.transfer', request, context, (m, deadline) => m.transfer(request, deadline, () => this.header())),
    'snapshot.save': (request, context) => this.snapshotSave(request, context),
    'kv.compact': (request, context) => this.write('kv.compact', request, context, { kind: CommandKind.Compact, revision: request.revision }),
    'watch.create': (request, context) =>
      this.watches().create(request, context, (range) => this.access.allowed(context, (user) => checkScan(this.access.authorizer, user, range))),
    'watch.cancel': (request, context) => this.watches().cancel(request, context),
    'watch.poll': (request, context) => this.watches().poll(request, context, context.signal ?? new AbortController().signal),
  };

  private watches(): WatchService {
    if (this.options.watches === undefined) throw invalidRequest(`member ${this.replica.name} serves no watches`, 'watch not served');
    return this.options.watches;
  }

  /**
   * Membership methods: admin only once auth is enabled (listing needs a
   * login), forwarded from a follower, served by the leader (member-changes.ts).
   */
  private async member<M extends MemberMethod>(
    method: M,
    request: Request<M>,
    context: RequestContext,
    run: (membership: MembershipService, deadlineMs: number) => Promise<Response<M>>,
  ): Promise<Response<M>> {
    if (method === 'member.list') {
      this.replica.checkAccepting();
      this.access.authorizer.checkAuthenticated(this.access.userOf(context));
    } else {
      this.replica.checkAcceptingWrites();
      this.access.authorizer.check(this.access.userOf(context), Operation.Admin, null);
    }
    if (!this.replica.isLeader()) return this.toLeader(method, request, context);
    const membership = this.options.membership;
    if (membership === undefined) throw internalError('this member serves no membership methods');
    return run(membership, this.deadline());
  }

  /** The session table at a glance: admin once auth is enabled (it names users), answered by the leader after a ReadIndex. */
  private async sessionList(request: Request<'session.list'>, context: RequestContext): Promise<Response<'session.list'>> {
    this.replica.checkAccepting();
    this.access.authorizer.check(this.access.userOf(context), Operation.Admin, null);
    if (!this.replica.isLeader()) return this.toLeader('session.list', request, context);
    await this.replica.readBarrier(this.deadline());
    return { header: this.header(), ...sessionListAnswer(this.replica.sessionTable(), this.replica.readTimeMs(), request.limit) };
  }

  /** Sends a request on to the leader as it is (a leader that handed leadership away before removing itself). */
  /**
   * A follower's answer to a request only the leader serves: forwarded to it,
   * carrying who asked. A request that was itself forwarded here answers
   * NotLeader instead (leadership moved on; the client follows the hint).
   */
  private toLeader<M extends Method>(method: M, request: Request<M>, context: RequestContext): Promise<Response<M>> {
    if (context.forwarded) throw notLeader(this.replica.name, this.replica.hint());
    return this.forwarder.forward(method, this.access.carry(request, context), this.deadline());
  }

  forwardToLeader<M extends MemberMethod>(method: M, request: Request<M>, deadlineMs: number): Promise<Response<M>> {
    return this.forwarder.forward(method, request, deadlineMs);
  }

  /** The handlers as the RPC server calls them, for requests from clients or (forwarded: true) from other members. */
  rpcHandlers(context: RequestContext): RpcHandlers<ClientMethods> {
    const out: Record<string, (request: never, call: CallContext) => Promise<unknown>> = {};
    for (const [name, handler] of Object.entries(this.handlers)) {
      const invoke = handler as (request: never, context: RequestContext) => Promise<unknown>;
      // A client request carries its connection (whose principal it acts as); a forwarded one was checked by the follower.
      out[name] = context.forwarded
        ? (request: never) => invoke(request, { forwarded: true, forwardedUser: forwardedUserOf(request) })
        : (request: never, call: CallContext) => invoke(request, clientContext(call));
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
    const key = plainBytes(request.key);
    try {
      checkGet(this.access.authorizer, this.access.userOf(context), key);
    } catch (error) {
      await this.access.confirmRefusal(error, context, (user) => checkGet(this.access.authorizer, user, key));
    }
    if (request.consistency === 'linearizable') {
      if (!this.replica.isLeader()) return this.toLeader('kv.get', request, context);
      await this.replica.readBarrier(this.deadline());
    }
    const entry = this.replica.get(key);
    return { header: this.header(), kv: entry === null ? null : toKeyValue(entry) };
  }

  private async scan(request: Request<'kv.scan'>, context: RequestContext): Promise<Response<'kv.scan'>> {
    this.replica.checkAccepting();
    if (!Number.isSafeInteger(request.limit) || request.limit < 1 || request.limit > protocolLimits.scanLimitMax) {
      throw invalidRequest(`scan limit must be in [1, ${protocolLimits.scanLimitMax}]`, 'limit out of range');
    }
    const range = {
      ...(request.prefix !== undefined ? { prefix: plainBytes(request.prefix) } : {}),
      ...(request.start !== undefined ? { start: plainBytes(request.start) } : {}),
      ...(request.end !== undefined ? { end: plainBytes(request.end) } : {}),
    };
    try {
      checkScan(this.access.authorizer, this.access.userOf(context), range);
    } catch (error) {
      await this.access.confirmRefusal(error, context, (user) => checkScan(this.access.authorizer, user, range));
    }
    if (request.consistency === 'linearizable') {
      if (!this.replica.isLeader()) return this.toLeader('kv.scan', request, context);
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
    const check = (user: string | null): void => checkTxn(this.access.authorizer, user, body);
    if (isReadOnlyTxn(body)) {
      await this.access.allowed(context, check);
      if (request.consistency !== 'stale') {
        if (!this.replica.isLeader()) return this.toLeader('kv.txn', request, context);
        await this.replica.readBarrier(this.deadline());
      }
      return txnResponse(this.header(), this.replica.readTxn(body));
    }
    this.replica.checkAcceptingWrites();
    if (request.session === undefined) throw invalidRequest('txn: a transaction that writes needs a session (exactly-once)', 'missing session');
    for (let attempt = 1; ; attempt++) {
      // Every key the transaction may touch, checked as for a write (a refusal confirmed after catching up).
      // The check that passes (the common case) stays synchronous: no promise and no await per request.
      const principal = this.access.checkedNow(context, command, check) ?? (await this.access.checkedAfterCatchUp(context, command, check));
      if (!this.replica.isLeader()) return this.toLeader('kv.txn', request, context);
      const payload = encodeCommand(command, Math.floor(this.clock.nowMs()), proposalHeadroomBytes, principal);
      const tooLarge = txnBytesProblem(payload.length - proposalHeadroomBytes, this.replica.limits);
      if (tooLarge) throw tooLarge;
      const result = refusedUnlessStale(await this.replica.propose(payload, this.deadline()));
      if (result.kind === ResultKind.Txn) return txnResponse(this.header(), result);
      if (result.kind !== ResultKind.Error) throw unexpected(result);
      if (attempt >= AUTH_REVISION_ATTEMPTS_MAX) throw result.error;
    }
  }

  /**
   * Validates, then proposes on the leader (and shapes the applied result
   * into the method's response) or forwards from a follower (and returns the
   * leader's response). Validation happens here, before proposing, so an
   * oversize or malformed request never reaches the log.
   */
  private async write<M extends WriteMethod>(
    method: M,
    request: Request<M>,
    context: RequestContext,
    command: Command,
    /** Leases whose keys the user must be able to write (revoke, keep-alive: etcd's rule). */
    leaseIds?: readonly number[],
  ): Promise<Response<M>> {
    this.replica.checkAcceptingWrites();
    const problem = commandProblem(command, this.replica.limits);
    if (problem) throw problem;
    const check =
      leaseIds === undefined
        ? undefined
        : (user: string | null): void => {
            checkCommand(this.access.authorizer, user, command);
            this.checkLeaseKeys(user, leaseIds);
          };
    for (let attempt = 1; ; attempt++) {
      // As in txn(): a check that passes costs no await.
      const principal = this.access.checkedNow(context, command, check) ?? (await this.access.checkedAfterCatchUp(context, command, check));
      if (!this.replica.isLeader()) return this.toLeader(method, request, context);
      const result = refusedUnlessStale(await this.replica.propose(encodeCommand(command, Math.floor(this.clock.nowMs()), proposalHeadroomBytes, principal), this.deadline()));
      if (result.kind !== ResultKind.Error) return writeResponse(method, result, this.header());
      if (attempt >= AUTH_REVISION_ATTEMPTS_MAX) throw result.error;
    }
  }

  private async authenticate(request: Request<'auth.authenticate'>, context: RequestContext): Promise<Response<'auth.authenticate'>> {
    this.replica.checkAccepting();
    // Judged on auth state at least as new as the leader's now: a user added (or a password
    // changed) and acknowledged just before must count here too, even on a lagging follower.
    await this.replica.catchUp(this.deadline());
    const principal = await this.access.authenticator.authenticatePassword(request.user, request.password);
    if (context.connection !== undefined) this.access.login(context.connection, principal);
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
    const adminCheck: Command = { kind: AuthCommandKind.AuthDisable };
    // The revision is taken with the check, before the (slow) password hash: a revoke meanwhile is caught on apply.
    let principal = await this.access.checked(context, adminCheck);
    if (!this.replica.isLeader()) return this.toLeader(method, request, context);
    const command = await build();
    const problem = commandProblem(command, this.replica.limits);
    if (problem) throw problem;
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1) {
        principal = await this.access.checked(context, adminCheck);
        if (!this.replica.isLeader()) throw notLeader(this.replica.name, this.replica.hint());
      }
      const result = refusedUnlessStale(await this.replica.propose(encodeCommand(command, Math.floor(this.clock.nowMs()), proposalHeadroomBytes, principal), this.deadline()));
      if (result.kind !== ResultKind.Error) return { header: this.header() } as Response<M>;
      if (attempt >= AUTH_REVISION_ATTEMPTS_MAX) throw result.error;
    }
  }

  /**
   * Revoking, renewing or inspecting a lease needs write access to every key attached to it (etcd's rule),
   * checked against this member's state (the leader checks again when the request is forwarded).
   */
  private checkLeaseKeys(user: string | null, ids: readonly number[]): void {
    if (!this.replica.auth.enabled) return;
    this.access.authorizer.checkAuthenticated(user);
    for (const id of ids) {
      for (const key of this.replica.lease(id, true)?.keys ?? []) this.access.authorizer.check(user, Operation.Write, { key });
    }
  }

  /** Lease reads: answered by the leader after a ReadIndex (a follower forwards them); `ids`: the leases whose keys are checked. */
  private async leaseRead<M extends 'lease.timeToLive' | 'lease.list'>(
    method: M,
    request: Request<M>,
    context: RequestContext,
    ids: readonly number[],
    answer: () => Response<M>,
  ): Promise<Response<M>> {
    this.replica.checkAccepting();
    await this.access.allowed(context, (user) => this.access.authorizer.checkAuthenticated(user));
    if (!this.replica.isLeader()) return this.toLeader(method, request, context);
    await this.replica.readBarrier(this.deadline());
    // The keys as of the read index: judged on the leader's newest state, no catch-up needed.
    this.checkLeaseKeys(this.access.userOf(context), ids);
    return answer();
  }

  /** User/role queries and auth status: checked here, answered by the leader after a ReadIndex. */
  private async query<M extends QueryMethod>(method: M, request: Request<M>, context: RequestContext, query: AuthQuery, answer: () => Response<M>): Promise<Response<M>> {
    this.replica.checkAccepting();
    try {
      checkAuthQuery(this.access.authorizer, this.access.userOf(context), query, (name) => this.replica.auth.user(name)?.roles ?? []);
    } catch (error) {
      await this.access.confirmRefusal(error, context, (user) => checkAuthQuery(this.access.authorizer, user, query, (name) => this.replica.auth.user(name)?.roles ?? []));
    }
    if (!this.replica.isLeader()) return this.toLeader(method, request, context);
    await this.replica.readBarrier(this.deadline());
    return answer();
  }

  /**
   * One page of a backup stream. Never forwarded (the stream lives on the
   * member that opened it): a follower answers NotLeader, and the client goes
   * to the leader, which opens the stream after a ReadIndex (so the snapshot
   * holds every write acknowledged before the call). Admin only once auth is on.
   */
  private async snapshotSave(request: Request<'snapshot.save'>, context: RequestContext): Promise<Response<'snapshot.save'>> {
    this.replica.checkAccepting();
    checkCommand(this.access.authorizer, this.access.userOf(context), { kind: AuthCommandKind.AuthDisable });
    const streams = this.options.snapshots;
    if (streams === undefined) throw invalidRequest(`member ${this.replica.name} does not serve snapshot streams`, 'snapshot.save not served');
    if (request.streamId !== 0) return { header: this.header(), ...streams.next(request) };
    if (!this.replica.isLeader()) throw notLeader(this.replica.name, this.replica.hint());
    await this.replica.readBarrier(this.deadline());
    const page = await streams.open(request.chunkBytesMax);
    return { header: this.header(), ...page };
  }
}

/**
 * The applied result of a proposal (a command encoded with its principal;
 * leader only): an error result is thrown, except the refusal because an
 * auth change committed first (AuthOldRevision), returned: check it again.
 * (A plain function after the await, not an async wrapper: one promise less per write.)
 */
function refusedUnlessStale(result: ApplyResult): ApplyResult {
  if (result.kind === ResultKind.Error && result.error.code !== KvErrorCode.AuthOldRevision) throw result.error;
  return result;
}

/** A client request's context; its signal is made only if a handler asks (an AbortController per request was 3% of a leader's CPU). */
function clientContext(call: CallContext): RequestContext {
  return {
    forwarded: false,
    connection: call.connection,
    get signal() {
      return call.signal;
    },
  };
}
