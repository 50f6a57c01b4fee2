/**
 * codec-loop's measure (CPU per RPC through the layer's JavaScript, over an
 * in-process socket pair) for two builds at once: this checkout and another
 * one (`--base`, a checkout built with `npm run build`), both loaded in one
 * process and run in alternating short phases, so that a machine shared with
 * other work slows both alike. Reports the median over rounds of (this build's
 * CPU per call / the base's), and each build's best and median CPU per call.
 * Below 1 means this build is cheaper.
 *
 *   node dist/bench/net/codec-ab.js --base ../main [--shape bytes|kv] [--rounds 24] [--phase-ms 250] [--json]
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { deliver, LoopSocket } from './loop-socket.js';
import { parseArgs } from './protocol.js';

const args = parseArgs(process.argv.slice(2));
const base = args.get('base');
if (base === undefined) throw new Error('--base <path to another built checkout> is required');
const shape = args.get('shape') ?? 'bytes';
if (shape !== 'bytes' && shape !== 'kv') throw new Error(`--shape must be bytes or kv, not ${shape}`);
const rounds = Number(args.get('rounds') ?? 24);
const phaseMs = Number(args.get('phase-ms') ?? 250);
const inflight = 64;
const json = args.has('json');

const builds = {
  base: pathToFileURL(resolve(isAbsolute(base) ? base : resolve(process.cwd(), base), 'dist') + '/').href,
  this: new URL('../../', import.meta.url).href,
} as const;
type Build = keyof typeof builds;

let active: Build | null = null;
const waiting: Record<Build, (() => void)[]> = { base: [], this: [] };
const calls: Record<Build, number> = { base: 0, this: 0 };
const payload = Buffer.alloc(64, 0x5a);

/** One client and server of `build` over a socket pair, with `inflight` call loops that run only in its phases. */
async function start(build: Build): Promise<void> {
  // Loaded by URL: each build's own modules (the same code as codec-loop's, through each build's API).
  const net = await import(new URL('src/net/index.js', builds[build]).href);
  const { Connection, resolveConnectionOptions } = await import(new URL('src/net/connection.js', builds[build]).href);
  const s = net.s;
  const header = s.object({ memberName: s.string(), leaderId: s.nullable(s.string()), leaderClientUrl: s.nullable(s.string()), revision: s.uint() });
  const methods = net.defineMethods({
    echo: { id: 1, request: s.bytes(), response: s.bytes() },
    put: {
      id: 2,
      request: s.object({ key: s.bytes(), value: s.bytes(), session: s.object({ sessionId: s.uint(), seq: s.uint(), ackedSeq: s.uint() }) }),
      response: s.object({ header, revision: s.uint(), version: s.uint() }),
    },
  });
  const clientSocket = new LoopSocket();
  const serverSocket = new LoopSocket();
  const options = resolveConnectionOptions({});
  let revision = 1;
  new net.RpcServer(methods, {
    echo: async (request: unknown) => request,
    put: async () => ({ header: { memberName: 'n1', leaderId: 'n1', leaderClientUrl: 'tcp://127.0.0.1:17001', revision }, revision: revision++, version: 3 }),
  }).serve(new Connection(serverSocket, 'loop://server', options));
  const client = new net.RpcClient(new Connection(clientSocket, 'loop://client', options), methods, { timeoutMs: 30_000 });
  const pump = () => {
    deliver(clientSocket, serverSocket);
    deliver(serverSocket, clientSocket);
    setImmediate(pump);
  };
  setImmediate(pump);
  for (let k = 0; k < inflight; k++) {
    void (async () => {
      let seq = 0;
      for (;;) {
        while (active !== build) await new Promise<void>((resume) => waiting[build].push(resume));
        if (shape === 'bytes') await client.call('echo', payload);
        else {
          seq++;
          await client.call('put', { key: payload.subarray(0, 16), value: payload, session: { sessionId: 7, seq, ackedSeq: seq - 1 } });
        }
        calls[build]++;
      }
    })();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Run `build` alone for `ms`; its CPU microseconds per call. */
async function phase(build: Build, ms: number): Promise<number> {
  active = build;
  for (const resume of waiting[build].splice(0)) resume();
  const callsBefore = calls[build];
  const cpuBefore = process.cpuUsage();
  await sleep(ms);
  const cpu = process.cpuUsage(cpuBefore);
  const made = calls[build] - callsBefore;
  active = null;
  await sleep(5); // Let the calls in flight finish outside the next phase.
  return (cpu.user + cpu.system) / made;
}

await start('base');
await start('this');
for (let i = 0; i < 3; i++) for (const build of ['base', 'this'] as const) await phase(build, phaseMs); // warm-up
const ratios: number[] = [];
const perCall: Record<Build, number[]> = { base: [], this: [] };
for (let round = 0; round < rounds; round++) {
  const order: Build[] = round % 2 === 0 ? ['this', 'base'] : ['base', 'this'];
  const us: Partial<Record<Build, number>> = {};
  for (const build of order) perCall[build].push((us[build] = await phase(build, phaseMs)));
  ratios.push(us.this! / us.base!);
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
const round3 = (n: number) => Math.round(n * 1000) / 1000;
const row = {
  case: 'codec-ab',
  shape,
  rounds,
  thisToBaseCpuMedian: round3(median(ratios)),
  baseCpuUsPerCallBest: round3(Math.min(...perCall.base)),
  thisCpuUsPerCallBest: round3(Math.min(...perCall.this)),
  baseCpuUsPerCallMedian: round3(median(perCall.base)),
  thisCpuUsPerCallMedian: round3(median(perCall.this)),
};
if (json) console.log(JSON.stringify(row));
else {
  console.log(`${shape}: CPU per call, this / base = ${row.thisToBaseCpuMedian} (median of ${rounds} rounds)`);
  console.log(`  best   us/call: base ${row.baseCpuUsPerCallBest}  this ${row.thisCpuUsPerCallBest}`);
  console.log(`  median us/call: base ${row.baseCpuUsPerCallMedian}  this ${row.thisCpuUsPerCallMedian}`);
}
process.exit(0);
