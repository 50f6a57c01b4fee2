/**
 * Redis Cluster, emulated (`--resp-cluster emulated`): a Concord cluster
 * presents itself to cluster-aware clients (ioredis `Cluster`, node-redis
 * `createCluster`, `redis-cli -c`) as one shard that owns every slot, with the
 * Raft leader as its master and the other members as its replicas.
 *
 * - CLUSTER SLOTS | SHARDS | NODES | INFO | MYID | KEYSLOT describe that shard.
 * - A command with keys sent to a follower answers `-MOVED <slot> <leader>`
 *   (the leader's RESP address, learned from its peer hellos), so the client
 *   sends it to the leader itself instead of through a forward. After
 *   READONLY, a follower serves the reads itself: the read path is a
 *   linearizable ReadIndex read, not a replica's stale one. Commands without
 *   keys are served where they arrive, as in Redis.
 * - No leader known (an election), or no RESP address for it: no MOVED (it
 *   could only point at a member that does not lead); the command takes the
 *   ordinary path, which waits for a leader until its deadline and then
 *   answers TRYAGAIN.
 *
 * Without the option, CLUSTER, READONLY and READWRITE answer as a Redis with
 * cluster support disabled.
 */
import { createRequire } from 'node:module';
import { type CommandLookup, type CommandTable, type ConnectionState, reply, type Reply } from '../resp/index.js';

/** Redis's slot of a key: CRC16 (XMODEM) of the key, or of its `{hash tag}`, mod 16384 (cluster-key-slot is the one ioredis uses). */
export const keySlot = createRequire(import.meta.url)('cluster-key-slot') as (key: Uint8Array | string) => number;

export const SLOTS_COUNT = 16_384;

export const CLUSTER_DISABLED_TEXT = 'ERR This instance has cluster support disabled';

/** One member as the cluster commands show it. */
export interface ClusterMemberView {
  readonly name: string;
  /** Its Redis node ID: 40 hex digits, stable for the member. */
  readonly nodeId: string;
  /** Its RESP URL (`tcp://h:p`, `tls://h:p`, `unix://...`), null until it announced one. */
  readonly respUrl: string | null;
  readonly peerUrl: string;
  /** Whether this member reaches it now (always true for itself). */
  readonly reachable: boolean;
}

/** What the cluster commands read from the member: who leads, who the members are. */
export interface ClusterTopology {
  /** This member's name. */
  readonly self: string;
  /** The leader as this member knows it (itself when it leads), null during an election. */
  leaderId(): string | null;
  members(): readonly ClusterMemberView[];
}

interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** `host:port` of a tcp:// or tls:// URL (IPv6 without brackets, as Redis prints it); null for unix:// (a MOVED cannot name a path). */
export function endpointOf(url: string | null): Endpoint | null {
  const match = url === null ? null : /^(?:tcp|tls):\/\/\[?([^\]]+?)\]?:(\d+)\/?$/.exec(url);
  return match === null ? null : { host: match[1]!, port: Number(match[2]) };
}

interface Shard {
  /** The leader, when it is known and has a RESP address. */
  readonly master: (ClusterMemberView & Endpoint) | null;
  /** Every other member with a RESP address. */
  readonly replicas: readonly (ClusterMemberView & Endpoint)[];
  readonly all: readonly ClusterMemberView[];
  /** This member. */
  readonly self: ClusterMemberView | undefined;
}

function shardOf(topology: ClusterTopology): Shard {
  const leader = topology.leaderId();
  let master: (ClusterMemberView & Endpoint) | null = null;
  const replicas: (ClusterMemberView & Endpoint)[] = [];
  const all = topology.members();
  for (const m of all) {
    const endpoint = endpointOf(m.respUrl);
    if (endpoint === null) continue;
    if (m.name === leader) master = { ...m, ...endpoint };
    else replicas.push({ ...m, ...endpoint });
  }
  return { master, replicas, all, self: all.find((m) => m.name === topology.self) };
}

function busPortOf(peerUrl: string): number {
  return endpointOf(peerUrl)?.port ?? 0;
}

function slotsReply(shard: Shard): Reply {
  const { master } = shard;
  if (master === null) return reply.array([]);
  const node = (m: ClusterMemberView & Endpoint): Reply => reply.array([reply.bulk(m.host), reply.integer(m.port), reply.bulk(m.nodeId), reply.map([])]);
  // Redis leaves failed replicas out of CLUSTER SLOTS.
  return reply.array([reply.array([reply.integer(0), reply.integer(SLOTS_COUNT - 1), node(master), ...shard.replicas.filter((r) => r.reachable).map(node)])]);
}

function shardsReply(shard: Shard): Reply {
  const node = (m: ClusterMemberView & Endpoint, role: string): Reply =>
    reply.map([
      [reply.bulk('id'), reply.bulk(m.nodeId)],
      [reply.bulk('port'), reply.integer(m.port)],
      [reply.bulk('ip'), reply.bulk(m.host)],
      [reply.bulk('endpoint'), reply.bulk(m.host)],
      [reply.bulk('role'), reply.bulk(role)],
      [reply.bulk('replication-offset'), reply.integer(0)],
      [reply.bulk('health'), reply.bulk(m.reachable ? 'online' : 'failed')],
    ]);
  const slots = shard.master === null ? [] : [reply.integer(0), reply.integer(SLOTS_COUNT - 1)];
  const nodes = [...(shard.master === null ? [] : [node(shard.master, 'master')]), ...shard.replicas.map((r) => node(r, shard.master === null ? 'master' : 'replica'))];
  return reply.array([reply.map([[reply.bulk('slots'), reply.array(slots)], [reply.bulk('nodes'), reply.array(nodes)]])]);
}

/** CLUSTER NODES: one line per member, Redis's format (`<id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link> <slots>`). */
function nodesText(shard: Shard): string {
  const { master } = shard;
  return shard.all
    .map((m) => {
      const endpoint = endpointOf(m.respUrl);
      const isMaster = master !== null && m.name === master.name;
      const flags = [...(m === shard.self ? ['myself'] : []), isMaster || master === null ? 'master' : 'slave', ...(m.reachable ? [] : ['fail']), ...(endpoint === null ? ['noaddr'] : [])].join(',');
      const address = endpoint === null ? ':0@0' : `${endpoint.host}:${endpoint.port}@${busPortOf(m.peerUrl)}`;
      const masterId = isMaster || master === null ? '-' : master.nodeId;
      return `${m.nodeId} ${address} ${flags} ${masterId} 0 0 0 ${m.reachable ? 'connected' : 'disconnected'}${isMaster ? ` 0-${SLOTS_COUNT - 1}` : ''}\n`;
    })
    .join('');
}

function infoText(shard: Shard): string {
  const ok = shard.master !== null;
  return [
    `cluster_state:${ok ? 'ok' : 'fail'}`,
    `cluster_slots_assigned:${ok ? SLOTS_COUNT : 0}`,
    `cluster_slots_ok:${ok ? SLOTS_COUNT : 0}`,
    'cluster_slots_pfail:0',
    'cluster_slots_fail:0',
    `cluster_known_nodes:${shard.all.length}`,
    `cluster_size:${ok ? 1 : 0}`,
    'cluster_current_epoch:0',
    'cluster_my_epoch:0',
    'cluster_stats_messages_sent:0',
    'cluster_stats_messages_received:0',
    'total_cluster_links_buffer_limit_exceeded:0',
  ]
    .map((l) => l + '\r\n')
    .join('');
}

/**
 * The MOVED check, as Redis's processCommand makes it: a command with keys,
 * on a member that does not lead, unless it is a read on a READONLY
 * connection. Installed before MULTI's interceptor, so a MOVED inside MULTI
 * fails the transaction (EXECABORT), as in Redis.
 */
function redirect(topology: ClusterTopology, args: readonly Buffer[], connection: ConnectionState, found: CommandLookup): CommandLookup {
  // Redis checks authentication first: a connection not logged in gets NOAUTH from the driver, not a MOVED.
  if (found.kind !== 'found' || !connection.authenticated) return found;
  const { spec } = found.entry;
  if (spec.firstKey <= 0 || args.length <= spec.firstKey) return found;
  const leader = topology.leaderId();
  if (leader === null || leader === topology.self) return found;
  if (connection.replicaReads && !spec.flags.has('write')) return found;
  const target = endpointOf(topology.members().find((m) => m.name === leader)?.respUrl ?? null);
  if (target === null) return found;
  return { kind: 'rejected', reply: reply.error(`MOVED ${keySlot(args[spec.firstKey]!)} ${target.host}:${target.port}`) };
}

/**
 * Registers CLUSTER, READONLY, READWRITE and ASKING on `table`: emulated
 * when `topology` is given, else Redis's cluster-disabled answers. Call it
 * before the data commands register (their MULTI interceptor must come after
 * the MOVED check).
 */
export function registerClusterCommands(table: CommandTable, topology: ClusterTopology | null): CommandTable {
  if (topology === null) {
    const disabled = (): Reply => reply.error(CLUSTER_DISABLED_TEXT);
    return table.register('cluster', disabled).register('readonly', disabled).register('readwrite', disabled);
  }
  return table
    .intercept((args, connection, found) => redirect(topology, args, connection, found))
    .register('cluster|slots', () => slotsReply(shardOf(topology)))
    .register('cluster|shards', () => shardsReply(shardOf(topology)))
    .register('cluster|nodes', () => reply.bulk(nodesText(shardOf(topology))))
    .register('cluster|info', () => reply.bulk(infoText(shardOf(topology))))
    .register('cluster|myid', () => reply.bulk(shardOf(topology).self?.nodeId ?? ''))
    .register('cluster|keyslot', ({ args }) => reply.integer(keySlot(args[2]!)))
    .register('readonly', ({ connection }) => {
      connection.replicaReads = true;
      return reply.ok;
    })
    .register('readwrite', ({ connection }) => {
      connection.replicaReads = false;
      return reply.ok;
    })
    // One shard never migrates slots: ASKING has nothing to change.
    .register('asking', () => reply.ok);
}
