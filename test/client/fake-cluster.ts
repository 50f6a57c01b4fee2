/**
 * An in-process stand-in for a Concord cluster, speaking the real client
 * protocol (src/protocol) over the net layer's mem:// transport. One shared
 * store plays the replicated state machine, with exactly-once sessions; each
 * member answers as the leader or redirects like a follower that cannot
 * forward. Hooks let a test drop answers, lose connections, stall calls or
 * fail them, and every request is recorded so tests can check what the client
 * actually sent (e.g. the same seq on a retry).
 */
import { ConcordError, type ConcordErrorCode } from '../../src/common/errors.js';
import { listen, RpcServer, type CallContext, type Connection, type Listener } from '../../src/net/index.js';
import { ErrorCode, Method, type KeyValue, type MemberStatus, type SessionRef } from '../../src/protocol/index.js';
import { clientMethods } from '../../src/protocol/schemas.js';

let clusterCounter = 0;

/** A remote error the way a member sends it: code, message and details. */
export function remoteError(code: string, message: string, details: Record<string, unknown> = {}): ConcordError {
  return Object.assign(new ConcordError(code as ConcordErrorCode, message), { details });
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

interface StoredKey {
  value: Uint8Array;
  version: number;
  createRevision: number;
  modRevision: number;
}

type Outcome = { ok: unknown } | { error: ConcordError };

interface FakeSession {
  readonly id: number;
  ackedSeq: number;
  readonly results: Map<number, Outcome>;
}

/** The replicated state machine, simplified: one copy shared by all fake members. */
export class FakeStore {
  readonly keys = new Map<string, { key: Uint8Array } & StoredKey>();
  readonly sessions = new Map<number, FakeSession>();
  revision = 0;
  /** Writes actually applied (a deduplicated retry does not count). */
  applied = 0;
  private nextSessionId = 1;

  openSession(): number {
    const id = this.nextSessionId++;
    this.revision++;
    this.sessions.set(id, { id, ackedSeq: 0, results: new Map() });
    return id;
  }

  /** Applies a write once per (session, seq); a retry gets the saved outcome (Raft thesis §6.3). */
  applyWrite(ref: SessionRef, apply: () => unknown): unknown {
    const session = this.sessions.get(ref.sessionId);
    if (session === undefined) throw remoteError(ErrorCode.SessionExpired, `session ${ref.sessionId} expired`, { sessionId: ref.sessionId });
    if (ref.seq <= session.ackedSeq) {
      throw remoteError(ErrorCode.StaleSequence, 'stale', { sessionId: ref.sessionId, seq: ref.seq, ackedSeq: session.ackedSeq });
    }
    for (const seq of session.results.keys()) if (seq <= ref.ackedSeq) session.results.delete(seq);
    session.ackedSeq = Math.max(session.ackedSeq, ref.ackedSeq);
    let outcome = session.results.get(ref.seq);
    if (outcome === undefined) {
      this.applied++;
      this.revision++;
      try {
        outcome = { ok: apply() };
      } catch (error) {
        outcome = { error: error as ConcordError };
      }
      session.results.set(ref.seq, outcome);
    }
    if ('error' in outcome) throw outcome.error;
    return outcome.ok;
  }

  get(key: Uint8Array): KeyValue | null {
    const stored = this.keys.get(hex(key));
    return stored === undefined ? null : { ...stored };
  }

  checkConditions(key: Uint8Array, conditions: { expectedVersion?: number; expectedModRevision?: number }): void {
    const stored = this.keys.get(hex(key));
    const actualVersion = stored?.version ?? 0;
    const actualModRevision = stored?.modRevision ?? 0;
    if (
      (conditions.expectedVersion !== undefined && conditions.expectedVersion !== actualVersion) ||
      (conditions.expectedModRevision !== undefined && conditions.expectedModRevision !== actualModRevision)
    ) {
      throw remoteError(ErrorCode.VersionMismatch, 'version mismatch', {
        key,
        expectedVersion: conditions.expectedVersion ?? null,
        expectedModRevision: conditions.expectedModRevision ?? null,
        actualVersion,
        actualModRevision,
      });
    }
  }

  write(key: Uint8Array, value: Uint8Array): { revision: number; version: number } {
    const id = hex(key);
    const stored = this.keys.get(id);
    const next = {
      key,
      value,
      version: (stored?.version ?? 0) + 1,
      createRevision: stored?.createRevision ?? this.revision,
      modRevision: this.revision,
    };
    this.keys.set(id, next);
    return { revision: this.revision, version: next.version };
  }

  sortedKeys(): ({ key: Uint8Array } & StoredKey)[] {
    return [...this.keys.values()].sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
  }
}

export interface ReceivedRequest {
  readonly member: string;
  readonly method: string;
  readonly request: any;
}

/**
 * Runs before a member handles a request. It may throw (the client gets that
 * error), wait, or return 'drop' to lose the connection without answering
 * ('drop-after' does the same after the request took effect), or
 * `{ failAfter: error }` to answer with that error after the request took
 * effect (as a member whose forwarding link broke after sending, or whose
 * proposal was cut off by its shutdown, answers LeaderChanged).
 */
export type HookAction = void | 'drop' | 'drop-after' | { readonly failAfter: ConcordError };
export type RequestHook = (member: FakeMember, method: string, request: any, context: CallContext) => HookAction | Promise<HookAction>;

export class FakeMember {
  listener: Listener<any> | null = null;
  readonly connections = new Set<Connection<any>>();
  connectionsAccepted = 0;

  constructor(
    readonly cluster: FakeCluster,
    readonly name: string,
    readonly url: string,
  ) {}

  get isLeader(): boolean {
    return this.cluster.leaderName === this.name;
  }

  /** Closes every open client connection at once (as a crash would). */
  dropConnections(): void {
    for (const c of this.connections) c.destroy();
  }

  status(): MemberStatus {
    const leader = this.cluster.leader;
    return {
      name: this.name,
      clientUrl: this.url,
      peerUrl: `${this.url}-peer`,
      role: this.isLeader ? 'leader' : 'follower',
      term: 3,
      commitIndex: this.cluster.store.revision,
      appliedIndex: this.cluster.store.revision,
      snapshotIndex: 0,
      firstLogIndex: 1,
      lastLogIndex: this.cluster.store.revision,
      leaderId: leader?.name ?? null,
      leaderClientUrl: leader?.url ?? null,
      storageFailed: false,
      version: 'fake',
    };
  }
}

export class FakeCluster {
  readonly store = new FakeStore();
  readonly members: FakeMember[] = [];
  readonly received: ReceivedRequest[] = [];
  leaderName: string | null;
  /** Where followers say the leader is (default: the leader's real URL). */
  leaderHintOverride: string | null | undefined = undefined;
  hook: RequestHook | null = null;
  /** Session TTL the fake grants. */
  sessionTtlMs = 60_000;

  private constructor(names: readonly string[]) {
    const id = ++clusterCounter;
    for (const name of names) this.members.push(new FakeMember(this, name, `mem://client-test-${process.pid}-${id}-${name}`));
    this.leaderName = names[0] ?? null;
  }

  static async start(names: readonly string[] = ['n1', 'n2', 'n3']): Promise<FakeCluster> {
    const cluster = new FakeCluster(names);
    for (const member of cluster.members) await cluster.listen(member);
    return cluster;
  }

  get leader(): FakeMember | null {
    return this.members.find((m) => m.name === this.leaderName) ?? null;
  }

  member(name: string): FakeMember {
    const member = this.members.find((m) => m.name === name);
    if (member === undefined) throw new Error(`no member ${name}`);
    return member;
  }

  get urls(): string[] {
    return this.members.map((m) => m.url);
  }

  requests(method: string): ReceivedRequest[] {
    return this.received.filter((r) => r.method === method);
  }

  /** Stops a member listening and drops its connections (it is "down"). */
  async stopMember(name: string): Promise<void> {
    const member = this.member(name);
    member.dropConnections();
    await member.listener?.close();
    member.listener = null;
  }

  async startMember(name: string): Promise<void> {
    await this.listen(this.member(name));
  }

  async close(): Promise<void> {
    for (const member of this.members) {
      member.dropConnections();
      await member.listener?.close();
      member.listener = null;
    }
  }

  private header(member: FakeMember) {
    const leader = this.leader;
    return { memberName: member.name, leaderId: leader?.name ?? null, leaderClientUrl: leader?.url ?? null, revision: this.store.revision };
  }

  private notLeader(member: FakeMember): ConcordError {
    const leader = this.leader;
    const hint = this.leaderHintOverride !== undefined ? this.leaderHintOverride : (leader?.url ?? null);
    return remoteError(ErrorCode.NotLeader, `${member.name} is not the leader`, { leaderId: leader?.name ?? null, leaderClientUrl: hint });
  }

  private async listen(member: FakeMember): Promise<void> {
    // Writes and linearizable reads need the leader; stale reads and status any member.
    const wrap =
      <Req, Res>(method: string, handle: (request: Req) => Res, leaderOnly: boolean | ((request: Req) => boolean)) =>
      async (request: Req, context: CallContext): Promise<Res> => {
        this.received.push({ member: member.name, method, request });
        const action = this.hook ? await this.hook(member, method, request, context) : undefined;
        if (action === 'drop') {
          context.connection.destroy();
          throw remoteError(ErrorCode.Internal, 'dropped');
        }
        const needsLeader = typeof leaderOnly === 'function' ? leaderOnly(request) : leaderOnly;
        if (needsLeader && !member.isLeader) throw this.notLeader(member);
        let response: Res;
        try {
          response = handle(request);
        } catch (error) {
          // The state machine's answer (e.g. VersionMismatch) is saved like a success: failAfter hides it the same way.
          if (typeof action === 'object') throw action.failAfter;
          throw error;
        }
        if (action === 'drop-after') {
          context.connection.destroy();
          throw remoteError(ErrorCode.Internal, 'dropped after applying');
        }
        if (typeof action === 'object') throw action.failAfter;
        return response;
      };
    const store = this.store;
    // The fake serves the key-value methods only (the auth methods are tested against real members).
    const rpc = new RpcServer(clientMethods, <any>{
      'kv.get': wrap(
        Method.Get,
        (request: any) => ({ header: this.header(member), kv: store.get(request.key) }),
        (request: any) => request.consistency !== 'stale',
      ),
      'kv.put': wrap(
        Method.Put,
        (request: any) => {
          const result = store.applyWrite(request.session, () => {
            store.checkConditions(request.key, request);
            return store.write(request.key, request.value);
          }) as { revision: number; version: number };
          return { header: this.header(member), ...result };
        },
        true,
      ),
      'kv.update': wrap(
        Method.Update,
        (request: any) => {
          const result = store.applyWrite(request.session, () => {
            if (store.get(request.key) === null) throw remoteError(ErrorCode.KeyNotFound, 'key not found', { key: request.key });
            store.checkConditions(request.key, request);
            return store.write(request.key, request.value);
          }) as { revision: number; version: number };
          return { header: this.header(member), ...result };
        },
        true,
      ),
      'kv.delete': wrap(
        Method.Delete,
        (request: any) => {
          const result = store.applyWrite(request.session, () => {
            store.checkConditions(request.key, request);
            const deleted = store.keys.delete(hex(request.key));
            return { revision: store.revision, deleted };
          }) as { revision: number; deleted: boolean };
          return { header: this.header(member), ...result };
        },
        true,
      ),
      'kv.scan': wrap(
        Method.Scan,
        (request: any) => {
          const inRange = (key: Uint8Array): boolean => {
            const k = Buffer.from(key);
            if (request.prefix !== undefined && !k.subarray(0, request.prefix.length).equals(Buffer.from(request.prefix))) return false;
            if (request.start !== undefined && Buffer.compare(k, Buffer.from(request.start)) < 0) return false;
            if (request.end !== undefined && Buffer.compare(k, Buffer.from(request.end)) >= 0) return false;
            if (request.after !== undefined && Buffer.compare(k, Buffer.from(request.after)) <= 0) return false;
            return true;
          };
          const matching = store.sortedKeys().filter((kv) => inRange(kv.key));
          const items = matching.slice(0, request.limit).map(({ key, value, version, createRevision, modRevision }) => ({
            key,
            value,
            version,
            createRevision,
            modRevision,
          }));
          const next = matching.length > request.limit ? items[items.length - 1]!.key : null;
          return { header: this.header(member), items, next };
        },
        (request: any) => request.consistency !== 'stale',
      ),
      'session.open': wrap(
        Method.OpenSession,
        (): any => ({ header: this.header(member), sessionId: store.openSession(), ttlMs: this.sessionTtlMs }),
        true,
      ),
      'session.keepAlive': wrap(
        Method.KeepAlive,
        (request: any) => {
          if (!store.sessions.has(request.sessionId)) {
            throw remoteError(ErrorCode.SessionExpired, 'expired', { sessionId: request.sessionId });
          }
          return { header: this.header(member) };
        },
        true,
      ),
      'session.close': wrap(
        Method.CloseSession,
        (request: any) => {
          store.sessions.delete(request.sessionId);
          return { header: this.header(member) };
        },
        true,
      ),
      'cluster.status': wrap(
        Method.Status,
        (): any => ({
          header: this.header(member),
          member: member.status(),
          members: this.members.map((m) => ({ name: m.name, peerUrl: `${m.url}-peer`, clientUrl: m.url, voter: true })),
        }),
        false,
      ),
    });
    member.listener = await listen(member.url, {
      onConnection: (connection) => {
        member.connections.add(connection);
        member.connectionsAccepted++;
        connection.onClose(() => member.connections.delete(connection));
        rpc.serve(connection);
      },
    });
  }
}
