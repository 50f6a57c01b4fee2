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

export class EndpointPool {
  private readonly endpoints: string[];
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
    if (!this.endpoints.includes(url)) this.endpoints.push(url);
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
    // Not tied to the first caller's deadline: the connection is shared, and
    // each caller waits for it only as long as its own deadline allows.
    const opening = this.openChannel(url, { timeoutMs: this.connectTimeoutMs }).then(
      (channel) => {
        if (this.closed) {
          void channel.close();
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

  async close(): Promise<void> {
    this.closed = true;
    const opened = [...this.channels.values()];
    this.channels.clear();
    this.open.clear();
    await Promise.all(
      opened.map((p) =>
        p.then(
          (c) => c.close(),
          () => undefined,
        ),
      ),
    );
  }
}
