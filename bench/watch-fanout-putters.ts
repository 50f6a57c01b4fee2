/**
 * The put loops of the watch fan-out bench (watch-fanout.ts), in a process of
 * their own: on { type: 'run', warmupS, durationS }, PUT_CLIENTS loops put
 * keys under PREFIX for warmupS unmeasured then durationS measured seconds;
 * sends { type: 'measuring', fromRevision } when the measured part starts
 * and { type: 'done', ... } at its end, with the acknowledgement time
 * (performance.timeOrigin + performance.now()) of every measured revision
 * that is a multiple of SAMPLE_EVERY. { type: 'stop' } exits. PUTS_PER_SEC
 * above 0 caps the loops' rate together (a fixed load, for comparing CPU per
 * event between builds); 0: as fast as the cluster answers.
 *
 *   node dist/bench/watch-fanout-putters.js ENDPOINTS PUT_CLIENTS VALUE_BYTES SAMPLE_EVERY PREFIX PUTS_PER_SEC
 */
import { connect } from '../src/client/index.js';

export interface PutterDone {
  readonly type: 'done';
  readonly puts: number;
  readonly seconds: number;
  readonly fromRevision: number;
  readonly toRevision: number;
  readonly ackRevisions: number[];
  readonly ackTimesMs: number[];
}

const [endpointsArg, putClientsArg, valueBytesArg, sampleEveryArg, prefix, putsPerSecArg] = process.argv.slice(2);
const putsPerSec = Number(putsPerSecArg ?? 0);
const putClients = Number(putClientsArg);
const sampleEvery = Number(sampleEveryArg);
const value = 'v'.repeat(Number(valueBytesArg));
const client = await connect({ endpoints: (endpointsArg ?? '').split(','), timeoutMs: 30_000 });

async function run(warmupS: number, durationS: number): Promise<PutterDone> {
  const startMs = performance.now();
  const measureFromMs = startMs + warmupS * 1000;
  const stopAtMs = measureFromMs + durationS * 1000;
  let measuring = false;
  let measureStartMs = 0;
  let fromRevision = 0;
  let toRevision = 0;
  let puts = 0;
  let started = 0;
  const ackRevisions: number[] = [];
  const ackTimesMs: number[] = [];
  await Promise.all(
    Array.from({ length: putClients }, async (_, loop) => {
      for (let i = 0; performance.now() < stopAtMs; i++) {
        const dueMs = putsPerSec > 0 ? startMs + (started++ * 1000) / putsPerSec : 0;
        if (dueMs > performance.now()) await new Promise((resolve) => setTimeout(resolve, dueMs - performance.now()));
        const { revision } = await client.put(`${prefix}${loop}/${i % 100}`, value);
        const now = performance.now();
        if (!measuring && now >= measureFromMs) {
          measuring = true;
          measureStartMs = now;
          fromRevision = revision;
          process.send!({ type: 'measuring', fromRevision });
        }
        if (!measuring || now >= stopAtMs) continue;
        puts++;
        toRevision = Math.max(toRevision, revision);
        if (revision % sampleEvery === 0) {
          ackRevisions.push(revision);
          ackTimesMs.push(performance.timeOrigin + now);
        }
      }
    }),
  );
  return { type: 'done', puts, seconds: (performance.now() - measureStartMs) / 1000, fromRevision, toRevision, ackRevisions, ackTimesMs };
}

process.on('message', (message: { type: string; warmupS?: number; durationS?: number }) => {
  if (message.type === 'run') void run(message.warmupS!, message.durationS!).then((done) => process.send!(done));
  else if (message.type === 'stop') void client.close().finally(() => process.exit(0));
});
process.send!({ type: 'ready' });
