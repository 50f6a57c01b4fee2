/**
 * `listen(address, options)` and `connect(address, options)`: one pair of
 * entry points for every transport (see address.ts).
 */
import { Connection, resolveConnectionOptions, type ConnectionOptions, type ResolvedConnectionOptions } from './connection.js';
import { BurstLog, defaultConnectionsMax, processInboundBudget } from './inbound-limits.js';
import { errorFields } from '../common/logger.js';
import type { MessageTable } from './messages.js';
import { connectTransport, listenTransport, type TlsOptions } from './transport.js';

export interface ListenOptions<T extends MessageTable<any>> extends ConnectionOptions<T> {
  /** Called for each accepted connection (set a message handler or serve RPC on it here). */
  readonly onConnection: (connection: Connection<T>) => void;
  /** Certificate, key and (for mutual TLS) CA + requestClientCert, for tls:// addresses. */
  readonly tls?: TlsOptions;
  /**
   * Connections held at once; further ones are closed at once and logged
   * (default: defaultConnectionsMax(), half of the soft fd limit less a
   * reserve for storage, so two listeners and the WAL fit).
   */
  readonly connectionsMax?: number;
  readonly backlog?: number;
}

export interface Listener<T extends MessageTable<any>> {
  /** The bound address, e.g. `tcp://127.0.0.1:43817` after listening on port 0. */
  readonly address: string;
  /** The open connections (for stats and shutdown). */
  readonly connections: ReadonlySet<Connection<T>>;
  /**
   * Stop accepting and close every connection gracefully (each waits at most
   * `closeTimeoutMs` for its peer); resolves when all are closed.
   */
  close(): Promise<void>;
}

export async function listen<T extends MessageTable<any> = MessageTable<{}>>(
  address: string,
  options: ListenOptions<T>,
): Promise<Listener<T>> {
  const base = resolveConnectionOptions({ ...options, inboundBudget: options.inboundBudget ?? processInboundBudget });
  const { logger, clock } = base;
  const resolved: ResolvedConnectionOptions<T> = {
    ...base,
    boundsLogs: {
      idle: new BurstLog(logger, clock, 'closing idle connections (idleTimeoutMs)'),
      handshake: new BurstLog(logger, clock, 'closing connections that did not complete their handshake (handshakeTimeoutMs)'),
      slow: new BurstLog(logger, clock, 'dropping connections whose frame arrives too slowly (receiveRateMinBytesPerSec)'),
      budget: new BurstLog(logger, clock, 'dropping connections: partial inbound frames exceed the process budget (partialFrameBytesMax)'),
    },
  };
  const connections = new Set<Connection<T>>();
  const connectionsMax = options.connectionsMax ?? defaultConnectionsMax();
  const refusedLog = new BurstLog(logger, clock, 'refusing connections: connectionsMax reached');
  const fdLog = new BurstLog(logger, clock, 'accept failed: out of file descriptors (EMFILE/ENFILE); refusing connections for a while');
  // After EMFILE/ENFILE: refuse (close at once) what is accepted until then, doubling up to acceptBackoffMaxMs.
  let refuseUntilMs = -Infinity;
  let backoffMs = 0;
  let closing = false;
  const transport = await listenTransport(
    address,
    {
      tls: options.tls,
      backlog: options.backlog,
      handshakeTimeoutMs: resolved.handshakeTimeoutMs,
      onAcceptError: (error, remoteAddress) =>
        resolved.logger.warn({ remoteAddress, err: errorFields(error) }, 'connection failed before it was established'),
      onListenerError: (error) => {
        if (error.code === 'EMFILE' || error.code === 'ENFILE') {
          // Transient: the process is out of descriptors. Never fatal, and it never reaches storage: the cap
          // normally keeps connections below the limit; this is the backstop.
          backoffMs = Math.min(acceptBackoffMaxMs, Math.max(acceptBackoffMinMs, backoffMs * 2));
          refuseUntilMs = clock.monotonicMs() + backoffMs;
          fdLog.event({ address, code: error.code, connections: connections.size, backoffMs });
        } else {
          logger.error({ address, err: errorFields(error) }, 'listener error');
        }
      },
    },
    (socket, remoteAddress) => {
      if (closing) {
        socket.destroy();
        return;
      }
      if (connections.size >= connectionsMax) {
        refusedLog.event({ remoteAddress, connectionsMax });
        socket.destroy();
        return;
      }
      if (refuseUntilMs > -Infinity) {
        if (clock.monotonicMs() < refuseUntilMs) {
          socket.destroy();
          return;
        }
        refuseUntilMs = -Infinity;
        backoffMs = 0;
      }
      const connection = new Connection<T>(socket, remoteAddress, resolved);
      connections.add(connection);
      connection.onClose(() => connections.delete(connection));
      try {
        options.onConnection(connection);
      } catch (error) {
        resolved.logger.error({ remoteAddress, err: errorFields(error) }, 'onConnection threw');
        connection.destroy(error as Error);
      }
    },
  );
  // One sweep per listener (not a timer per connection) enforces the handshake timeout and the minimum rate.
  const sweepMs = sweepIntervalMs(resolved);
  const sweeper =
    sweepMs === 0
      ? undefined
      : clock.setRepeating(
          sweepMs,
          () => {
            const now = clock.monotonicMs();
            for (const connection of connections) connection.checkBounds(now);
          },
          { keepsProcessAlive: false },
        );
  return {
    address: transport.address,
    connections,
    async close() {
      closing = true;
      sweeper?.cancel();
      const stopped = transport.close();
      await Promise.all([...connections].map((c) => c.close()));
      await stopped;
    },
  };
}

const acceptBackoffMinMs = 100;
const acceptBackoffMaxMs = 5000;

/** How often the sweep runs: a quarter of the shortest bound it enforces, within [50 ms, 1 s]; 0 when none is set. */
function sweepIntervalMs(o: ResolvedConnectionOptions<any>): number {
  const bounds = [o.handshakeTimeoutMs, o.receiveRateMinBytesPerSec > 0 ? o.receiveRateGraceMs : 0].filter((ms) => ms > 0);
  if (bounds.length === 0) return 0;
  return Math.min(1000, Math.max(50, Math.floor(Math.min(...bounds) / 4)));
}

export interface ConnectOptions<T extends MessageTable<any>> extends ConnectionOptions<T> {
  /** For tls:// addresses: CA to trust, and cert + key for mutual TLS. */
  readonly tls?: TlsOptions;
  /** Give up connecting after this long (NetTimeoutError). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** Open a connection; rejects with ConnectError, NetTimeoutError or NetAbortedError. */
export async function connect<T extends MessageTable<any> = MessageTable<{}>>(
  address: string,
  options: ConnectOptions<T> = {},
): Promise<Connection<T>> {
  const socket = await connectTransport(address, { tls: options.tls, timeoutMs: options.timeoutMs, signal: options.signal, clock: options.clock });
  return new Connection<T>(socket, address, resolveConnectionOptions(options));
}
