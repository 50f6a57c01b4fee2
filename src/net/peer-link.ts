/**
 * A PeerLink keeps one connection to one remote address for server-to-server
 * traffic: it connects, reconnects after failures with exponential backoff and
 * full jitter (common/backoff.ts), reports its state, and never makes the
 * caller wait. While
 * disconnected, `send()` drops the message or queues it (up to
 * `queueMessagesMax`), as chosen by `whenDisconnected`. Raft tolerates lost
 * messages (it retries on heartbeats), so dropping is the default.
 */
import { EventEmitter } from 'node:events';
import { backoffDelayMs } from '../common/backoff.js';
import type { Timer } from '../common/clock.js';
import { errorFields, silentLogger } from '../common/logger.js';
import type { RandomSource } from '../common/rng.js';
import { systemClock, systemRandom } from '../common/system-clock.js';
import { Connection, ConnectionState } from './connection.js';
import type { ConnectionOptions } from './connection.js';
import { connect } from './endpoint.js';
import { ConnectionClosedError } from './errors.js';
import { Fifo } from './fifo.js';
import type { MessageOf, MessageTable, MethodName, MethodTable, RequestOf, ResponseOf } from './messages.js';
import { RpcClient, type CallOptions } from './rpc-client.js';
import type { TlsOptions } from './transport.js';

export const PeerLinkState = {
  Connecting: 'connecting',
  Connected: 'connected',
  /** Waiting before the next connection attempt. */
  Backoff: 'backoff',
  Closed: 'closed',
} as const;
export type PeerLinkState = (typeof PeerLinkState)[keyof typeof PeerLinkState];

export const WhenDisconnected = {
  Drop: 'drop',
  Queue: 'queue',
} as const;
export type WhenDisconnected = (typeof WhenDisconnected)[keyof typeof WhenDisconnected];

export interface PeerLinkOptions<T extends MessageTable<any>, M extends MethodTable<any>> extends ConnectionOptions<T> {
  /** RPC methods callable over the link with `call()` (optional). */
  readonly methods?: M;
  readonly tls?: TlsOptions;
  /** Messages the peer sends back on this link's connection. */
  readonly onMessage?: (message: MessageOf<T>, link: PeerLink<T, M>) => void;
  /** Every state change (also emitted as the 'state' event). */
  readonly onStateChange?: (state: PeerLinkState, link: PeerLink<T, M>) => void;
  /** While disconnected: drop messages (default) or queue them. */
  readonly whenDisconnected?: WhenDisconnected;
  /** Messages queued while disconnected (whenDisconnected = queue); beyond it they are dropped (default 1024). */
  readonly queueMessagesMax?: number;
  /**
   * Upper bound of the first reconnect wait (default 50 ms); it doubles per
   * failure up to `backoffMaxMs` (default 5000 ms), and each wait is drawn
   * uniformly below it.
   */
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  /** Give up a connection attempt after this long (default 5000 ms). */
  readonly connectTimeoutMs?: number;
  /** Randomness for the backoff's jitter (default: the system's; the simulator injects a seeded Prng). */
  readonly random?: RandomSource;
  /** Pending-call bound of the link's RpcClient (default 1024). */
  readonly pendingCallsMax?: number;
}

export interface PeerLinkStats {
  readonly sentMessages: number;
  readonly droppedMessages: number;
  readonly queuedMessages: number;
  readonly connects: number;
}

export class PeerLink<T extends MessageTable<any> = MessageTable<{}>, M extends MethodTable<any> = MethodTable<{}>> extends EventEmitter<{
  state: [PeerLinkState];
}> {
  private stateValue: PeerLinkState = PeerLinkState.Connecting;
  private connection: Connection<T> | undefined;
  private client: RpcClient<M> | undefined;
  private readonly queue = new Fifo<MessageOf<T>>();
  private failures = 0;
  private backoffTimer: Timer | undefined;
  private attempt: AbortController | undefined;
  private sentMessages = 0;
  private droppedMessages = 0;
  private connects = 0;
  /** Bytes of the link's connections that closed (the open one is read live). */
  private closedSentBytes = 0;
  private closedReceivedBytes = 0;

  constructor(
    readonly address: string,
    private readonly options: PeerLinkOptions<T, M> = {},
  ) {
    super();
    this.connectNow();
  }

  get state(): PeerLinkState {
    return this.stateValue;
  }

  get stats(): PeerLinkStats {
    return {
      sentMessages: this.sentMessages,
      droppedMessages: this.droppedMessages,
      queuedMessages: this.queue.length,
      connects: this.connects,
    };
  }

  /** Bytes sent and received over every connection of this link so far (peer traffic metrics). */
  get trafficBytes(): { sentBytes: number; receivedBytes: number } {
    return {
      sentBytes: this.closedSentBytes + (this.connection?.sentBytes ?? 0),
      receivedBytes: this.closedReceivedBytes + (this.connection?.receivedBytes ?? 0),
    };
  }

  /**
   * One-way send; never waits. Returns true when the message was handed to
   * the connection or queued, false when it was dropped (disconnected in drop
   * mode, the queue is full, the connection's send queue is full, or closed).
   */
  send(message: MessageOf<T>): boolean {
    const connection = this.connection;
    if (connection !== undefined) {
      try {
        connection.post(message);
        this.sentMessages++;
        return true;
      } catch (error) {
        if (error instanceof TypeError) throw error; // Not plain data: a bug in the caller, not a network condition.
        if (connection.state === ConnectionState.Open) {
          // Full send queue or a message over frameBytesMax: this message is lost, the link stays.
          this.droppedMessages++;
          return false;
        }
      }
    }
    if (this.stateValue === PeerLinkState.Closed || (this.options.whenDisconnected ?? WhenDisconnected.Drop) === WhenDisconnected.Drop) {
      this.droppedMessages++;
      return false;
    }
    if (this.queue.length >= (this.options.queueMessagesMax ?? 1024)) {
      this.droppedMessages++;
      return false;
    }
    this.queue.push(message);
    return true;
  }

  /** RPC over the link; rejects with ConnectionClosedError at once while disconnected. */
  call<K extends MethodName<M>>(method: K, request: RequestOf<M, K>, options?: CallOptions): Promise<ResponseOf<M, K>> {
    if (this.client === undefined) {
      return Promise.reject(new ConnectionClosedError(`peer ${this.address} is not connected (${this.stateValue})`));
    }
    return this.client.call(method, request, options);
  }

  /** Stop reconnecting and close the connection gracefully; queued messages are dropped. */
  async close(): Promise<void> {
    if (this.stateValue === PeerLinkState.Closed) return;
    this.setState(PeerLinkState.Closed);
    this.backoffTimer?.cancel();
    this.attempt?.abort();
    this.droppedMessages += this.queue.drain().length;
    const connection = this.connection;
    this.connection = undefined;
    this.client = undefined;
    if (connection !== undefined) await connection.close();
  }

  private setState(state: PeerLinkState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    this.options.onStateChange?.(state, this);
    this.emit('state', state);
  }

  private connectNow(): void {
    this.backoffTimer = undefined;
    this.setState(PeerLinkState.Connecting);
    const attempt = new AbortController();
    this.attempt = attempt;
    connect(this.address, { ...this.options, signal: attempt.signal, timeoutMs: this.options.connectTimeoutMs ?? 5000 }).then(
      (connection) => {
        this.attempt = undefined;
        if (this.stateValue === PeerLinkState.Closed) {
          connection.destroy();
          return;
        }
        this.onConnected(connection);
      },
      (error: unknown) => {
        this.attempt = undefined;
        if (this.stateValue === PeerLinkState.Closed) return;
        (this.options.logger ?? silentLogger).debug?.({ peer: this.address, err: errorFields(error) }, 'peer connect failed');
        this.scheduleReconnect();
      },
    );
  }

  private onConnected(connection: Connection<T>): void {
    this.connection = connection;
    this.connects++;
    this.failures = 0;
    if (this.options.methods !== undefined) {
      this.client = new RpcClient(connection, this.options.methods, { pendingCallsMax: this.options.pendingCallsMax });
    }
    const onMessage = this.options.onMessage;
    connection.setMessageHandler(onMessage === undefined ? () => {} : (message) => onMessage(message, this));
    connection.onClose((error) => {
      if (this.connection !== connection) return;
      this.closedSentBytes += connection.sentBytes;
      this.closedReceivedBytes += connection.receivedBytes;
      this.connection = undefined;
      this.client = undefined;
      if (this.stateValue === PeerLinkState.Closed) return;
      (this.options.logger ?? silentLogger).info({ peer: this.address, err: error && errorFields(error) }, 'peer connection lost');
      this.scheduleReconnect();
    });
    this.setState(PeerLinkState.Connected);
    // Flush what waited, in order, until the connection pushes back.
    while (this.queue.length > 0 && this.connection === connection) {
      const message = this.queue.shift()!;
      try {
        connection.post(message);
        this.sentMessages++;
      } catch {
        this.droppedMessages++;
      }
    }
  }

  private scheduleReconnect(): void {
    const options = this.options;
    const delayMs = backoffDelayMs(
      this.failures++,
      { initialMs: options.backoffInitialMs ?? 50, maxMs: options.backoffMaxMs ?? 5000 },
      options.random ?? systemRandom,
    );
    this.setState(PeerLinkState.Backoff);
    // A link waiting to reconnect does not by itself keep the process alive.
    this.backoffTimer = (options.clock ?? systemClock).setTimer(delayMs, () => this.connectNow(), { keepsProcessAlive: false });
  }
}
