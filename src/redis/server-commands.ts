/**
 * Server introspection commands real clients send: INFO (ioredis's ready
 * check reads `loading:0`), COMMAND COUNT|INFO|DOCS|LIST (redis-cli's hints),
 * CONFIG GET/SET (harmless: nothing is configurable through RESP), ROLE,
 * TIME, WAIT, CLIENT LIST/INFO.
 */
import { type CommandCall, type CommandTable, type ConnectionState, redisCommandSpec, reply, type Reply } from '../resp/index.js';
import type { RedisBackend } from './backend.js';
import { RedisText, toRedisReply } from './redis-errors.js';
import type { RedisCommands } from './string-commands.js';
import { CommandStats } from './command-stats.js';

export interface ServerInfoSource {
  readonly backend: RedisBackend;
  readonly commands: RedisCommands;
  /** The RESP listener's address as `host:port` or a path (INFO server). */
  readonly address: () => string;
  /** The connections now open on this member (CLIENT LIST, INFO clients). */
  readonly connections: () => Iterable<ConnectionState>;
  readonly startedAtMs: number;
  /** `--resp-cluster emulated` (INFO's redis_mode and cluster_enabled). */
  readonly clusterEnabled?: boolean;
}

function clientLine(c: ConnectionState): string {
  return `id=${c.id} name=${c.name ?? ''} db=${c.db} user=${c.user} resp=${c.protocol} lib-name=${c.libName ?? ''} lib-ver=${c.libVersion ?? ''}`;
}

/** Redis omits the db line of an empty database. The counts are this member's (INFO is not a linearizable read). */
function keyspaceLines(backend: RedisBackend): string[] {
  const { keys, expires } = backend.keyspace();
  return keys === 0 ? [] : [`db0:keys=${keys},expires=${expires},avg_ttl=0`];
}

function commandInfo(name: string): Reply {
  const spec = redisCommandSpec(name);
  if (spec === undefined) return reply.null;
  return reply.array([
    reply.bulk(name),
    reply.integer(spec.arity),
    reply.set([...spec.flags].filter((f) => f !== 'barrier').map((f) => reply.simple(f))),
    reply.integer(spec.firstKey),
    reply.integer(spec.lastKey),
    reply.integer(spec.keyStep),
    reply.set([]),
    reply.set([]),
    reply.array([]),
    reply.array([]),
  ]);
}

/** INFO's sections that only `all` and `everything` (or their own names) include, as in Redis. */
const NOT_DEFAULT: ReadonlySet<string> = new Set(['commandstats', 'errorstats']);

export function registerServerCommands(table: CommandTable, source: ServerInfoSource): CommandTable {
  const { backend } = source;
  const stats = new CommandStats();
  stats.install(table);
  const topLevel = (): string[] => [...new Set(table.names().map((n) => n.split('|')[0]!))].sort();
  const info = async (call: CommandCall): Promise<Reply> => {
    try {
      const wanted = new Set(call.args.slice(1).map((a) => a.toString('latin1').toLowerCase()));
      const all = wanted.has('all') || wanted.has('everything');
      const defaults = wanted.size === 0 || wanted.has('default');
      const cpu = process.cpuUsage();
      const leader = backend.isLeader();
      const uptime = Math.floor((backend.clock.nowMs() - source.startedAtMs) / 1000);
      const sections: [string, string[]][] = [
        ['server', ['redis_version:7.0.15', `redis_mode:${source.clusterEnabled === true ? 'cluster' : 'standalone'}`, 'concord_member:' + backend.memberName, `tcp_port:${source.address().split(':').pop()}`, `uptime_in_seconds:${uptime}`, `uptime_in_days:${Math.floor(uptime / 86400)}`]],
        ['clients', [`connected_clients:${[...source.connections()].length}`, 'blocked_clients:0']],
        ['memory', ['used_memory:0', 'maxmemory:0', 'maxmemory_policy:noeviction']],
        ['persistence', ['loading:0', 'aof_enabled:1', 'rdb_bgsave_in_progress:0', 'aof_rewrite_in_progress:0']],
        ['stats', [`concord_sessions_open:${source.commands.openSessions}`]],
        ['replication', [`role:${leader ? 'master' : 'slave'}`, 'connected_slaves:0', 'master_repl_offset:0']],
        ['cpu', [`used_cpu_sys:${(cpu.system / 1e6).toFixed(6)}`, `used_cpu_user:${(cpu.user / 1e6).toFixed(6)}`, 'used_cpu_sys_children:0.000000', 'used_cpu_user_children:0.000000']],
        ['cluster', [`cluster_enabled:${source.clusterEnabled === true ? 1 : 0}`]],
        ['keyspace', keyspaceLines(backend)],
        ['commandstats', stats.commandLines()],
        ['errorstats', stats.errorLines()],
      ];
      const status = await source.commands.sessionOf(call.connection.id).read('cluster.status', {});
      const member = status.member as unknown as Record<string, unknown>;
      sections.push(['raft', [
        `raft_member:${backend.memberName}`,
        `raft_role:${leader ? 'leader' : 'follower'}`,
        `raft_leader:${status.header.leaderId ?? ''}`,
        `raft_revision:${status.header.revision}`,
        ...Object.entries(member).filter(([, v]) => typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean').map(([k, v]) => `raft_${k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())}:${String(v)}`),
        `raft_members:${status.members.length}`,
      ]]);
      const text = sections
        .filter(([name]) => all || wanted.has(name) || (defaults && !NOT_DEFAULT.has(name)))
        .map(([name, lines]) => `# ${name[0]!.toUpperCase()}${name.slice(1)}\r\n${lines.map((l) => l + '\r\n').join('')}`)
        .join('\r\n');
      return reply.bulk(text);
    } catch (error) {
      return toRedisReply(error);
    }
  };
  return table
    .register('info', info)
    .register('command|count', () => reply.integer(topLevel().length))
    .register('command|list', () => reply.array(topLevel().map((n) => reply.bulk(n))))
    .register('command|info', ({ args }) =>
      reply.array((args.length > 2 ? args.slice(2).map((a) => a.toString('latin1').toLowerCase()) : topLevel()).map((n) => (table.has(n) ? commandInfo(n) : reply.null))),
    )
    // Docs are optional for clients (redis-cli uses them for hints only): an empty map per the protocol.
    .register('command|docs', () => reply.map([]))
    .register('config|get', () => reply.map([]))
    .register('config|set', () => reply.ok)
    .register('config|resetstat', () => {
      stats.reset();
      return reply.ok;
    })
    // No functions exist (no scripting): flushing them is always done. Redis's test suite calls it in external mode.
    .register('function|flush', () => reply.ok)
    .register('role', () => (backend.isLeader() ? reply.array([reply.bulk('master'), reply.integer(0), reply.array([])]) : reply.array([reply.bulk('slave'), reply.bulk(''), reply.integer(0), reply.bulk('connected'), reply.integer(0)])))
    .register('time', () => {
      const us = BigInt(Math.floor(backend.clock.nowMs() * 1000));
      return reply.array([reply.bulk((us / 1_000_000n).toString()), reply.bulk((us % 1_000_000n).toString())]);
    })
    // A write is acknowledged only once a quorum has it: every replica that counts already has it.
    .register('wait', ({ args }) => {
      if (!/^\d+$/.test(args[1]!.toString('latin1')) || !/^\d+$/.test(args[2]!.toString('latin1'))) return reply.error(RedisText.notInteger);
      return reply.integer(Number(args[1]!.toString('latin1')));
    })
    .register('client|list', () => reply.bulk([...source.connections()].map((c) => clientLine(c) + '\n').join('')))
    .register('client|info', ({ connection }) => reply.bulk(clientLine(connection) + '\n'));
}
