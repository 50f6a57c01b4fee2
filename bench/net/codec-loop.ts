/**
 * CPU cost of one RPC through the layer's JavaScript, without sockets: an
 * RpcClient and an RpcServer in one process, their Connections joined by a
 * fake socket pair that hands each side's written chunks to the other (each
 * in its own right-sized buffer, as Node's reads are) once per event-loop
 * turn. Reports calls/s and CPU microseconds per call (both ends together),
 * for a bytes echo (the shape of bench:net's echo) and a kv-like call
 * (object request and response, as the product's protocol has): the codec's
 * share shows in the second. A quieter measure than the two-process
 * benchmark when the machine is shared (compare runs alternately).
 *
 *   node dist/bench/net/codec-loop.js [--shape bytes|kv] [--inflight 64] [--duration-ms 2000] [--json]
 *
 * On a busy machine, compare two builds with codec-ab.ts instead (both in one process, interleaved).
 */
import { Connection, resolveConnectionOptions } from '../../src/net/connection.js';
import { defineMethods, RpcClient, RpcServer, s } from '../../src/net/index.js';
import type { ByteSocket } from '../../src/net/transport.js';
import { deliver, LoopSocket } from './loop-socket.js';
import { parseArgs } from './protocol.js';

const args = parseArgs(process.argv.slice(2));
const shapes = args.has('shape') ? [args.get('shape')!] : ['bytes', 'kv'];
const inflight = Number(args.get('inflight') ?? 64);
const durationMs = Number(args.get('duration-ms') ?? 2000);
const warmupMs = 800;
const json = args.has('json');

const header = s.object({ memberName: s.string(), leaderId: s.nullable(s.string()), leaderClientUrl: s.nullable(s.string()), revision: s.uint() });
const methods = defineMethods({
  echo: { id: 1, request: s.bytes(), response: s.bytes() },
  put: {
    id: 2,
    request: s.object({
      key: s.bytes(),
      value: s.bytes(),
      session: s.object({ sessionId: s.uint(), seq: s.uint(), ackedSeq: s.uint() }),
      expectedVersion: s.optional(s.uint()),
    }),
    response: s.object({ header, revision: s.uint(), version: s.uint() }),
  },
});

async function run(shape: string): Promise<void> {
  const clientSocket = new LoopSocket();
  const serverSocket = new LoopSocket();
  const options = resolveConnectionOptions({});
  const clientConnection = new Connection(clientSocket as unknown as ByteSocket, 'loop://client', options);
  const serverConnection = new Connection(serverSocket as unknown as ByteSocket, 'loop://server', options);
  let revision = 1;
  new RpcServer(methods, {
    echo: async (request) => request,
    put: async () => ({
      header: { memberName: 'n1', leaderId: 'n1', leaderClientUrl: 'tcp://127.0.0.1:17001', revision },
      revision: revision++,
      version: 3,
    }),
  }).serve(serverConnection);
  const client = new RpcClient(clientConnection, methods, { timeoutMs: 30_000 });

  const payload = Buffer.alloc(64, 0x5a);
  let calls = 0;
  let stopped = false;
  const loops: Promise<void>[] = [];
  for (let k = 0; k < inflight; k++) {
    loops.push(
      (async () => {
        let seq = 0;
        while (!stopped) {
          if (shape === 'bytes') await client.call('echo', payload);
          else {
            seq++;
            await client.call('put', { key: payload.subarray(0, 16), value: payload, session: { sessionId: 7, seq, ackedSeq: seq - 1 } });
          }
          calls++;
        }
      })(),
    );
  }
  const pump = () => {
    deliver(clientSocket, serverSocket);
    deliver(serverSocket, clientSocket);
    if (!stopped) setImmediate(pump);
  };
  setImmediate(pump);

  await new Promise((resolve) => setTimeout(resolve, warmupMs));
  const callsBefore = calls;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  const cpu = process.cpuUsage(cpuBefore);
  const seconds = (performance.now() - started) / 1000;
  const measured = calls - callsBefore;
  stopped = true;
  pump(); // Deliver what is in flight so every loop ends.
  await new Promise((resolve) => setTimeout(resolve, 10));
  pump();
  const row = {
    case: 'codec-loop',
    shape,
    inflight,
    callsPerSec: Math.round(measured / seconds),
    cpuUsPerCall: Math.round(((cpu.user + cpu.system) / measured) * 1000) / 1000,
  };
  if (json) console.log(JSON.stringify(row));
  else console.log(`${row.shape.padEnd(6)} inflight ${row.inflight}  ${String(row.callsPerSec).padStart(9)} calls/s  ${row.cpuUsPerCall} CPU us/call`);
}

for (const shape of shapes) {
  if (shape !== 'bytes' && shape !== 'kv') throw new Error(`--shape must be bytes or kv, not ${shape}`);
  await run(shape);
}
process.exit(0);
