/**
 * This member's links to the other members (see peer-protocol.ts for the
 * wire): one PeerLink per remote member for outgoing Raft messages, hellos
 * and forwarded requests; the listener on our peer URL receives theirs and
 * serves forwarded requests.
 */
import type { Clock, Timer } from '../common/clock.js';
import type { RandomSource } from '../common/rng.js';
import {
  NetTimeoutError,
  PeerLink,
  PeerLinkState,
  RemoteError,
  SendQueueFullError,
  TooManyPendingCallsError,
  type Connection,
  type MessageOf,
} from '../net/index.js';
import { clientMethods, type ClientMethods, type Method, type MethodTypes } from '../protocol/index.js';
import type { Message, NodeId } from '../raft/index.js';
import type { Forwarder } from './kv-service.js';
import type { Logger } from './logger.js';
import { leaderChanged, notLeader, requestTimedOut, type LeaderHint } from './errors.js';
import type { MemberIdentity } from './member-status.js';
import { EntryPacker } from './packed-entries.js';
import { fromRaftMessage, peerMessages, toRaftMessage, type Hello, type PeerMessages } from './peer-protocol.js';
import type { PeerDirectory } from './raft-host.js';

export interface PeerNetworkOptions {
  /** This member; its client URL (the bound address once listening) is announced in hellos. */
  readonly identity: MemberIdentity;
  /** Every member: name -> peer URL (including this one). */
  readonly cluster: Readonly<Record<string, string>>;
  /** How often to repeat the hello (members that restart learn our client URL). */
  readonly helloIntervalMs: number;
  readonly frameBytesMax: number;
  readonly logger: Logger;
  /** The hello timer, forwarding deadlines (on `monotonicMs`) and the links' timers. */
  readonly clock: Clock;
  /** The links' reconnect jitter. */
  readonly random: RandomSource;
}

/** Who the links deliver to: this member's loop (set by `start`). */
export interface PeerInbound {
  receive(message: Message): void;
  /** The leader as this member knows it (the forwarding target). */
  leaderId(): NodeId | null;
  /** This member's term and last log index, for a starting member's bootstrap probe. */
  logState(): { term: number; lastLogIndex: number };
}

export class PeerNetwork implements PeerDirectory, Forwarder {
  private readonly name: string;
  private inbound: PeerInbound | null = null;
  private readonly links = new Map<NodeId, PeerLink<PeerMessages, ClientMethods>>();
  private readonly clientUrls = new Map<NodeId, string>();
  /** Packs each batch of appended entries once for all followers. */
  private readonly packer = new EntryPacker();
  private helloTimer: Timer | undefined;

  constructor(private readonly options: PeerNetworkOptions) {
    this.name = options.identity.name;
  }

  /**
   * Opens a link to every other member (they connect and reconnect in the
   * background) and delivers their Raft messages to `inbound` from now on.
   */
  start(inbound: PeerInbound): void {
    this.inbound = inbound;
    for (const [name, peerUrl] of Object.entries(this.options.cluster)) {
      if (name === this.name) continue;
      const link = new PeerLink<PeerMessages, ClientMethods>(peerUrl, {
        messages: peerMessages,
        methods: clientMethods,
        frameBytesMax: this.options.frameBytesMax,
        logger: this.options.logger,
        backoffInitialMs: 50,
        backoffMaxMs: 1000,
        connectTimeoutMs: 2000,
        clock: this.options.clock,
        random: this.options.random,
        onStateChange: (state) => {
          this.options.logger.debug({ peer: name, state }, 'peer link state');
          if (state === PeerLinkState.Connected) this.sendHello(link);
        },
      });
      this.links.set(name, link);
    }
    this.helloTimer = this.options.clock.setRepeating(
      this.options.helloIntervalMs,
      () => {
        for (const link of this.links.values()) this.sendHello(link);
      },
      { keepsProcessAlive: false },
    );
  }

  /** Handles the one-way messages arriving on a connection of our peer listener. */
  attachIncoming(connection: Connection<PeerMessages>): void {
    connection.setMessageHandler((message) => this.onIncoming(message, connection));
  }

  private onIncoming(message: MessageOf<PeerMessages>, connection: Connection<PeerMessages>): void {
    switch (message.type) {
      case 'raft':
        this.inbound?.receive(toRaftMessage(message.body));
        return;
      case 'hello':
        this.onHello(message.body, connection);
        return;
    }
  }

  private onHello(hello: Hello, connection: Connection<PeerMessages>): void {
    if (!(hello.name in this.options.cluster)) {
      this.options.logger.warn({ name: hello.name, remoteAddress: connection.remoteAddress }, 'hello from a member not in the cluster; ignored');
      return;
    }
    if (hello.replyWanted === true && this.inbound !== null) {
      // A member about to bootstrap an empty data directory asks whether the cluster already ran.
      const identity = this.options.identity;
      const log = { probing: false, ...this.inbound.logState() };
      try {
        connection.post({ type: 'hello', body: { name: identity.name, clientUrl: identity.clientUrl(), peerUrl: identity.peerUrl, log } });
      } catch (error) {
        this.options.logger.debug({ err: error, member: hello.name }, 'could not answer a bootstrap probe');
      }
    }
    if (this.clientUrls.get(hello.name) !== hello.clientUrl) {
      this.options.logger.info({ member: hello.name, clientUrl: hello.clientUrl }, 'learned a member client URL');
      this.clientUrls.set(hello.name, hello.clientUrl);
    }
  }

  private sendHello(link: PeerLink<PeerMessages, ClientMethods>): void {
    const identity = this.options.identity;
    link.send({ type: 'hello', body: { name: identity.name, clientUrl: identity.clientUrl(), peerUrl: identity.peerUrl } });
  }

  // ------------------------------------------------------------ PeerDirectory

  send(message: Message): void {
    const link = this.links.get(message.to);
    if (link === undefined) {
      this.options.logger.warn({ to: message.to, type: message.type }, 'no link to the addressee of a Raft message');
      return;
    }
    link.send({ type: 'raft', body: fromRaftMessage(message, this.packer) });
  }

  clientUrlOf(name: NodeId): string | null {
    if (name === this.name) return this.options.identity.clientUrl();
    return this.clientUrls.get(name) ?? null;
  }

  peerUrlOf(name: NodeId): string | null {
    return this.options.cluster[name] ?? null;
  }

  members(): readonly { name: string; peerUrl: string; clientUrl: string | null }[] {
    return Object.entries(this.options.cluster).map(([name, peerUrl]) => ({ name, peerUrl, clientUrl: this.clientUrlOf(name) }));
  }

  // ------------------------------------------------------------ Forwarder

  /**
   * Forwards a client request to the leader. A refusal made before anything
   * was sent (no leader known, no link, the link down or full) is NotLeader:
   * the request surely did not apply. Once sent, a lost link or a timeout
   * leaves the outcome unknown (LeaderChanged, Timeout): the client must
   * retry a write with the same session and seq, never as a new write.
   */
  async forward<M extends Method>(method: M, request: MethodTypes[M]['request'], deadlineMs: number): Promise<MethodTypes[M]['response']> {
    const leader = this.inbound?.leaderId() ?? null;
    const hint = (): LeaderHint => ({ leaderId: leader, leaderClientUrl: leader === null ? null : this.clientUrlOf(leader) });
    if (leader === null) throw notLeader(this.name, hint(), `member ${this.name} knows no leader (an election may be in progress); retry`);
    const link = this.links.get(leader);
    if (link === undefined) throw notLeader(this.name, hint(), `no link to leader ${leader}`);
    if (link.state !== PeerLinkState.Connected) throw notLeader(this.name, hint(), `leader ${leader} is not reachable (link ${link.state}); retry`);
    const timeoutMs = Math.max(1, deadlineMs - this.options.clock.monotonicMs());
    try {
      return (await link.call(method as never, request as never, { timeoutMs })) as MethodTypes[M]['response'];
    } catch (error) {
      // The leader's own answer (KeyNotFound, VersionMismatch, LeaderChanged...) goes back as it is.
      if (error instanceof RemoteError) throw error;
      if (error instanceof NetTimeoutError) throw requestTimedOut(`forwarding to leader ${leader} timed out; the outcome is unknown, retry`);
      if (error instanceof TooManyPendingCallsError || error instanceof SendQueueFullError) {
        throw notLeader(this.name, hint(), `cannot forward to leader ${leader} now (${(error as Error).message}); retry`);
      }
      throw leaderChanged(
        'write',
        hint(),
        `the link to leader ${leader} failed after the request was sent (${(error as Error).message}); its outcome is unknown: retry (a write with the same session and seq)`,
      );
    }
  }

  async close(): Promise<void> {
    this.helloTimer?.cancel();
    await Promise.all([...this.links.values()].map((link) => link.close()));
  }
}
