/**
 * The Redis front end of a member (--resp-url): RESP connections whose
 * commands run through the same ClientService handlers as client-protocol
 * requests (validation, auth checks, forwarding to the leader, ReadIndex).
 * Each RESP connection acts as one client connection (its own principal) and
 * has an implicit Concord session (src/redis/connection-session.ts).
 */
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { unlinkSync } from 'node:fs';
import type { Clock } from '../common/clock.js';
import type { RandomSource } from '../common/rng.js';
import { crc32c } from '../kv/crc32c.js';
import { parseAddress, type Connection, type TlsOptions } from '../net/index.js';
import { attachRespSocket, AuthOutcome, connectionCommandTable, defaultIdentity, respLimits, type ConnectionServices, type RespConnection, type RespLimits } from '../resp/index.js';
import { ConcordErrorCode } from '../common/error-codes.js';
import { RedisCommands, registerClusterCommands, registerServerCommands, type ClusterTopology, type KvCall, type KvMethod, type RedisBackend } from '../redis/index.js';
import type { ClientService, RequestContext } from './kv-service.js';
import type { Logger } from './logger.js';

export interface RespListenerOptions {
  readonly url: string;
  readonly service: ClientService;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly memberName: string;
  readonly isLeader: () => boolean;
  readonly requestTimeoutMs: number;
  readonly keyBytesMax: number;
  readonly valueBytesMax: number;
  /** Whether Concord auth is enabled now (RESP connections must then AUTH as a Concord user). */
  readonly authEnabled: () => boolean;
  /** This member's view of the entry clock (key TTLs are on it). */
  readonly entryTimeMs: () => number;
  /** The local state machine's key count and keys with a TTL (INFO keyspace). */
  readonly keyspace: () => { readonly keys: number; readonly expires: number };
  readonly tls?: TlsOptions;
  readonly logger: Logger;
  /** --resp-cluster emulated: who leads and the members' RESP URLs (src/redis/cluster-commands.ts); absent: cluster support disabled. */
  readonly cluster?: ClusterTopology;
}

export interface RespListener {
  /** `tcp://host:port` (the real port when configured with 0), `unix://path` or `tls://host:port`. */
  readonly address: string;
  readonly connections: ReadonlySet<RespConnection>;
  close(): Promise<void>;
}

/**
 * The emulated Redis Cluster's view of this member (--resp-cluster emulated):
 * the leader from Raft, the members and their RESP URLs from the peer hellos.
 * A member that believes it leads but may not serve (its disk failed) names
 * no leader: no MOVED then points at it.
 */
export function respClusterTopology(
  self: string,
  host: { leaderId(): string | null; isLeader(): boolean },
  peers: { members(): readonly { name: string; peerUrl: string }[]; respUrlOf(name: string): string | null; isReachable(name: string): boolean },
): ClusterTopology {
  return {
    self,
    leaderId: () => {
      const leader = host.leaderId();
      return leader === self && !host.isLeader() ? null : leader;
    },
    members: () =>
      peers.members().map((m) => ({ name: m.name, nodeId: redisNodeId(m.name), peerUrl: m.peerUrl, respUrl: peers.respUrlOf(m.name), reachable: m.name === self || peers.isReachable(m.name) })),
  };
}

/**
 * A member's Redis node ID (CLUSTER NODES, MYID): 40 hex digits as Redis's,
 * the same on every member and across restarts: five CRC-32Cs of the name
 * (a checksum, not a secret: IDs need only tell members apart).
 */
export function redisNodeId(name: string): string {
  return [0, 1, 2, 3, 4].map((i) => crc32c(Buffer.from(`${i}:${name}`)).toString(16).padStart(8, '0')).join('');
}

/** Pause between retries of a command that found no leader (a fraction of an election). */
const RETRY_DELAY_MS = 50;

export async function listenResp(options: RespListenerOptions): Promise<RespListener> {
  const parsed = parseAddress(options.url);
  const backend: RedisBackend = {
    clock: options.clock,
    random: options.random,
    requestTimeoutMs: options.requestTimeoutMs,
    retryDelayMs: RETRY_DELAY_MS,
    memberName: options.memberName,
    isLeader: options.isLeader,
    valueBytesMax: options.valueBytesMax,
    keyspace: options.keyspace,
    entryTimeMs: options.entryTimeMs,
    connect: (connectionId): KvCall => {
      const context = contextOf(connectionId);
      return ((method: KvMethod, request: unknown) => handlers[method](request, context)) as KvCall;
    },
  };
  const handlers = options.service.handlers as unknown as Record<KvMethod | 'auth.authenticate', (request: unknown, context: RequestContext) => Promise<unknown>>;
  // The principal (AUTH) is keyed by the client connection object: one per RESP connection, kept while it is open.
  const contexts = new Map<number, RequestContext>();
  const contextOf = (connectionId: number): RequestContext => {
    let context = contexts.get(connectionId);
    if (context === undefined) {
      context = { forwarded: false, connection: { peerIdentity: null } as unknown as Connection<any> };
      contexts.set(connectionId, context);
    }
    return context;
  };
  const services: ConnectionServices = {
    identity: { ...defaultIdentity, mode: options.cluster === undefined ? 'standalone' : 'cluster', role: () => (options.isLeader() ? 'master' : 'replica') },
    get authRequired() {
      return options.authEnabled();
    },
    // AUTH [user] password and HELLO AUTH: Concord's auth.authenticate, for this connection's principal.
    authenticate: async (user, password, connection) => {
      try {
        await handlers['auth.authenticate']({ user, password: password.toString('utf8') }, contextOf(connection.id));
        return AuthOutcome.ok;
      } catch (error) {
        if ((error as { code?: unknown }).code === ConcordErrorCode.AuthenticationFailed) return AuthOutcome.wrongPassword;
        throw error;
      }
    },
  };
  const commands = new RedisCommands(backend);
  const connections = new Set<RespConnection>();
  let address = options.url;
  // The cluster commands first: their MOVED check comes before MULTI's queueing (cluster-commands.ts).
  const table = registerServerCommands(commands.register(registerClusterCommands(connectionCommandTable(), options.cluster ?? null)), {
    backend,
    commands,
    address: () => address,
    connections: () => [...connections].map((c) => c.state),
    startedAtMs: options.clock.nowMs(),
    clusterEnabled: options.cluster !== undefined,
  });
  // A value larger than a proposal can carry fails at the protocol layer, before any work.
  const limits: RespLimits = respLimits({
    bulkLengthBytesMax: Math.max(options.valueBytesMax, options.keyBytesMax),
    queryBufferBytesMax: 64 * 1024 * 1024 + 2 * options.valueBytesMax,
  });
  let nextId = 1;
  const sockets = new Set<Socket>();
  const onSocket = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const connection = attachRespSocket(socket, nextId++, {
      table,
      services,
      limits,
      onHandlerError: (error, command) => options.logger.warn({ err: error, command }, 'RESP command failed'),
      onClose: (c) => {
        connections.delete(c);
        commands.closeConnection(c.state.id);
        contexts.delete(c.state.id);
      },
    });
    connections.add(connection);
  };
  const server: Server =
    parsed.transport === 'tls'
      ? createTlsServer(
          {
            cert: options.tls?.cert,
            key: options.tls?.key,
            ...(options.tls?.ca !== undefined ? { ca: options.tls.ca } : {}),
            requestCert: options.tls?.requestClientCert === true,
            rejectUnauthorized: options.tls?.requestClientCert === true,
          },
          onSocket,
        )
      : createNetServer(onSocket);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (parsed.transport === 'unix') {
      try {
        unlinkSync(parsed.path);
      } catch {
        // No stale socket file: nothing to remove.
      }
      server.listen(parsed.path, () => resolve());
    } else if (parsed.transport === 'tcp' || parsed.transport === 'tls') {
      server.listen(parsed.port, parsed.host, () => resolve());
    } else {
      reject(new Error(`respUrl ${options.url}: expected tcp://, unix:// or tls://`));
    }
  });
  const bound = server.address();
  if (bound !== null && typeof bound === 'object') address = `${parsed.transport}://${bound.address.includes(':') ? `[${bound.address}]` : bound.address}:${bound.port}`;
  return {
    get address() {
      return address;
    },
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of connections) c.end();
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
