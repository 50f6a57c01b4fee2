/**
 * This member's links to the other members (see peer-protocol.ts for the
 * wire): one PeerLink per remote member for outgoing Raft messages, hellos
 * and forwarded requests; the listener on our peer URL receives theirs and
 * serves forwarded requests.
 */
import type { Clock, Timer } from '../common/clock.js';
import { ConcordError } from '../common/errors.js';
import { PeerLink, PeerLinkState, RemoteError, type Connection, type MessageOf } from '../net/index.js';
import { ErrorCode, clientMethods, type ClientMethods, type Method, type MethodTypes } from '../protocol/index.js';
import type { Message, NodeId } from '../raft/index.js';
import type { Forwarder } from './client-service.js';
import type { Logger } from './logger.js';
import { ServerError } from './errors.js';
import { EntryPacker } from './packed-entries.js';
import { fromRaftMessage, peerMessages, toRaftMessage, type Hello, type PeerMessages } from './peer-protocol.js';
import type { PeerDirectory } from './raft-host.js';

export interface PeerNetworkOptions {
  readonly name: string;
  /** Announced in hellos (the bound address once listening). */
  clientUrl: string;
  readonly peerUrl: string;
  /** Every member: name -> peer URL (including this one). */
  readonly cluster: Readonly<Record<string, string>>;
  /** How often to repeat the hello (members that restart learn our client URL). */
  readonly helloIntervalMs: number;
  readonly frameBytesMax: number;
  readonly logger: Logger;
  /** The leader as this member knows it (forwarding target). */
  readonly leader: () => NodeId | null;
  readonly onRaftMessage: (message: Message) => void;
  /** The hello timer and forwarding deadlines (on `monotonicMs`). */
  readonly clock: Clock;
}

export class PeerNetwork implements PeerDirectory, Forwarder {
  private readonly links = new Map<NodeId, PeerLink<PeerMessages, ClientMethods>>();
  private readonly clientUrls = new Map<NodeId, string>();
  /** Packs each batch of appended entries once for all followers. */
  private readonly packer = new EntryPacker();
  private helloTimer: Timer | undefined;

  constructor(private readonly options: PeerNetworkOptions) {
    this.clientUrls.set(options.name, options.clientUrl);
  }

  /** Opens a link to every other member (they connect and reconnect in the background). */
  start(): void {
    for (const [name, peerUrl] of Object.entries(this.options.cluster)) {
      if (name === this.options.name) continue;
      const link = new PeerLink<PeerMessages, ClientMethods>(peerUrl, {
        messages: peerMessages,
        methods: clientMethods,
        frameBytesMax: this.options.frameBytesMax,
        logger: this.options.logger,
        backoffInitialMs: 50,
        backoffMaxMs: 1000,
        connectTimeoutMs: 2000,
        onStateChange: (state) => {
          this.options.logger.debug({ peer: name, state }, 'peer link state');
          if (state === PeerLinkState.Connected) this.sendHello(link);
        },
      });
      this.links.set(name, link);
    }
    this.helloTimer = this.options.clock.setRepeating(this.options.helloIntervalMs, () => {
      for (const link of this.links.values()) this.sendHello(link);
    });
  }

  /** The client listener's bound address (differs from the configured one when it asked for port 0). */
  setClientUrl(url: string): void {
    this.options.clientUrl = url;
    this.clientUrls.set(this.options.name, url);
  }

  /** Handles the one-way messages arriving on a connection of our peer listener. */
  attachIncoming(connection: Connection<PeerMessages>): void {
    connection.setMessageHandler((message) => this.onIncoming(message, connection));
  }

  private onIncoming(message: MessageOf<PeerMessages>, connection: Connection<PeerMessages>): void {
    switch (message.type) {
      case 'raft':
        this.options.onRaftMessage(toRaftMessage(message.body));
        return;
      case 'hello':
        this.onHello(message.body, connection.remoteAddress);
        return;
    }
  }

  private onHello(hello: Hello, remoteAddress: string): void {
    if (!(hello.name in this.options.cluster)) {
      this.options.logger.warn({ name: hello.name, remoteAddress }, 'hello from a member not in the cluster; ignored');
      return;
    }
    if (this.clientUrls.get(hello.name) !== hello.clientUrl) {
      this.options.logger.info({ member: hello.name, clientUrl: hello.clientUrl }, 'learned a member client URL');
      this.clientUrls.set(hello.name, hello.clientUrl);
    }
  }

  private sendHello(link: PeerLink<PeerMessages, ClientMethods>): void {
    link.send({ type: 'hello', body: { name: this.options.name, clientUrl: this.options.clientUrl, peerUrl: this.options.peerUrl } });
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
    return this.clientUrls.get(name) ?? null;
  }

  peerUrlOf(name: NodeId): string | null {
    return this.options.cluster[name] ?? null;
  }

  members(): readonly { name: string; peerUrl: string; clientUrl: string | null }[] {
    return Object.entries(this.options.cluster).map(([name, peerUrl]) => ({ name, peerUrl, clientUrl: this.clientUrlOf(name) }));
  }

  // ------------------------------------------------------------ Forwarder

  async forward<M extends Method>(method: M, request: MethodTypes[M]['request'], deadlineMs: number): Promise<MethodTypes[M]['response']> {
    const leader = this.options.leader();
    const hint = () => ({ leaderId: leader, leaderClientUrl: leader === null ? null : this.clientUrlOf(leader) });
    if (leader === null) {
      throw new ServerError(ErrorCode.NotLeader, `member ${this.options.name} knows no leader (an election may be in progress); retry`, hint());
    }
    const link = this.links.get(leader);
    if (link === undefined) throw new ServerError(ErrorCode.NotLeader, `no link to leader ${leader}`, hint());
    const timeoutMs = Math.max(1, deadlineMs - this.options.clock.monotonicMs());
    try {
      return (await link.call(method as never, request as never, { timeoutMs })) as MethodTypes[M]['response'];
    } catch (error) {
      // The leader's own answer (KeyNotFound, VersionMismatch, LeaderChanged...) goes back as it is.
      if (error instanceof RemoteError) throw error;
      if (error instanceof ConcordError && error.code === 'CONCORD_ERR_TIMEOUT') {
        throw new ServerError(ErrorCode.Timeout, `forwarding to leader ${leader} timed out; the outcome is unknown, retry`, {});
      }
      throw new ServerError(
        ErrorCode.NotLeader,
        `cannot reach leader ${leader} to forward the request (${(error as Error).message}); retry`,
        hint(),
        { cause: error },
      );
    }
  }

  async close(): Promise<void> {
    this.helloTimer?.cancel();
    await Promise.all([...this.links.values()].map((link) => link.close()));
  }
}
