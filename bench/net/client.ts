/**
 * Benchmark load process (forked by main.ts, one per transport and mode, kept
 * for all that pair's cases so that later cases run on JIT-warm code): for
 * each 'run' message, keeps `inflight` echo requests in flight on each of
 * `connections` connections (closed loop) and reports ops/s and round-trip
 * percentiles for the measured window.
 */
import net from 'node:net';
import { connect, RpcClient } from '../../src/net/index.js';
import { echoMethods, Mode, percentile, RawFrameReader, type LoadConfig, type LoadResult } from './protocol.js';

let config: LoadConfig;
/**
 * Latency samples: a uniform systematic sample of at most 64 Ki round trips
 * (every op until full, then every 2nd, 4th, ...). Keeping every sample would
 * need a 32 MB array, and a large live ArrayBuffer made V8 collect garbage far
 * more often in the allocating (RPC) client than in the raw one, skewing the
 * comparison.
 */
const samplesMax = 65536;
const latencies = new Float64Array(samplesMax);
let samples = 0;
let sampleStride = 1;
let measuredOps = 0;
let measuring = false;
let stopped = false;
let measureStart = 0;

const now = () => performance.now();
function record(startMs: number): void {
  if (!measuring) return;
  if (measuredOps++ % sampleStride !== 0) return;
  if (samples === samplesMax) {
    for (let i = 0; i < samplesMax / 2; i++) latencies[i] = latencies[2 * i]!;
    samples = samplesMax / 2;
    sampleStride *= 2;
    if ((measuredOps - 1) % sampleStride !== 0) return;
  }
  latencies[samples++] = (now() - startMs) * 1000;
}

async function runRpc(): Promise<void> {
  const payload = Buffer.alloc(config.payloadBytes, 0x5a);
  const clients = await Promise.all(
    Array.from({ length: config.connections }, async () => new RpcClient(await connect(config.address), echoMethods, { timeoutMs: 30_000 })),
  );
  const loops: Promise<void>[] = [];
  for (const client of clients) {
    for (let k = 0; k < config.inflight; k++) {
      loops.push(
        (async () => {
          while (!stopped) {
            const start = now();
            await client.call('echo', payload);
            record(start);
          }
        })(),
      );
    }
  }
  await measure();
  await Promise.all(loops);
  await Promise.all(clients.map((c) => c.connection.close()));
}

async function runRaw(): Promise<void> {
  const frame = Buffer.alloc(4 + config.payloadBytes, 0x5a);
  frame.writeUInt32BE(config.payloadBytes, 0);
  const path = config.address.startsWith('unix://') ? config.address.slice('unix://'.length) : undefined;
  const hostPort = /^tcp:\/\/(.*):(\d+)$/.exec(config.address);
  const sockets = await Promise.all(
    Array.from(
      { length: config.connections },
      () =>
        new Promise<net.Socket>((resolve, reject) => {
          const socket = path ? net.connect({ path }) : net.connect({ host: hostPort![1], port: Number(hostPort![2]), noDelay: true });
          socket.once('connect', () => resolve(socket));
          socket.once('error', reject);
        }),
    ),
  );
  let outstanding = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));
  for (const socket of sockets) {
    const sendTimes = new Float64Array(config.inflight);
    let head = 0;
    let tail = 0;
    const sendOne = () => {
      sendTimes[tail] = now();
      tail = (tail + 1) % config.inflight;
      outstanding++;
      socket.write(frame);
    };
    const reader = new RawFrameReader(() => {
      const start = sendTimes[head]!;
      head = (head + 1) % config.inflight;
      outstanding--;
      record(start);
      if (!stopped) sendOne();
      else if (outstanding === 0) finish();
    });
    socket.on('data', (chunk: Buffer) => {
      socket.cork();
      reader.push(chunk);
      socket.uncork();
    });
    socket.on('error', () => {});
    socket.cork();
    for (let k = 0; k < config.inflight; k++) sendOne();
    socket.uncork();
  }
  await measure();
  if (outstanding > 0) await finished;
  for (const socket of sockets) socket.destroy();
}

async function measure(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, config.warmupMs));
  measuring = true;
  measureStart = now();
  const cpuStart = process.cpuUsage();
  await new Promise((resolve) => setTimeout(resolve, config.durationMs));
  measuring = false;
  const seconds = (now() - measureStart) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  stopped = true;
  const sorted = latencies.subarray(0, samples).sort();
  const result: LoadResult = { ops: measuredOps, seconds, p50Us: percentile(sorted, 0.5), p99Us: percentile(sorted, 0.99), cpuUs: cpu.user + cpu.system };
  process.send!({ type: 'result', result });
}

process.on('message', (message: { type: string; config: LoadConfig }) => {
  if (message.type !== 'run') return;
  config = message.config;
  samples = 0;
  sampleStride = 1;
  measuredOps = 0;
  measuring = false;
  stopped = false;
  void (config.mode === Mode.Rpc ? runRpc() : runRaw()).then(() => process.send!({ type: 'done' }));
});
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'ready' });
