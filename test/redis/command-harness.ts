/**
 * The command layer over the in-memory member (fake-backend.ts), as the
 * command tests drive it: the full table (string, connection, cluster and
 * server commands), one connection's `exec`, and helpers to compare replies.
 */
import { connectionCommandTable, newConnectionState, defaultIdentity, type CommandTable, type ConnectionState, type Reply } from '../../src/resp/index.js';
import { RedisCommands, registerClusterCommands, registerServerCommands, type ClusterTopology } from '../../src/redis/index.js';
import { FakeKv } from './fake-backend.js';

/** `cluster`: --resp-cluster emulated with that topology (null: cluster support disabled), wired as resp-listener.ts wires it. */
export function setup(
  kv = new FakeKv(),
  cluster: ClusterTopology | null = null,
): { kv: FakeKv; commands: RedisCommands; table: CommandTable; state: ConnectionState; exec: (...args: string[]) => Promise<Reply> } {
  const commands = new RedisCommands(kv.backend());
  const table = registerServerCommands(commands.register(registerClusterCommands(connectionCommandTable(), cluster)), {
    backend: kv.backend(),
    commands,
    address: () => '127.0.0.1:6379',
    connections: () => [],
    startedAtMs: kv.clock.nowMs(),
    clusterEnabled: cluster !== null,
  });
  const state = newConnectionState(1, false);
  const exec = async (...args: string[]): Promise<Reply> => {
    const found = table.lookup(args.map((a) => Buffer.from(a)), state);
    if (found.kind !== 'found') return found.reply;
    return found.entry.handler({ args: args.map((a) => Buffer.from(a)), spec: found.entry.spec, connection: state, services: { identity: defaultIdentity, authRequired: false } });
  };
  return { kv, commands, table, state, exec };
}

export const bulk = (v: string) => ({ type: 'bulk', value: Buffer.from(v) });
export const int = (n: number) => ({ type: 'integer', value: BigInt(n) });
export const err = (message: string) => ({ type: 'error', message });
export const norm = (r: Reply): unknown => {
  if (r.type === 'bulk') return { type: 'bulk', value: Buffer.from(r.value as Uint8Array) };
  if (r.type === 'integer') return { type: 'integer', value: BigInt(r.value) };
  if (r.type === 'array') return { type: 'array', items: r.items.map(norm) };
  return r;
};

