/**
 * The simulated network at the production code's two seams, over one
 * SimNetwork (network.ts: delay, loss, duplication, reordering, symmetric
 * and one-way partitions, slow senders):
 *
 * - between members, the host's PeerDirectory: each Raft message is
 *   delivered to the addressee's `RaftHost.receive` (message level, as the
 *   core tolerates: lost, duplicated, reordered);
 * - a follower's ClientService forwarding a write or a linearizable read to
 *   the leader (the Forwarder seam), answered by the leader's ClientService
 *   with `forwarded: true`. Failures map to what PeerNetwork.forward answers
 *   (src/server/peer-network.ts): the leader's own error as it is, Timeout at
 *   the deadline, NotLeader when nothing was sent (no leader known, the link
 *   is cut), LeaderChanged (outcome unknown) when the link failed after the
 *   request went out;
 * - client to member, the client's RpcChannel (one "connection" per channel):
 *   a call travels to the member's ClientService and its answer (or error, as
 *   the RemoteError the net layer's RPC client raises) travels back. A lost
 *   segment is retransmitted (late by a retransmission timeout) or, now and
 *   then, ends in a reset; a cut link breaks the connection: every call on
 *   it fails with ConnectionClosedError. A
 *   member that is down refuses connections (ConnectError). The call's
 *   timeoutMs and signal end it as the RPC client would (TimeoutError,
 *   AbortedError). Client links are never duplicated (TCP does not).
 */
import { ConcordError } from '../../src/common/errors.js';
import { ConnectError, ConnectionClosedError, RemoteError, TimeoutError as RpcTimeoutError, AbortedError as RpcAbortedError } from '../../src/net/index.js';
import type { RpcChannel } from '../../src/client/channel.js';
import { ErrorCode, type Method, type MethodTypes } from '../../src/protocol/index.js';
import type { Message } from '../../src/raft/messages.js';
import type { NodeId } from '../../src/raft/types.js';
import type { Forwarder } from '../../src/server/kv-service.js';
import { leaderChanged, notLeader, requestTimedOut } from '../../src/server/errors.js';
import { describeMessage } from './describe.js';
import { SendFate, type SimNetwork } from './network.js';
import type { SimClock, SimScheduler } from './sim-clock.js';
import type { SimMember } from './sim-member.js';

export interface TransportEnv {
  readonly scheduler: SimScheduler;
  readonly network: SimNetwork;
  member(id: NodeId): SimMember | undefined;
  readonly tracing: boolean;
  trace(line: string): void;
}

type Handler = (request: unknown, context: { forwarded: boolean }) => Promise<unknown>;

export class SimTransport {
  messagesSent = 0;
  /** Link-failure callbacks of requests being served by each member: a crash breaks them. */
  private readonly inflightAt = new Map<NodeId, Set<(why: string) => void>>();

  constructor(private readonly env: TransportEnv) {}

  // ------------------------------------------------------------ Raft messages

  sendRaft(from: SimMember, message: Message): void {
    this.messagesSent++;
    from.noteSent(message);
    const { fate, delaysMs } = this.env.network.send(from.id, message.to);
    if (this.env.tracing) this.env.trace(`send ${describeMessage(message)}${fate === SendFate.Delivered ? (delaysMs.length > 1 ? ' (duplicated)' : '') : ` (${fate})`}`);
    for (const d of delaysMs) {
      this.env.scheduler.at(this.env.scheduler.nowMs + d, () => {
        // A link cut while the message was on its way loses it too.
        if (this.env.network.isCut(from.id, message.to)) return;
        const to = this.env.member(message.to);
        if (to === undefined || !to.up || to.host === null) return;
        to.host.receive(message);
      });
    }
  }

  // ------------------------------------------------------------ forwarding

  forwarderFor(member: SimMember): Forwarder {
    const transport = this;
    return {
      forward<M extends Method>(method: M, request: MethodTypes[M]['request'], deadlineMs: number): Promise<MethodTypes[M]['response']> {
        return transport.forward(member, method, request, deadlineMs) as Promise<MethodTypes[M]['response']>;
      },
    };
  }

  private forward(from: SimMember, method: Method, request: unknown, deadlineMs: number): Promise<unknown> {
    const host = from.host;
    const clock = from.clock;
    const leader = host?.leaderId() ?? null;
    const hint = () => ({ leaderId: leader, leaderClientUrl: leader === null ? null : `sim://${leader}` });
    if (host === null || clock === null || leader === null) {
      return Promise.reject(notLeader(from.id, hint(), `member ${from.id} knows no leader (an election may be in progress); retry`));
    }
    if (this.env.network.isCut(from.id, leader)) {
      // The peer link is down: nothing is sent.
      return Promise.reject(notLeader(from.id, hint(), `leader ${leader} is not reachable (link cut); retry`));
    }
    const timeoutMs = Math.max(1, deadlineMs - clock.monotonicMs());
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        timer.cancel();
        fn();
      };
      const linkFailed = (why: string) =>
        finish(() =>
          reject(
            leaderChanged(
              'write',
              hint(),
              `the link to leader ${leader} failed after the request was sent (${why}); its outcome is unknown: retry (a write with the same session and seq)`,
            ),
          ),
        );
      const timer = clock.setTimer(timeoutMs, () => finish(() => reject(requestTimedOut(`forwarding to leader ${leader} timed out; the outcome is unknown, retry`))));
      this.rpc(from.id, leader, method, request, true, {
        onAnswer: (value) => finish(() => resolve(value)),
        onError: (error) => finish(() => reject(error)),
        onLinkFailed: linkFailed,
      });
    });
  }

  // ------------------------------------------------------------ one RPC hop

  /**
   * Carries one request from `from` to member `to` and its answer back. A
   * request or answer lost on the way is a broken link (`onLinkFailed`).
   * The handler's error reaches the caller as the RemoteError the RPC client raises.
   */
  private rpc(
    from: string,
    to: NodeId,
    method: Method,
    request: unknown,
    forwarded: boolean,
    callbacks: { onAnswer(value: unknown): void; onError(error: unknown): void; onLinkFailed(why: string): void },
    expectIncarnation?: number,
  ): void {
    const { scheduler, network } = this.env;
    const thereMs = network.sendOnConnection(from, to);
    if (thereMs === null) {
      // The connection broke: noticed a little later (a reset, a keepalive).
      scheduler.at(scheduler.nowMs + network.lossNoticeMs(), () => callbacks.onLinkFailed('request lost, connection reset'));
      return;
    }
    const requestCopy = cloneWire(request);
    scheduler.at(scheduler.nowMs + thereMs, () => {
      const member = this.env.member(to);
      if (network.isCut(from, to) || member === undefined || !member.up || member.service === null || (!forwarded && !member.clientListenerOpen)) {
        callbacks.onLinkFailed(member?.up ? 'link cut' : 'member down');
        return;
      }
      if (expectIncarnation !== undefined && member.incarnation !== expectIncarnation) {
        callbacks.onLinkFailed('member restarted');
        return;
      }
      const incarnation = member.incarnation;
      let inflight = this.inflightAt.get(to);
      if (inflight === undefined) this.inflightAt.set(to, (inflight = new Set()));
      const broken = (why: string): void => callbacks.onLinkFailed(why);
      inflight.add(broken);
      const handler = (member.service.handlers as unknown as Record<string, Handler>)[method];
      if (handler === undefined) {
        callbacks.onError(new RemoteError(method, ErrorCode.InvalidRequest, `unknown method ${method}`));
        return;
      }
      let pending: Promise<unknown>;
      try {
        pending = handler(requestCopy, { forwarded });
      } catch (error) {
        pending = Promise.reject(error);
      }
      const back = (deliver: () => void): void => {
        inflight.delete(broken);
        // The member died before answering: memberCrashed broke the link.
        if (member.incarnation !== incarnation) return;
        const backMs = network.sendOnConnection(to, from);
        if (backMs === null) {
          scheduler.at(scheduler.nowMs + network.lossNoticeMs(), () => callbacks.onLinkFailed('answer lost, connection reset'));
          return;
        }
        scheduler.at(scheduler.nowMs + backMs, () => {
          if (network.isCut(to, from)) callbacks.onLinkFailed('link cut');
          else deliver();
        });
      };
      pending.then(
        (value) => back(() => callbacks.onAnswer(cloneWire(value))),
        (error: unknown) => back(() => callbacks.onError(toRemote(method, error))),
      );
    });
  }

  /** A member crashed: the connections to it break (noticed a little later, as a reset or keepalive). */
  memberCrashed(id: NodeId): void {
    const inflight = this.inflightAt.get(id);
    if (inflight === undefined) return;
    this.inflightAt.delete(id);
    const { scheduler, network } = this.env;
    for (const broken of inflight) scheduler.at(scheduler.nowMs + network.lossNoticeMs(), () => broken('member crashed'));
  }

  // ------------------------------------------------------------ client channels

  /** The client's ChannelFactory: a "connection" from client `clientName` to a member's client URL. */
  channelFactory(clientName: string, clock: SimClock): (address: string, options: { timeoutMs: number }) => Promise<RpcChannel> {
    return (address, options) => this.openChannel(clientName, clock, address, options.timeoutMs);
  }

  private openChannel(clientName: string, clock: SimClock, address: string, timeoutMs: number): Promise<RpcChannel> {
    const to = address.replace(/^sim:\/\//, '');
    const { scheduler, network } = this.env;
    return new Promise((resolve, reject) => {
      // A connect is one round trip: SYN there, SYN-ACK back.
      const thereMs = network.sendOnConnection(clientName, to);
      const member = this.env.member(to);
      if (thereMs === null || member === undefined) {
        clock.setTimer(timeoutMs, () => reject(new ConnectError(address, `connect timed out after ${timeoutMs} ms (simulated)`)));
        return;
      }
      scheduler.at(scheduler.nowMs + thereMs * 2, () => {
        if (!member.up || !member.clientListenerOpen) {
          reject(new ConnectError(address, 'connection refused (simulated: member down)'));
          return;
        }
        resolve(new SimChannel(this, clientName, member, clock));
      });
    });
  }

  /** One client call on a channel (see SimChannel). */
  clientCall(channel: SimChannel, method: string, request: unknown, done: { onAnswer(v: unknown): void; onError(e: unknown): void; onLinkFailed(why: string): void }): void {
    this.rpc(channel.clientName, channel.member.id, method as Method, request, false, done, channel.incarnation);
  }
}

/** A client's connection to one member incarnation. */
export class SimChannel implements RpcChannel {
  readonly incarnation: number;
  private closed = false;
  private readonly closeListeners: (() => void)[] = [];
  private readonly pending = new Set<(error: Error) => void>();

  constructor(
    private readonly transport: SimTransport,
    readonly clientName: string,
    readonly member: SimMember,
    private readonly clock: SimClock,
  ) {
    this.incarnation = member.incarnation;
  }

  call(method: string, request: unknown, options: { signal?: AbortSignal; timeoutMs?: number }): Promise<unknown> {
    if (this.closed) return Promise.reject(new ConnectionClosedError('connection closed (simulated)'));
    if (options.signal?.aborted) return Promise.reject(new RpcAbortedError(`${method} aborted`));
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        timer?.cancel();
        options.signal?.removeEventListener('abort', onAbort);
        this.pending.delete(fail);
        fn();
      };
      const fail = (error: Error): void => settle(() => reject(error));
      const onAbort = (): void => fail(new RpcAbortedError(`${method} aborted`));
      const timer = options.timeoutMs !== undefined ? this.clock.setTimer(options.timeoutMs, () => fail(new RpcTimeoutError(`${method} timed out after ${options.timeoutMs} ms`))) : undefined;
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.add(fail);
      this.transport.clientCall(this, method, request, {
        onAnswer: (value) => settle(() => resolve(value)),
        onError: (error) => settle(() => reject(error)),
        onLinkFailed: (why) => this.break(`connection lost (simulated: ${why})`),
      });
    });
  }

  /** The connection broke: every call on it fails, listeners learn it once. */
  break(why: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const fail of [...this.pending]) fail(new ConnectionClosedError(why));
    for (const listener of this.closeListeners.splice(0)) listener();
  }

  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  async close(): Promise<void> {
    this.break('closed');
  }

  destroy(): void {
    this.break('destroyed');
  }
}

/** What the RPC layer makes of a handler's error (rpc-server.ts finish, rpc-client.ts): a RemoteError. */
function toRemote(method: string, error: unknown): RemoteError {
  if (error instanceof RemoteError) return error; // a forwarded answer, passed on as it came
  if (error instanceof ConcordError) {
    const details = (error as { details?: unknown }).details;
    return new RemoteError(method, error.code, error.message, details === undefined ? undefined : cloneWire(details));
  }
  return new RemoteError(method, 'CONCORD_ERR_INTERNAL', error instanceof Error ? error.message : String(error));
}

/** A deep copy of plain wire values (what encoding and decoding does): no shared buffers between parties. */
function cloneWire(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array) return value.slice();
  if (Array.isArray(value)) return value.map(cloneWire);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (v !== undefined) out[k] = cloneWire(v);
  return out;
}

