/**
 * Opening byte streams for each transport: the only file that knows about
 * node:net, node:tls and the in-process mem:// registry. Everything above it
 * sees a `ByteSocket`.
 */
import net from 'node:net';
import tls from 'node:tls';
import { unlinkSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import type { Clock } from '../common/clock.js';
import { systemClock } from '../common/system-clock.js';
import { formatAddress, localSocketPath, parseAddress, type ParsedAddress } from './address.js';
import { NetAbortedError, ConnectError, InvalidAddressError, ListenError, NetTimeoutError } from './errors.js';
import { memConnect, memListen } from './mem-transport.js';

/** The parts of net.Socket a Connection uses; net.Socket, tls.TLSSocket and MemSocket all have them. */
export type ByteSocket = Duplex & {
  setTimeout(timeoutMs: number): unknown;
  setKeepAlive(enable?: boolean, initialDelayMs?: number): unknown;
  setNoDelay(noDelay?: boolean): unknown;
};

type PemData = string | Buffer | Array<string | Buffer>;

/** TLS material for tls:// addresses (PEM strings or buffers). */
export interface TlsOptions {
  /** This side's certificate chain (required on the server; on the client for mutual TLS). */
  readonly cert?: PemData;
  readonly key?: PemData;
  /** Trusted CAs that sign the peer's certificate (default: Node's bundled roots). */
  readonly ca?: PemData;
  /** Server only: demand and verify a client certificate signed by `ca` (mutual TLS). */
  readonly requestClientCert?: boolean;
  /** Verify the peer's certificate (default true). Turning it off is for tests only. */
  readonly rejectUnauthorized?: boolean;
  /** Client only: the name to verify in the server's certificate (default: the address's host). */
  readonly servername?: string;
}

export interface TransportListenOptions {
  readonly tls?: TlsOptions;
  readonly backlog?: number;
  /** Called for TLS handshake failures and other per-connection errors before a socket exists. */
  readonly onAcceptError?: (error: Error, remoteAddress: string) => void;
}

export interface TransportListener {
  /** The bound address (with the real port when listening on port 0). */
  readonly address: string;
  close(): Promise<void>;
}

export interface TransportConnectOptions {
  readonly tls?: TlsOptions;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Times `timeoutMs` (default: the system clock). */
  readonly clock?: Clock;
}

const backlogDefault = 4096;

export async function listenTransport(
  address: string,
  options: TransportListenOptions,
  onSocket: (socket: ByteSocket, remoteAddress: string) => void,
): Promise<TransportListener> {
  const parsed = parseAddress(address);
  if (parsed.transport === 'mem') {
    const handle = memListen(parsed.name, (socket) => onSocket(socket, socket.label));
    return { address: formatAddress(parsed), close: async () => handle.close() };
  }
  let server: net.Server;
  if (parsed.transport === 'tls') {
    const t = options.tls;
    if (!t?.cert || !t.key) throw new InvalidAddressError(address, 'tls:// needs tls.cert and tls.key to listen');
    server = tls.createServer({
      cert: t.cert,
      key: t.key,
      ca: t.ca,
      requestCert: t.requestClientCert ?? false,
      rejectUnauthorized: t.rejectUnauthorized ?? true,
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      socket.setNoDelay(true); // as for tcp://: our own write coalescing makes Nagle's delay pure latency
      onSocket(socket, remoteOf(parsed, socket));
    });
    server.on('tlsClientError', (error: Error, socket: tls.TLSSocket) => {
      options.onAcceptError?.(error, remoteOf(parsed, socket));
    });
  } else {
    server = net.createServer({ noDelay: true }, (socket) => onSocket(socket, remoteOf(parsed, socket)));
  }
  await bind(server, parsed, address, options.backlog ?? backlogDefault);
  const bound = server.address();
  const actual: ParsedAddress =
    parsed.transport !== 'unix' && bound !== null && typeof bound === 'object'
      ? { transport: parsed.transport, host: parsed.host, port: bound.port }
      : parsed;
  return {
    address: formatAddress(actual),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  };
}

function bind(server: net.Server, parsed: ParsedAddress, address: string, backlog: number): Promise<void> {
  const attempt = () =>
    new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      server.once('error', onError);
      const onListening = () => {
        server.off('error', onError);
        resolve();
      };
      if (parsed.transport === 'unix') server.listen({ path: localSocketPath(parsed.path), backlog }, onListening);
      else if (parsed.transport !== 'mem') server.listen({ host: parsed.host, port: parsed.port, backlog }, onListening);
    });
  return attempt().catch(async (error: NodeJS.ErrnoException) => {
    // A unix socket file left by a process that died: remove it if nobody answers on it.
    if (parsed.transport === 'unix' && error.code === 'EADDRINUSE' && process.platform !== 'win32' && (await isStale(parsed.path))) {
      try {
        unlinkSync(parsed.path);
        return await attempt();
      } catch (retryError) {
        throw new ListenError(address, (retryError as Error).message, { cause: retryError });
      }
    }
    throw new ListenError(address, error.message, { cause: error });
  });
}

function isStale(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(false);
    });
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

let unixPeerCount = 0;

function remoteOf(parsed: ParsedAddress, socket: net.Socket): string {
  // Unix sockets have no peer address: number the peers so log lines can be told apart.
  if (parsed.transport === 'unix') return `unix://${parsed.path}#${++unixPeerCount}`;
  const host = socket.remoteAddress ?? '?';
  return `${parsed.transport}://${host.includes(':') ? `[${host}]` : host}:${socket.remotePort ?? '?'}`;
}

export async function connectTransport(address: string, options: TransportConnectOptions): Promise<ByteSocket> {
  const parsed = parseAddress(address);
  if (options.signal?.aborted) throw new NetAbortedError(`connect to ${address} aborted`, { cause: options.signal.reason });
  if (parsed.transport === 'mem') return memConnect(parsed.name);
  return new Promise<ByteSocket>((resolve, reject) => {
    let socket: net.Socket;
    const readyEvent = parsed.transport === 'tls' ? 'secureConnect' : 'connect';
    if (parsed.transport === 'tls') {
      const t = options.tls ?? {};
      socket = tls.connect({
        host: parsed.host,
        port: parsed.port,
        ca: t.ca,
        cert: t.cert,
        key: t.key,
        servername: t.servername ?? (net.isIP(parsed.host) ? undefined : parsed.host),
        rejectUnauthorized: t.rejectUnauthorized ?? true,
      });
    } else if (parsed.transport === 'unix') {
      socket = net.connect({ path: localSocketPath(parsed.path) });
    } else {
      socket = net.connect({ host: parsed.host, port: parsed.port, noDelay: true });
    }
    const timer =
      options.timeoutMs !== undefined
        ? (options.clock ?? systemClock).setTimer(options.timeoutMs, () =>
            fail(new NetTimeoutError(`connect to ${address} timed out after ${options.timeoutMs} ms`)),
          )
        : undefined;
    const onAbort = () => fail(new NetAbortedError(`connect to ${address} aborted`, { cause: options.signal?.reason }));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = () => {
      timer?.cancel();
      options.signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off(readyEvent, onReady);
    };
    const fail = (error: Error) => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onError = (error: Error) => fail(new ConnectError(address, error.message, { cause: error }));
    const onReady = () => {
      cleanup();
      if (parsed.transport === 'tls') socket.setNoDelay(true);
      resolve(socket);
    };
    socket.once('error', onError);
    socket.once(readyEvent, onReady);
  });
}
