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
  /**
   * Client only: besides the host check, the server's verified certificate must
   * name this peer (its CN or one of its DNS SANs equals it, exactly; see
   * `certificateNames`), or the connection fails with ConnectError. Members
   * set it to the member they dial, so one member's certificate cannot stand
   * in for another's at a reused address.
   */
  readonly peerName?: string;
}

/**
 * Who the other end of a connection proved to be: the names in the
 * certificate it presented, verified against the trusted CAs. Only set on
 * tls:// connections whose peer certificate verified (mutual TLS on a
 * listener, every tls:// connection on the dialing side); null otherwise.
 */
export interface PeerIdentity {
  /** The subject's CN, or null when it has none (several CNs: the first). */
  readonly commonName: string | null;
  /** The DNS names among the subject alternative names. */
  readonly dnsNames: readonly string[];
}

/** True when the identity names `name` exactly (CN or a DNS SAN; no wildcards: a member name is an identity, not a host pattern). */
export function identityNames(identity: PeerIdentity | null, name: string): boolean {
  return identity !== null && name.length > 0 && (identity.commonName === name || identity.dnsNames.includes(name));
}

/** The verified peer identity of a socket (see PeerIdentity), or null. */
export function peerIdentityOf(socket: ByteSocket): PeerIdentity | null {
  if (!(socket instanceof tls.TLSSocket) || !socket.authorized) return null;
  const certificate = socket.getPeerCertificate();
  if (certificate === null || typeof certificate !== 'object' || Object.keys(certificate).length === 0) return null;
  const cn = (certificate.subject as Record<string, string | string[] | undefined> | undefined)?.['CN'];
  const commonName = typeof cn === 'string' ? cn : Array.isArray(cn) && typeof cn[0] === 'string' ? cn[0] : null;
  const dnsNames: string[] = [];
  for (const part of (certificate.subjectaltname ?? '').split(',')) {
    const item = part.trim();
    if (item.startsWith('DNS:')) dnsNames.push(item.slice(4));
  }
  return { commonName, dnsNames };
}

export interface TransportListenOptions {
  readonly tls?: TlsOptions;
  readonly backlog?: number;
  /** Called for TLS handshake failures and other per-connection errors before a socket exists. */
  readonly onAcceptError?: (error: Error, remoteAddress: string) => void;
  /** tls:// only: a TLS handshake not done within this long is dropped (Node's default is 120 s). */
  readonly handshakeTimeoutMs?: number;
  /** Errors of the listening socket itself after it is bound, e.g. EMFILE/ENFILE on accept (without it they would crash the process). */
  readonly onListenerError?: (error: NodeJS.ErrnoException) => void;
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
      ...(options.handshakeTimeoutMs !== undefined && options.handshakeTimeoutMs > 0 ? { handshakeTimeout: options.handshakeTimeoutMs } : {}),
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
  server.on('error', (error: NodeJS.ErrnoException) => options.onListenerError?.(error));
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
      if (parsed.transport === 'tls') {
        const peerName = options.tls?.peerName;
        if (peerName !== undefined && !identityNames(peerIdentityOf(socket), peerName)) {
          fail(new ConnectError(address, `the server's certificate does not name "${peerName}" (CN or DNS SAN)`));
          return;
        }
      }
      cleanup();
      if (parsed.transport === 'tls') socket.setNoDelay(true);
      resolve(socket);
    };
    socket.once('error', onError);
    socket.once(readyEvent, onReady);
  });
}
