/**
 * A tiny RESP server for tests: the protocol layer's connection commands plus GET/SET/DEL from a
 * Map, so real Redis clients (ioredis, node-redis, redis-cli) can be tried against the protocol
 * layer before the command layer exists. Loopback only.
 */
import type { AddressInfo, Socket } from 'node:net';
import { connectionCommandTable, createRespServer, defaultIdentity, reply, type ConnectionServices, type RespLimits } from '../../src/resp/index.js';

export interface TestServer {
  readonly port: number;
  readonly store: Map<string, Buffer>;
  /** GET handler calls so far (to see dispatch stop under backpressure). */
  readonly getCalls: () => number;
  /** The protocol version of each open connection. */
  readonly protocols: () => number[];
  close(): Promise<void>;
}

export async function startTestServer(options: { services?: Partial<ConnectionServices>; limits?: RespLimits } = {}): Promise<TestServer> {
  const store = new Map<string, Buffer>();
  let getCalls = 0;
  const table = connectionCommandTable()
    .register('get', ({ args }) => {
      getCalls++;
      return reply.bulkOrNull(store.get(args[1]!.toString('latin1')));
    })
    .register('set', ({ args }) => {
      if (args.length !== 3) return reply.error('ERR syntax error');
      store.set(args[1]!.toString('latin1'), args[2]!);
      return reply.ok;
    })
    // ioredis's ready check reads `loading:` from INFO (Redis answers RESP3 with a verbatim string).
    .register('info', () => reply.verbatim('# Server\r\nredis_version:7.0.15\r\n\r\n# Persistence\r\nloading:0\r\n'))
    .register('del', ({ args }) => reply.integer(args.slice(1).filter((k) => store.delete(k.toString('latin1'))).length));
  const services: ConnectionServices = { identity: defaultIdentity, authRequired: false, ...options.services };
  const server = createRespServer({ table, services, ...(options.limits ? { limits: options.limits } : {}) });
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    store,
    getCalls: () => getCalls,
    protocols: () => [...server.connections].map((c) => c.state.protocol),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
