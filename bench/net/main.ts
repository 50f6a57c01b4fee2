/**
 * Networking benchmark: RPC echo through src/net against a raw node:net
 * length-prefixed echo (the baseline), over tcp and unix, server and client in
 * separate processes.
 *
 *   npm run bench:net                       table, ~3 s per case
 *   npm run bench:net -- --quick            ~1 s per case (whole run < 1 min)
 *   npm run bench:net -- --json             one JSON object per line
 *   npm run bench:net -- --connections 10000   idle-connection memory case only
 *   (also --duration-ms N, --transport tcp|unix, --payload N)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mode, parseArgs, type LoadConfig, type LoadResult } from './protocol.js';

const args = parseArgs(process.argv.slice(2));
const json = args.has('json');
const quick = args.has('quick');
const idleConnections = args.has('connections') ? Number(args.get('connections')) : undefined;
const durationMs = Number(args.get('duration-ms') ?? (quick ? 600 : 3000));
const warmupMs = quick ? 200 : 500;
const transports = args.has('transport') ? [args.get('transport')!] : ['tcp', 'unix'];
const payloads = args.has('payload') ? [Number(args.get('payload'))] : [64, 1024, 65536];
const shapes: Array<[number, number]> = [
  [1, 1],
  [1, 64],
  [64, 16],
];

const here = new URL('.', import.meta.url);
const scratch = mkdtempSync(join(tmpdir(), 'concord-bench-net-'));
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill();
  rmSync(scratch, { recursive: true, force: true });
});

interface Row {
  case: string;
  transport: string;
  payloadBytes: number;
  connections: number;
  inflight: number;
  opsPerSec: number;
  mbPerSec: number;
  p50Us: number;
  p99Us: number;
  /** CPU microseconds per operation, client and server process (not part of the required fields). */
  clientCpuUsPerOp: number;
  serverCpuUsPerOp: number;
}

function spawn(script: string, argv: string[], execArgv: string[] = []): ChildProcess {
  const child = fork(new URL(script, here), argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

function nextMessage<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type: string }) => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(message as T);
    };
    const onExit = (code: number | null) => reject(new Error(`${type}: child exited with ${code}`));
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

async function startServer(mode: Mode, transport: string, execArgv: string[] = []): Promise<{ child: ChildProcess; address: string }> {
  const address = transport === 'unix' ? `unix://${join(scratch, `${mode}.sock`)}` : 'tcp://127.0.0.1:0';
  const child = spawn('server.js', ['--mode', mode, '--address', address], execArgv);
  const { address: bound } = await nextMessage<{ address: string }>(child, 'listening');
  return { child, address: bound };
}

async function serverCpu(child: ChildProcess): Promise<number> {
  child.send({ type: 'cpu' });
  return (await nextMessage<{ cpuUs: number }>(child, 'cpu')).cpuUs;
}

/**
 * A load process for one (transport, mode), warmed up (together with its
 * server) by an unmeasured run first: otherwise the first cases measure V8's
 * interpreter rather than optimized code, which hurts the bigger RPC path most.
 */
async function startLoader(mode: Mode, address: string): Promise<ChildProcess> {
  const child = spawn('client.js', []);
  await nextMessage(child, 'ready');
  await runLoad(child, { mode, address, payloadBytes: 64, connections: 1, inflight: 64, warmupMs: 0, durationMs: quick ? 700 : 2000 });
  return child;
}

async function runLoad(loader: ChildProcess, config: LoadConfig): Promise<LoadResult> {
  const done = nextMessage(loader, 'done');
  loader.send({ type: 'run', config });
  const { result } = await nextMessage<{ result: LoadResult }>(loader, 'result');
  await done;
  return result;
}

const columns: Array<[keyof Row, number]> = [
  ['case', 9],
  ['transport', 10],
  ['payloadBytes', 13],
  ['connections', 12],
  ['inflight', 9],
  ['opsPerSec', 11],
  ['mbPerSec', 10],
  ['p50Us', 10],
  ['p99Us', 10],
  ['clientCpuUsPerOp', 17],
  ['serverCpuUsPerOp', 17],
];

function print(row: Row, ratio?: number): void {
  if (json) {
    console.log(JSON.stringify(ratio === undefined ? row : { ...row, ratioToRaw: ratio }));
    return;
  }
  const cells = columns.map(([key, width]) => String(row[key]).padEnd(width));
  console.log(cells.join(' ') + (ratio === undefined ? '' : `x${ratio.toFixed(2)} of raw`));
}

async function throughput(): Promise<void> {
  if (!json) console.log(columns.map(([key, width]) => key.padEnd(width)).join(' '));
  const summary: string[] = [];
  for (const transport of transports) {
    const servers = {
      raw: await startServer(Mode.Raw, transport),
      rpc: await startServer(Mode.Rpc, transport),
    };
    const loaders = {
      raw: await startLoader(Mode.Raw, servers.raw.address),
      rpc: await startLoader(Mode.Rpc, servers.rpc.address),
    };
    for (const payloadBytes of payloads) {
      for (const [connections, inflight] of shapes) {
        const rows: Partial<Record<Mode, Row>> = {};
        for (const mode of [Mode.Raw, Mode.Rpc]) {
          const serverCpuBefore = await serverCpu(servers[mode].child);
          const result = await runLoad(loaders[mode], {
            mode,
            address: servers[mode].address,
            payloadBytes,
            connections,
            inflight,
            warmupMs,
            durationMs,
          });
          const serverCpuUs = (await serverCpu(servers[mode].child)) - serverCpuBefore;
          const opsPerSec = result.ops / result.seconds;
          const row: Row = {
            case: mode === Mode.Rpc ? 'rpc-echo' : 'raw-echo',
            transport,
            payloadBytes,
            connections,
            inflight,
            opsPerSec: Math.round(opsPerSec),
            mbPerSec: Math.round((opsPerSec * payloadBytes) / 1e5) / 10,
            p50Us: Math.round(result.p50Us * 10) / 10,
            p99Us: Math.round(result.p99Us * 10) / 10,
            clientCpuUsPerOp: Math.round((result.cpuUs / result.ops) * 100) / 100,
            // The server's CPU over the whole client run (connect + warmup + measure), per measured op: an upper bound.
            serverCpuUsPerOp: Math.round((serverCpuUs / result.ops) * 100) / 100,
          };
          rows[mode] = row;
          const ratio = mode === Mode.Rpc ? row.opsPerSec / rows.raw!.opsPerSec : undefined;
          print(row, ratio);
          if (ratio !== undefined && payloadBytes === 64 && connections === 1 && inflight === 64) {
            summary.push(`${transport} 64 B x64 in flight: rpc/raw = ${ratio.toFixed(2)} (target >= 0.70)`);
          }
        }
      }
    }
    for (const child of [servers.raw.child, servers.rpc.child, loaders.raw, loaders.rpc]) child.kill();
  }
  if (!json) for (const line of summary) console.log(line);
}

async function idle(total: number): Promise<void> {
  const server = await startServer(Mode.Rpc, 'tcp', ['--expose-gc']);
  const memory = () => {
    server.child.send({ type: 'memory' });
    return nextMessage<{ rss: number; heapUsed: number; connections: number }>(server.child, 'memory');
  };
  const base = await memory();
  // Several client processes: one process cannot hold both ends' descriptors within the open-file limit.
  const perProcess = 2500;
  const loaders: ChildProcess[] = [];
  for (let opened = 0; opened < total; opened += perProcess) {
    loaders.push(spawn('idle.js', [JSON.stringify({ address: server.address, connections: Math.min(perProcess, total - opened), parallel: 128 })]));
  }
  const started = performance.now();
  const opens = await Promise.all(loaders.map((l) => nextMessage<{ open: number; failed: number; firstError?: string }>(l, 'open')));
  const connectSeconds = (performance.now() - started) / 1000;
  const open = opens.reduce((n, o) => n + o.open, 0);
  // The server may still be accepting what the clients already see as open.
  let held = await memory();
  for (let waited = 0; held.connections < open && waited < 60_000; waited += 250) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    held = await memory();
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  held = await memory();
  const calls = await Promise.all(
    loaders.map((l) => {
      l.send({ type: 'call' });
      return nextMessage<{ ok: number; failed: number }>(l, 'called');
    }),
  );
  const afterCalls = await memory();
  const answered = calls.reduce((n, c) => n + c.ok, 0);
  const result = {
    case: 'idle-connections',
    transport: 'tcp',
    requested: total,
    open,
    failed: opens.reduce((n, o) => n + o.failed, 0),
    firstError: opens.find((o) => o.firstError)?.firstError ?? null,
    serverConnections: held.connections,
    connectSeconds: Math.round(connectSeconds * 100) / 100,
    callsAnswered: answered,
    serverRssPerConnectionBytes: Math.round((held.rss - base.rss) / Math.max(1, held.connections)),
    serverHeapPerConnectionBytes: Math.round((held.heapUsed - base.heapUsed) / Math.max(1, held.connections)),
    serverRssPerConnectionAfterCallBytes: Math.round((afterCalls.rss - base.rss) / Math.max(1, held.connections)),
  };
  if (json) console.log(JSON.stringify(result));
  else {
    for (const [key, value] of Object.entries(result)) console.log(`${key.padEnd(38)} ${value}`);
    console.log(`target: serverRssPerConnectionBytes < 8192`);
  }
  for (const l of loaders) l.kill();
  server.child.kill();
}

if (idleConnections !== undefined) await idle(idleConnections);
else await throughput();
process.exit(0);
