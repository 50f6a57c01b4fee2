/**
 * The auth-lag race (issue 12, the flaky client-auth test): a member judges
 * a login or a refusal on auth state that lags the leader's (user.add,
 * auth.enable or auth.disable committed and acknowledged, not applied here
 * yet). Deterministic: the member is a ClientService over a replica whose
 * state machine applies the "leader's log" only when `catchUp` is called.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PasswordHasher, buildUserCommand } from '../../src/auth/index.js';
import {
  AuthCommandKind,
  AuthenticationFailedError,

  KvStateMachine,
  PermissionAccess,
  PermissionDeniedError,
  encodeCommand,
  type ApplyResult,
  type AuthView,
  type Command,
} from '../../src/kv/index.js';
import type { Connection } from '../../src/net/index.js';
import type { Method, MethodTypes } from '../../src/protocol/index.js';
import { ClientService, FORWARDED_USER_FIELD, type Forwarder, type Replica } from '../../src/server/kv-service.js';
import { notLeader } from '../../src/server/errors.js';
import { ManualClock } from '../../src/testing/manual-clock.js';

const hasher = new PasswordHasher({ params: { N: 1024, r: 8, p: 1, keyBytes: 32 } });
const enc = (text: string): Uint8Array => new TextEncoder().encode(text);

/** A follower whose state machine is `applied` entries behind the leader's log until it catches up. */
class LaggingFollower implements Replica {
  readonly name = 'n2';
  readonly kv = new KvStateMachine();
  readonly limits = this.kv.options;
  /** The leader's log (committed and acknowledged to the writer). */
  readonly log: Uint8Array[] = [];
  catchUps = 0;
  /** When set, catching up fails with this error (no leader reachable). */
  catchUpError: Error | null = null;

  /** The leader's own state machine: entries are checked (and stamped) at its auth revision. */
  private readonly leader = new KvStateMachine();

  /** Commits `command` at the leader (as root, at the leader's auth revision); applied here only when `applyNow`. */
  commit(command: Command, applyNow = false): void {
    const data = encodeCommand(command, 1_000, 0, { user: 'root', authRevision: this.leader.auth.revision });
    this.leader.apply(this.leader.appliedIndex + 1, data);
    this.log.push(data);
    if (applyNow) this.applyAll();
  }

  applyAll(): void {
    while (this.kv.appliedIndex < this.log.length) this.kv.apply(this.kv.appliedIndex + 1, this.log[this.kv.appliedIndex]!);
  }

  get behind(): number {
    return this.log.length - this.kv.appliedIndex;
  }

  async catchUp(): Promise<void> {
    this.catchUps++;
    await Promise.resolve();
    if (this.catchUpError !== null) throw this.catchUpError;
    this.applyAll();
  }

  isLeader(): boolean {
    return false;
  }
  leaderId(): string | null {
    return 'n1';
  }
  leaderClientUrl(): string | null {
    return 'tcp://127.0.0.1:1';
  }
  hint() {
    return { leaderId: 'n1', leaderClientUrl: 'tcp://127.0.0.1:1' };
  }
  propose(): Promise<ApplyResult> {
    throw new Error('a follower does not propose');
  }
  readBarrier(): Promise<void> {
    throw new Error('a follower forwards linearizable reads');
  }
  checkAcceptingWrites(): void {}
  checkAccepting(): void {}
  status(): never {
    throw new Error('not used');
  }
  get(key: Uint8Array) {
    return this.kv.get(key);
  }
  scan(request: Parameters<KvStateMachine['scan']>[0]) {
    return this.kv.scan(request);
  }
  revision(): number {
    return this.kv.appliedIndex;
  }
  readTimeMs(): number {
    return 1_000;
  }
  lease(id: number, keys: boolean) {
    return this.kv.lease(id, keys);
  }
  leaseList() {
    return this.kv.leaseList();
  }
  sessionTable() {
    return { count: this.kv.sessionCount, bytes: this.kv.sessionBytes, infos: () => this.kv.sessionInfos() };
  }
  readTxn(body: Parameters<KvStateMachine['readTxn']>[0]) {
    return this.kv.readTxn(body);
  }
  get auth(): AuthView {
    return this.kv.auth;
  }
}

/** Records what the follower forwards and answers as the leader would (the test checks the leader's side elsewhere). */
class RecordingForwarder implements Forwarder {
  readonly forwarded: { method: Method; user: unknown }[] = [];
  async forward<M extends Method>(method: M, request: MethodTypes[M]['request']): Promise<MethodTypes[M]['response']> {
    this.forwarded.push({ method, user: (request as Record<string, unknown>)[FORWARDED_USER_FIELD] });
    const header = { memberName: 'n1', leaderId: 'n1', leaderClientUrl: null, revision: 1 };
    const answers: Partial<Record<Method, unknown>> = {
      'kv.put': { header, revision: 1, version: 1 },
      'session.open': { header, sessionId: 1, ttlMs: 10_000 },
      'kv.get': { header, kv: null },
    };
    return answers[method] as MethodTypes[M]['response'];
  }
}

function member(): { replica: LaggingFollower; forwarder: RecordingForwarder; service: ClientService } {
  const replica = new LaggingFollower();
  const forwarder = new RecordingForwarder();
  const service = new ClientService(replica, forwarder, 5_000, new ManualClock(), { hasher });
  return { replica, forwarder, service };
}

const connection = (): Connection<any> => ({ peerIdentity: null }) as unknown as Connection<any>;
const userAdd = async (name: string, password: string | null): Promise<Command> => buildUserCommand(hasher, AuthCommandKind.UserAdd, name, password);
const put = (key: string) => ({ key: enc(key), value: enc('v'), session: { sessionId: 1, seq: 1, ackedSeq: 0 } });

test('a login on a follower that has not applied the user.add yet catches up first and succeeds', async () => {
  const { replica, service } = member();
  replica.commit(await userAdd('root', 'rootpw'));
  replica.commit({ kind: AuthCommandKind.AuthEnable });
  assert.equal(replica.behind, 2, 'the follower has applied neither');
  const conn = connection();
  await service.handlers['auth.authenticate']({ user: 'root', password: 'rootpw' }, { forwarded: false, connection: conn });
  assert.equal(replica.catchUps, 1, 'the login waited for the leader commit index');
  assert.equal(replica.behind, 0);
  // The connection now acts as root (a local, stale read is allowed: root may read everything).
  const answer = await service.handlers['kv.get']({ key: enc('k'), consistency: 'stale' }, { forwarded: false, connection: conn });
  assert.equal(answer.kv, null);
  // A wrong password is still refused after catching up.
  await assert.rejects(
    service.handlers['auth.authenticate']({ user: 'root', password: 'wrong' }, { forwarded: false, connection: connection() }),
    AuthenticationFailedError,
  );
});

test('a refusal judged on a lagging follower is not final: auth disabled at the leader lets an anonymous write through', async () => {
  const { replica, forwarder, service } = member();
  replica.commit(await userAdd('root', 'rootpw'), true);
  replica.commit({ kind: AuthCommandKind.AuthEnable }, true);
  replica.commit({ kind: AuthCommandKind.AuthDisable }); // acknowledged by the leader, not applied here
  assert.equal(replica.auth.enabled, true, 'the follower still believes auth is on');
  const anonymous = { forwarded: false, connection: connection() } as const;
  await service.handlers['kv.put'](put('b/y'), anonymous);
  assert.equal(replica.catchUps, 1);
  assert.deepEqual(forwarder.forwarded, [{ method: 'kv.put', user: '' }], 'forwarded to the leader, which judges again');
  // Caught up: the next anonymous request needs no catch-up at all.
  await service.handlers['kv.get']({ key: enc('b/y'), consistency: 'stale' }, anonymous);
  assert.equal(replica.catchUps, 1, 'a check that passes does not catch up');
});

test('a real refusal stands after catching up, and nothing is forwarded', async () => {
  const { replica, forwarder, service } = member();
  replica.commit(await userAdd('root', 'rootpw'), true);
  replica.commit(await userAdd('alice', 'alicepw'), true);
  replica.commit({ kind: AuthCommandKind.RoleAdd, name: 'a-prefix' }, true);
  replica.commit({ kind: AuthCommandKind.RoleGrantPermission, name: 'a-prefix', permission: { access: PermissionAccess.ReadWrite, key: enc('a/'), rangeEnd: enc('a0') } }, true);
  replica.commit({ kind: AuthCommandKind.UserGrantRole, name: 'alice', role: 'a-prefix' }, true);
  replica.commit({ kind: AuthCommandKind.AuthEnable }, true);
  await assert.rejects(service.handlers['kv.put'](put('a/1'), { forwarded: false, connection: connection() }), AuthenticationFailedError);
  const alice = connection();
  await service.handlers['auth.authenticate']({ user: 'alice', password: 'alicepw' }, { forwarded: false, connection: alice });
  await assert.rejects(
    service.handlers['kv.get']({ key: enc('b/x'), consistency: 'stale' }, { forwarded: false, connection: alice }),
    (error: unknown) => error instanceof PermissionDeniedError && /alice/.test(error.message) && /b\/x/.test(error.message),
  );
  await assert.rejects(service.handlers['kv.put'](put('b/x'), { forwarded: false, connection: alice }), PermissionDeniedError);
  assert.deepEqual(forwarder.forwarded, [], 'no refused request reached the leader');
  // A forwarded request the leader refuses is judged on the leader's own state, after its own catch-up.
  await assert.rejects(
    service.handlers['kv.put']({ ...put('b/x'), [FORWARDED_USER_FIELD]: 'alice' } as never, { forwarded: true, forwardedUser: 'alice' }),
    PermissionDeniedError,
  );
});

test('a principal logged in before auth was enabled keeps its user after, also when the role arrives late', async () => {
  const { replica, forwarder, service } = member();
  replica.commit(await userAdd('root', 'rootpw'), true);
  replica.commit(await userAdd('alice', 'alicepw'), true);
  const alice = connection();
  await service.handlers['auth.authenticate']({ user: 'alice', password: 'alicepw' }, { forwarded: false, connection: alice });
  replica.commit({ kind: AuthCommandKind.RoleAdd, name: 'a-prefix' }, true);
  replica.commit({ kind: AuthCommandKind.AuthEnable }, true);
  // The grant is acknowledged at the leader but not applied here yet.
  replica.commit({ kind: AuthCommandKind.RoleGrantPermission, name: 'a-prefix', permission: { access: PermissionAccess.ReadWrite, key: enc('a/'), rangeEnd: enc('a0') } });
  replica.commit({ kind: AuthCommandKind.UserGrantRole, name: 'alice', role: 'a-prefix' });
  await service.handlers['kv.put'](put('a/1'), { forwarded: false, connection: alice });
  assert.deepEqual(forwarder.forwarded, [{ method: 'kv.put', user: 'alice' }], 'alice, not "no user"');
  await service.handlers['session.open']({ ttlMs: 10_000 }, { forwarded: false, connection: alice });
  assert.deepEqual(forwarder.forwarded.at(-1), { method: 'session.open', user: 'alice' });
});

test('a refusal that cannot be confirmed (no leader to catch up with) fails with the retryable error, not the refusal', async () => {
  const { replica, service } = member();
  replica.commit(await userAdd('root', 'rootpw'), true);
  replica.commit({ kind: AuthCommandKind.AuthEnable }, true);
  replica.commit({ kind: AuthCommandKind.AuthDisable });
  replica.catchUpError = notLeader('n2', { leaderId: null, leaderClientUrl: null });
  await assert.rejects(
    service.handlers['kv.put']({ key: enc('k'), value: enc('v'), session: { sessionId: 1, seq: 1, ackedSeq: 0 } }, { forwarded: false, connection: connection() }),
    (error: unknown) => !(error instanceof AuthenticationFailedError) && /leader/i.test((error as Error).message),
  );
});

test('a transaction and a lease grant refused on a lagging follower catch up first: the late grant lets them through, a real refusal stands', async () => {
  const { replica, forwarder, service } = member();
  replica.commit(await userAdd('root', 'rootpw'), true);
  replica.commit(await userAdd('alice', 'alicepw'), true);
  replica.commit({ kind: AuthCommandKind.RoleAdd, name: 'a-prefix' }, true);
  replica.commit({ kind: AuthCommandKind.UserGrantRole, name: 'alice', role: 'a-prefix' }, true);
  replica.commit({ kind: AuthCommandKind.AuthEnable }, true);
  const alice = connection();
  await service.handlers['auth.authenticate']({ user: 'alice', password: 'alicepw' }, { forwarded: false, connection: alice });
  const txn = (key: string) => ({
    compare: [{ key: enc(key), target: 'version' as const, op: '=' as const, version: 0 }],
    success: [{ type: 'put' as const, key: enc(key), value: enc('v') }],
    failure: [{ type: 'get' as const, key: enc(key) }],
    session: { sessionId: 1, seq: 1, ackedSeq: 0 },
  });
  // Refused now, and still after catching up: nothing reaches the leader.
  const before = replica.catchUps;
  await assert.rejects(service.handlers['kv.txn'](txn('a/1'), { forwarded: false, connection: alice }), PermissionDeniedError);
  assert.equal(replica.catchUps, before + 1, 'the refusal was confirmed after catching up');
  assert.deepEqual(forwarder.forwarded, []);
  // The grant is acknowledged at the leader but not applied here yet: the transaction goes through after the catch-up.
  replica.commit({ kind: AuthCommandKind.RoleGrantPermission, name: 'a-prefix', permission: { access: PermissionAccess.ReadWrite, key: enc('a/'), rangeEnd: enc('a0') } });
  await service.handlers['kv.txn'](txn('a/1'), { forwarded: false, connection: alice });
  assert.deepEqual(forwarder.forwarded, [{ method: 'kv.txn', user: 'alice' }]);
  // A key outside the grant in the same transaction is refused, after catching up too.
  const mixed = { ...txn('a/2'), failure: [{ type: 'put' as const, key: enc('b/1'), value: enc('v') }] };
  const caught = replica.catchUps;
  await assert.rejects(service.handlers['kv.txn'](mixed, { forwarded: false, connection: alice }), PermissionDeniedError);
  assert.equal(replica.catchUps, caught + 1);
  // Lease methods: anonymous is refused once auth is on (after a catch-up); alice may grant.
  await assert.rejects(
    service.handlers['lease.grant']({ ttlMs: 10_000, session: { sessionId: 1, seq: 2, ackedSeq: 1 } }, { forwarded: false, connection: connection() }),
    AuthenticationFailedError,
  );
  await service.handlers['lease.grant']({ ttlMs: 10_000, session: { sessionId: 1, seq: 2, ackedSeq: 1 } }, { forwarded: false, connection: alice });
  assert.deepEqual(forwarder.forwarded.at(-1), { method: 'lease.grant', user: 'alice' });
});
