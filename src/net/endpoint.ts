/**
 * `listen(address, options)` and `connect(address, options)`: one pair of
 * entry points for every transport (see address.ts).
 */
import { Connection, resolveConnectionOptions, type ConnectionOptions } from './connection.js';
import { errorFields } from '../common/logger.js';
import type { MessageTable } from './messages.js';
import { connectTransport, listenTransport, type TlsOptions } from './transport.js';

export interface ListenOptions<T extends MessageTable<any>> extends ConnectionOptions<T> {
  /** Called for each accepted connection (set a message handler or serve RPC on it here). */
  readonly onConnection: (connection: Connection<T>) => void;
  /** Certificate, key and (for mutual TLS) CA + requestClientCert, for tls:// addresses. */
  readonly tls?: TlsOptions;
  /** Connections held at once; further ones are closed at once and logged (default 100,000). */
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
  const resolved = resolveConnectionOptions(options);
  const connections = new Set<Connection<T>>();
  const connectionsMax = options.connectionsMax ?? 100_000;
  let closing = false;
  const transport = await listenTransport(
    address,
    {
      tls: options.tls,
      backlog: options.backlog,
      onAcceptError: (error, remoteAddress) =>
        resolved.logger.warn({ remoteAddress, err: errorFields(error) }, 'connection failed before it was established'),
    },
    (socket, remoteAddress) => {
      if (closing || connections.size >= connectionsMax) {
        if (!closing) resolved.logger.warn({ remoteAddress, connectionsMax }, 'refusing connection: connectionsMax reached');
        socket.destroy();
        return;
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
  return {
    address: transport.address,
    connections,
    async close() {
      closing = true;
      const stopped = transport.close();
      await Promise.all([...connections].map((c) => c.close()));
      await stopped;
    },
  };
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
