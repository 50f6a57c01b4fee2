/**
 * Which member to talk to, and one connection per member.
 *
 * The pool prefers the leader: every response header and every redirect
 * names the leader's client URL, and sending there saves the follower's
 * forwarding hop. Without a known leader it walks the endpoint list in a
 * round robin, skipping nothing (a member that failed a moment ago may be the
 * next leader). Connections are opened lazily and shared by every call of the
 * client: the net layer's RPC pipelines many requests on one connection.
 */
import type { RandomSource } from '../common/rng.js';
import type { RpcChannel, ChannelFactory } from './channel.js';
import type { Deadline } from './deadline.js';

/**
 * Leader URLs learned from members beyond the configured endpoints. Past the
 * bound the oldest learned one (never the leader) is dropped with its
 * connection: a long-lived client of a cluster whose members come and go
 * must not collect URLs forever.
 */
export const learnedEndpointsMax = 16;

export class EndpointPool {
  /** The configured endpoints, then the learned ones, oldest first. */
  private readonly endpoints: string[];
  private readonly configuredCount: number;
  private cursor = 0;
  private leaderUrl: string | null = null;
  private readonly channels = new Map<string, Promise<RpcChannel>>();
  /** The connections that are open, for the synchronous fast path. */
  private readonly open = new Map<string, RpcChannel>();
  private closed = false;

  constructor(
    endpoints: readonly string[],
    private readonly openChannel: ChannelFactory,
    private readonly connectTimeoutMs: number,
    random: RandomSource,
  ) {
    this.endpoints = [...new Set(endpoints)];
    this.configuredCount = this.endpoints.length;
    // Start at a random member so that many clients spread their first connections.
    this.cursor = random.nextInt(this.endpoints.length);
  }

  /** Known endpoints: the configured ones plus leader URLs learned from members. */
  get known(): readonly string[] {
    return this.endpoints;
  }

  get leader(): string | null {
    return this.leaderUrl;
  }

  /** Where the next attempt goes: the leader when known, else the next endpoint in turn. */
  pick(): string {
    return this.leaderUrl ?? this.endpoints[this.cursor % this.endpoints.length]!;
  }

  /**
   * Where a stale read goes: the current member of the rotation, not the
   * leader (spreading stale reads over the members is their point).
   */
  pickAny(): string {
    return this.endpoints[this.cursor % this.endpoints.length]!;
  }

  /** A member named the leader's client URL: go there from now on. */
  noteLeader(url: string | null): void {
    // Every answer names the leader: the usual case is the one already known (and listed).
    if (url === this.leaderUrl || url === null || url === '') return;
    if (!this.endpoints.includes(url)) this.learn(url);
    this.leaderUrl = url;
  }

  /** `url` could not serve the call (unreachable, not the leader and no hint): try the next member. */
  noteFailure(url: string): void {
    if (this.leaderUrl === url) this.leaderUrl = null;
    const index = this.endpoints.indexOf(url);
    this.cursor = (index >= 0 ? index : this.cursor) + 1;
  }

  /** The open connection to `url`, or undefined when there is none yet (use `channel`). */
  readyChannel(url: string): RpcChannel | undefined {
    return this.open.get(url);
  }

  /** The connection to `url`, opened on first use and shared afterwards. */
  channel(url: string): Promise<RpcChannel> {
    const existing = this.channels.get(url);
    if (existing !== undefined) return existing;
    if (this.closed) return Promise.reject(new Error('endpoint pool closed'));
    // Not tied to the first caller's deadline: the connection is shared, and
    // each caller waits for it only as long as its own deadline allows.
    const opening = this.openChannel(url, { timeoutMs: this.connectTimeoutMs }).then(
      (channel) => {
        if (this.closed) {
          // Opened after the pool closed: never used, nothing to let finish.
          channel.destroy();
          throw new Error('endpoint pool closed');
        }
        this.open.set(url, channel);
        channel.onClose(() => {
          if (this.channels.get(url) === opening) this.channels.delete(url);
          if (this.open.get(url) === channel) this.open.delete(url);
        });
        return channel;
      },
      (error: unknown) => {
        if (this.channels.get(url) === opening) this.channels.delete(url);
        throw error;
      },
    );
    this.channels.set(url, opening);
    return opening;
  }

  /** Drop a connection that failed so that the next attempt reconnects. */
  discard(url: string, channel: RpcChannel): void {
    if (this.open.get(url) === channel) this.open.delete(url);
    const current = this.channels.get(url);
    if (current !== undefined) {
      void current.then(
        (c) => {
          if (c === channel && this.channels.get(url) === current) this.channels.delete(url);
        },
        () => undefined,
      );
    }
    channel.destroy();
  }

  /**
   * Closes every connection gracefully (in-flight calls may finish), but no
   * longer than `deadline`: what is still open then is destroyed.
   */
  async close(deadline: Deadline): Promise<void> {
    const opened = this.takeAll();
    const closes = opened.map((p) =>
      p.then(
        (c) => c.close(),
        () => undefined,
      ),
    );
    try {
      await deadline.race(Promise.all(closes));
    } catch {
      // Out of time (or the caller aborted): cut off whatever is left.
    }
    for (const p of opened) p.then((c) => c.destroy(), () => undefined);
  }

  /** Destroys every connection at once (and any still being opened, when it opens). */
  destroy(): void {
    for (const p of this.takeAll()) p.then((c) => c.destroy(), () => undefined);
  }

  private takeAll(): Promise<RpcChannel>[] {
    this.closed = true;
    const opened = [...this.channels.values()];
    this.channels.clear();
    this.open.clear();
    return opened;
  }

  private learn(url: string): void {
    this.endpoints.push(url);
    if (this.endpoints.length - this.configuredCount <= learnedEndpointsMax) return;
    // The oldest learned URL; the one just learned is the newest, so not it.
    const [dropped] = this.endpoints.splice(this.configuredCount, 1) as [string];
    if (this.cursor > this.configuredCount) this.cursor--;
    const channel = this.channels.get(dropped);
    this.channels.delete(dropped);
    this.open.delete(dropped);
    void channel?.then(
      (c) => c.close(),
      () => undefined,
    );
  }
}
