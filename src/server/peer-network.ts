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
  identityNames,
  type Connection,
  type MessageOf,
  type TlsOptions,
} from '../net/index.js';
import { clientMethods, type ClientMethods, type Method, type MethodTypes } from '../protocol/index.js';
import type { Message, NodeId } from '../raft/index.js';
import type { Forwarder } from './kv-service.js';
import type { Logger } from './logger.js';
import { leaderChanged, notLeader, requestTimedOut, type LeaderHint } from './errors.js';
import type { MemberIdentity } from './member-status.js';
import { EntryPacker } from './packed-entries.js';
import { fromRaftMessage, peerMessages, termAcceptable, toRaftMessage, type Hello, type PeerMessages } from './peer-protocol.js';
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
  /**
   * Mutual TLS between members (cert, key, ca): links dial with it and demand
   * that the server's certificate names the member dialed; incoming
   * connections were verified by the listener and must name one member.
   * Absent: plain transports, and a peer is whoever its hello says.
   */
  readonly tls?: TlsOptions;
  /** This cluster's ID (cluster-id.ts), or null while it is to be learned from the first peer that admits us. */
  readonly clusterId?: string | null;
  /** Persists a learned cluster ID (member.json) before any frame of that peer reaches the core. */
  readonly persistClusterId?: (clusterId: string) => void;
  /** Told of every Raft message sent and received (peer round-trip metrics); optional. */
  readonly traffic?: PeerTrafficObserver;
  /**
   * The replicated member table's view (member-table.ts): whether a name was
   * removed from the cluster (its hellos are answered with `removed`), and a
   * name's place in it (answered to a starting member's probe).
   */
  readonly membership?: PeerMembership;
  /** A peer told this member it was removed from the cluster. */
  readonly onRemoved?: (by: NodeId) => void;
}

/** What the peer network asks of the member table. */
export interface PeerMembership {
  wasRemoved(name: NodeId): boolean;
  describe(name: NodeId): { member: boolean; addedAt: number; removed: boolean };
}

/**
 * What an incoming peer connection has proved. `certName`: the member its
 * certificate names (TLS), fixed at accept. `member`: set by the first hello
 * that passes every check (name, certificate, cluster ID); until then no Raft
 * frame reaches the core and no forwarded request is served.
 */
interface IncomingPeer {
  readonly certName: string | null;
  member: string | null;
  /** Refusals not logged (only the first per connection is, so a flood cannot flood the log). */
  refusals: number;
}

/** Watches the Raft messages crossing the links (see peer-traffic.ts). */
export interface PeerTrafficObserver {
  sent(message: Message): void;
  received(message: Message): void;
}

/** Who the links deliver to: this member's loop (set by `start`). */
export interface PeerInbound {
  receive(message: Message): void;
  /** The leader as this member knows it (the forwarding target). */
  leaderId(): NodeId | null;
  /** This member's term and last log index, for a starting member's bootstrap probe. */
  logState(): { term: number; lastLogIndex: number };
  /** This member's term, for the check of every incoming Raft message (cheap: no status report built). */
  currentTerm(): number;
}

export class PeerNetwork implements PeerDirectory, Forwarder {
  private readonly name: string;
  private inbound: PeerInbound | null = null;
  private readonly links = new Map<NodeId, PeerLink<PeerMessages, ClientMethods>>();
  private readonly clientUrls = new Map<NodeId, string>();
  /** Peers' RESP URLs, from their hellos (a peer without RESP has none). */
  private readonly respUrls = new Map<NodeId, string>();
  /** Packs each batch of appended entries once for all followers. */
  private readonly packer = new EntryPacker();
  private helloTimer: Timer | undefined;
  private clusterIdValue: string | null;
  /** Incoming connections by the member that said hello on them (their bytes count as that peer's traffic). */
  private readonly incoming = new Map<Connection<PeerMessages>, NodeId>();
  /** Bytes of incoming connections that closed, by peer. */
  private readonly closedIncoming = new Map<NodeId, { sentBytes: number; receivedBytes: number }>();
  /** Every member: name -> peer URL (this one included); replaced as membership changes (setMembers). */
  private cluster: Record<string, string>;
  private closed = false;
  /** When a Raft message last came from each peer (on clock.monotonicMs): who is live. */
  private readonly lastHeard = new Map<NodeId, number>();

  constructor(private readonly options: PeerNetworkOptions) {
    this.name = options.identity.name;
    this.clusterIdValue = options.clusterId ?? null;
    this.cluster = { ...options.cluster };
  }

  /** This member's cluster ID (null until learned). */
  get clusterId(): string | null {
    return this.clusterIdValue;
  }

  /**
   * Opens a link to every other member (they connect and reconnect in the
   * background) and delivers their Raft messages to `inbound` from now on.
   */
  start(inbound: PeerInbound): void {
    this.inbound = inbound;
    for (const [name, peerUrl] of Object.entries(this.cluster)) {
      if (name !== this.name) this.openLink(name, peerUrl);
    }
    this.helloTimer = this.options.clock.setRepeating(
      this.options.helloIntervalMs,
      () => {
        for (const link of this.links.values()) this.sendHello(link);
      },
      { keepsProcessAlive: false },
    );
  }

  /**
   * The membership changed (a committed change, or a snapshot): links open to
   * new members and close to removed ones (a changed peer URL reconnects).
   */
  setMembers(cluster: Readonly<Record<string, string>>): void {
    if (this.closed) return;
    const before = this.cluster;
    this.cluster = { ...cluster };
    if (this.inbound === null) return;
    for (const [name, link] of [...this.links]) {
      if (this.cluster[name] === before[name]) continue;
      this.links.delete(name);
      this.options.logger.info({ peer: name, peerUrl: this.cluster[name] ?? null }, this.cluster[name] === undefined ? 'member left the cluster: link closed' : 'member peer URL changed: reconnecting');
      void link.close().catch(() => {});
    }
    for (const [name, peerUrl] of Object.entries(this.cluster)) {
      if (name === this.name || this.links.has(name)) continue;
      this.options.logger.info({ peer: name, peerUrl }, 'member joined the cluster: linking to it');
      this.openLink(name, peerUrl);
    }
  }

  /** True when `name` is a member (of the configuration this member knows). */
  isMember(name: NodeId): boolean {
    return name in this.cluster;
  }

  /** Whether our link to `name` is connected now (a leader picks transfer targets among reachable peers). */
  isReachable(name: NodeId): boolean {
    return this.links.get(name)?.state === PeerLinkState.Connected;
  }

  /** Reachable, and a Raft message came from it within `withinMs` (a live member: it answers the leader). */
  isLive(name: NodeId, withinMs: number): boolean {
    const heard = this.lastHeard.get(name);
    return this.isReachable(name) && heard !== undefined && this.options.clock.monotonicMs() - heard <= withinMs;
  }

  private openLink(name: NodeId, peerUrl: string): void {
    const link = new PeerLink<PeerMessages, ClientMethods>(peerUrl, {
      messages: peerMessages,
      methods: clientMethods,
      frameBytesMax: this.options.frameBytesMax,
      logger: this.options.logger,
      ...(this.options.tls === undefined ? {} : { tls: { ...this.options.tls, peerName: name } }),
      backoffInitialMs: 50,
      backoffMaxMs: 1000,
      connectTimeoutMs: 2000,
      clock: this.options.clock,
      random: this.options.random,
      onStateChange: (state) => {
        this.options.logger.debug({ peer: name, state }, 'peer link state');
        if (state === PeerLinkState.Connected) this.sendHello(link);
      },
      onMessage: (message) => {
        // The one message a member sends back on our link: "you were removed" (see onHello).
        if (message.type === 'hello' && message.body.removed === true && message.body.name === name) this.options.onRemoved?.(name);
      },
    });
    this.links.set(name, link);
  }

  /**
   * Handles the one-way messages arriving on a connection of our peer
   * listener; `admitted` runs once the peer has proved who it is and that it
   * belongs to this cluster (the server starts serving forwarded requests
   * then). Returns false (after closing it) for a connection whose
   * certificate names no member of the cluster, or several.
   */
  attachIncoming(connection: Connection<PeerMessages>, admitted: () => void = () => {}): boolean {
    let certName: string | null = null;
    if (this.options.tls !== undefined) {
      const named = Object.keys(this.cluster).filter((m) => identityNames(connection.peerIdentity, m));
      if (named.length !== 1) {
        this.options.logger.warn(
          { remoteAddress: connection.remoteAddress, identity: connection.peerIdentity, named },
          named.length === 0 ? 'peer certificate names no member of the cluster; connection refused' : 'peer certificate names several members; connection refused',
        );
        connection.destroy();
        return false;
      }
      certName = named[0]!;
    }
    const peer: IncomingPeer = { certName, member: null, refusals: 0 };
    connection.setMessageHandler((message) => this.onIncoming(message, connection, peer, admitted));
    return true;
  }

  private refuse(peer: IncomingPeer, connection: Connection<PeerMessages>, fields: object, reason: string): void {
    if (peer.refusals++ === 0) {
      this.options.logger.warn({ remoteAddress: connection.remoteAddress, certName: peer.certName, member: peer.member, ...fields }, reason);
    }
  }

  private onIncoming(message: MessageOf<PeerMessages>, connection: Connection<PeerMessages>, peer: IncomingPeer, admitted: () => void): void {
    switch (message.type) {
      case 'raft': {
        const body = message.body;
        if (peer.member === null) {
          this.refuse(peer, connection, { type: body.type, from: body.from }, 'Raft message from a peer that has not been admitted (no valid hello yet); dropped');
          return;
        }
        if (!(peer.member in this.cluster)) {
          this.refuse(peer, connection, { type: body.type, from: body.from }, 'Raft message from a member no longer in the cluster; dropped');
          return;
        }
        if (body.from !== peer.member || body.to !== this.name) {
          this.refuse(peer, connection, { type: body.type, from: body.from, to: body.to }, 'Raft message whose from/to is not the authenticated peer/this member; dropped');
          return;
        }
        if (this.inbound === null) return;
        if (!termAcceptable(body.term, this.inbound.currentTerm())) {
          this.refuse(peer, connection, { type: body.type, term: body.term }, 'Raft message with a term beyond what this member adopts; dropped');
          return;
        }
        const raft = toRaftMessage(body);
        this.lastHeard.set(peer.member, this.options.clock.monotonicMs());
        this.options.traffic?.received(raft);
        this.inbound.receive(raft);
        return;
      }
      case 'hello':
        this.onHello(message.body, connection, peer, admitted);
        return;
    }
  }

  private onHello(hello: Hello, connection: Connection<PeerMessages>, peer: IncomingPeer, admitted: () => void): void {
    const log = this.options.logger;
    if (!(hello.name in this.cluster)) {
      const membership = this.options.membership;
      if (hello.replyWanted === true && this.inbound !== null && (peer.certName === null || hello.name === peer.certName)) {
        this.answerProbe(connection, hello.name);
        return;
      }
      if (membership?.wasRemoved(hello.name) === true && this.inbound?.leaderId() === this.name) {
        // Tell it, so that it stops instead of campaigning or asking forever (etcd answers a removed member the same
        // way). Only the leader says so: it has applied every change it answered for, while a lagging follower could
        // still see as removed a member that was added again (a replacement under the same name).
        this.postHello(connection, { removed: true }, hello.name);
        this.refuse(peer, connection, { name: hello.name }, 'hello from a member that was removed from the cluster; told it so');
        return;
      }
      this.refuse(peer, connection, { name: hello.name }, 'hello from a member not in the cluster; ignored');
      return;
    }
    // A hello can only describe its sender: the certificate's member (TLS), or the member the connection first said it was.
    if ((peer.certName !== null && hello.name !== peer.certName) || (peer.member !== null && hello.name !== peer.member)) {
      this.refuse(peer, connection, { name: hello.name }, 'hello naming another member than the authenticated peer; ignored');
      return;
    }
    if (hello.replyWanted === true && this.inbound !== null) {
      this.answerProbe(connection, hello.name);
      return;
    }
    if (hello.clusterId === undefined) {
      this.refuse(peer, connection, { name: hello.name }, 'hello without a cluster ID (a member of an older version?); peer refused');
      return;
    }
    if (this.clusterIdValue === null) {
      this.clusterIdValue = hello.clusterId;
      this.options.persistClusterId?.(hello.clusterId);
      log.info({ clusterId: hello.clusterId, from: hello.name }, 'learned the cluster ID from a peer and stored it');
    } else if (hello.clusterId !== this.clusterIdValue) {
      this.refuse(
        peer,
        connection,
        { name: hello.name, theirClusterId: hello.clusterId, ourClusterId: this.clusterIdValue },
        `peer "${hello.name}" belongs to another cluster (cluster ID ${hello.clusterId}, ours is ${this.clusterIdValue}); its frames are refused`,
      );
      return;
    }
    if (peer.member === null) {
      peer.member = hello.name;
      admitted();
    }
    if (!this.incoming.has(connection)) {
      this.incoming.set(connection, hello.name);
      connection.onClose(() => {
        this.incoming.delete(connection);
        const closed = this.closedIncoming.get(hello.name) ?? { sentBytes: 0, receivedBytes: 0 };
        closed.sentBytes += connection.sentBytes;
        closed.receivedBytes += connection.receivedBytes;
        this.closedIncoming.set(hello.name, closed);
      });
    }
    if (this.clientUrls.get(hello.name) !== hello.clientUrl) {
      log.info({ member: hello.name, clientUrl: hello.clientUrl }, 'learned a member client URL');
      this.clientUrls.set(hello.name, hello.clientUrl);
    }
    if (hello.respUrl === undefined) this.respUrls.delete(hello.name);
    else this.respUrls.set(hello.name, hello.respUrl);
  }

  /**
   * A member about to start on an empty data directory asks whether the cluster already ran, and
   * (joining with --initial-cluster-state existing) whether it is a member (it sends its candidate
   * cluster ID, not ours: answer with ours, which it then adopts).
   */
  private answerProbe(connection: Connection<PeerMessages>, prober: NodeId): void {
    if (this.inbound === null) return;
    const you = this.options.membership?.describe(prober) ?? { member: prober in this.cluster, addedAt: 0, removed: false };
    this.postHello(connection, { log: { probing: false, ...this.inbound.logState() }, you }, prober);
  }

  private postHello(connection: Connection<PeerMessages>, extra: Partial<Hello>, to: NodeId): void {
    try {
      connection.post({ type: 'hello', body: { ...this.helloFields(), ...extra } });
    } catch (error) {
      this.options.logger.debug?.({ err: error, member: to }, 'could not answer a peer hello');
    }
  }

  /** What every hello says: who this member is, where it is reached, its cluster ID once known. */
  private helloFields(): Hello {
    const identity = this.options.identity;
    const respUrl = identity.respUrl?.() ?? null;
    return {
      name: identity.name,
      clientUrl: identity.clientUrl(),
      peerUrl: identity.peerUrl,
      ...(respUrl === null ? {} : { respUrl }),
      ...(this.clusterIdValue === null ? {} : { clusterId: this.clusterIdValue }),
    };
  }

  private sendHello(link: PeerLink<PeerMessages, ClientMethods>): void {
    link.send({ type: 'hello', body: this.helloFields() });
  }

  /** Bytes sent to and received from each peer so far, over our link to it and its connections to us (metrics). */
  trafficBytes(): { peer: NodeId; sentBytes: number; receivedBytes: number }[] {
    const out = new Map<NodeId, { peer: NodeId; sentBytes: number; receivedBytes: number }>();
    const entry = (peer: NodeId) => {
      let e = out.get(peer);
      if (e === undefined) out.set(peer, (e = { peer, sentBytes: 0, receivedBytes: 0 }));
      return e;
    };
    for (const [peer, link] of this.links) {
      const e = entry(peer);
      const stats = link.trafficBytes;
      e.sentBytes += stats.sentBytes;
      e.receivedBytes += stats.receivedBytes;
    }
    for (const [peer, closed] of this.closedIncoming) {
      const e = entry(peer);
      e.sentBytes += closed.sentBytes;
      e.receivedBytes += closed.receivedBytes;
    }
    for (const [connection, peer] of this.incoming) {
      const e = entry(peer);
      e.sentBytes += connection.sentBytes;
      e.receivedBytes += connection.receivedBytes;
    }
    return [...out.values()];
  }

  // ------------------------------------------------------------ PeerDirectory

  send(message: Message): void {
    const link = this.links.get(message.to);
    if (link === undefined) {
      this.options.logger.warn({ to: message.to, type: message.type }, 'no link to the addressee of a Raft message');
      return;
    }
    this.options.traffic?.sent(message);
    link.send({ type: 'raft', body: fromRaftMessage(message, this.packer) });
  }

  clientUrlOf(name: NodeId): string | null {
    if (name === this.name) return this.options.identity.clientUrl();
    return this.clientUrls.get(name) ?? null;
  }

  /** Where a member serves the Redis protocol (this one's own included), null when unknown or not served. */
  respUrlOf(name: NodeId): string | null {
    if (name === this.name) return this.options.identity.respUrl?.() ?? null;
    return this.respUrls.get(name) ?? null;
  }

  peerUrlOf(name: NodeId): string | null {
    return this.cluster[name] ?? null;
  }

  members(): readonly { name: string; peerUrl: string; clientUrl: string | null }[] {
    return Object.entries(this.cluster).map(([name, peerUrl]) => ({ name, peerUrl, clientUrl: this.clientUrlOf(name) }));
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
    this.closed = true;
    this.helloTimer?.cancel();
    await Promise.all([...this.links.values()].map((link) => link.close()));
  }
}
