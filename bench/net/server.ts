/**
 * Benchmark server process (forked by main.ts): `--mode rpc` serves the echo
 * method with the networking layer; `--mode raw` echoes length-prefixed frames
 * with plain node:net (the baseline). Reports over the IPC channel; exits when
 * the parent goes away.
 */
import net from 'node:net';
import { unlinkSync } from 'node:fs';
import { listen, RpcServer } from '../../src/net/index.js';
import { echoMethods, Mode, parseArgs, RawFrameReader } from './protocol.js';

const args = parseArgs(process.argv.slice(2));
const mode = args.get('mode') as Mode;
const address = args.get('address')!;

function memory() {
  (globalThis as { gc?: () => void }).gc?.();
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external };
}

let connections = 0;
if (mode === Mode.Rpc) {
  // An echo has nothing to wait for, so it answers synchronously, as the raw echo does: a
  // handler may return its response or a promise of it (an async function would add a
  // promise and a microtask per call that are the handler's cost, not the layer's).
  const rpc = new RpcServer(echoMethods, { echo: (request) => request });
  const listener = await listen(address, {
    connectionsMax: 1_000_000,
    onConnection(connection) {
      connections++;
      connection.onClose(() => connections--);
      rpc.serve(connection);
    },
  });
  process.send!({ type: 'listening', address: listener.address });
} else {
  const path = address.startsWith('unix://') ? address.slice('unix://'.length) : undefined;
  const server = net.createServer({ noDelay: true }, (socket) => {
    connections++;
    const reader = new RawFrameReader((b, offset, length) => {
      socket.write(b.subarray(offset, offset + 4 + length));
    });
    socket.on('data', (chunk: Buffer) => {
      socket.cork();
      reader.push(chunk);
      socket.uncork();
    });
    socket.on('error', () => {});
    socket.on('close', () => connections--);
  });
  if (path) {
    try {
      unlinkSync(path);
    } catch {}
  }
  const hostPort = /^tcp:\/\/(.*):(\d+)$/.exec(address);
  server.listen(path ? { path, backlog: 4096 } : { host: hostPort![1], port: Number(hostPort![2]), backlog: 4096 }, () => {
    const bound = server.address();
    process.send!({
      type: 'listening',
      address: path ? address : `tcp://${hostPort![1]}:${typeof bound === 'object' && bound ? bound.port : 0}`,
    });
  });
}

process.on('message', (message: { type: string }) => {
  if (message.type === 'memory') process.send!({ type: 'memory', connections, ...memory() });
  if (message.type === 'cpu') {
    const cpu = process.cpuUsage();
    process.send!({ type: 'cpu', cpuUs: cpu.user + cpu.system });
  }
});
process.on('disconnect', () => process.exit(0));
