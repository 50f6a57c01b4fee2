/**
 * Cost of applying committed commands to the key-value state machine, the
 * work every member does for every write (no network, no disk, no Raft).
 *
 *   node dist/bench/kv-apply.js            a table
 *   node dist/bench/kv-apply.js --json     one JSON object per case
 *   node dist/bench/kv-apply.js --applies 200000   measured applies per case (default 500,000)
 *   node dist/bench/kv-apply.js --case put --case get   only these cases
 *
 * Workload like `concord bench --workload put`: 10,000 keys `bench-000123`,
 * 256-byte values, 64 client sessions each with one write in flight (seq n,
 * ackedSeq n - 1), keys picked by a multiplicative hash, leader time moving
 * 1 ms every 10 entries. Cases:
 *
 *   put            session puts over existing keys; each command is a window on
 *                  a shared 8 KiB buffer, as on a follower (entries decoded from
 *                  a network frame into Node's pooled buffers)
 *   put-own-buffer the same, but every entry is its own buffer (envelope +
 *                  command), as on the leader that encoded it
 *   put-new-key    session puts that each create a key (the key space grows)
 *   cas            session puts with expectedModRevision = the key's current one
 *   update-delete  session updates of existing keys; 1 in 8 entries deletes a
 *                  key, which the next write of that key re-creates (a put)
 *   get            KvStateMachine.get of existing keys (ns per get)
 *
 * Commands are encoded in batches of 65,536 outside the timed sections, and a
 * full GC runs before each timed batch, so the GC figures (PerformanceObserver
 * 'gc' entries starting inside timed sections) count the garbage of applying
 * only: a proxy for allocation. `cpu ns/op` is the process's CPU time (all
 * threads, so background GC and ArrayBuffer sweeping count), steadier than
 * wall time on a shared machine.
 */
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  CommandKind,
  KvStateMachine,
  ResultKind,
  encodeCommand,
  type Command,
} from '../src/kv/index.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    applies: { type: 'string', default: '500000' },
    case: { type: 'string', multiple: true },
  },
});
const appliesMeasured = Number(values.applies);
const KEYS = 10_000;
const VALUE_BYTES = 256;
const SESSIONS = 64;
const BATCH_ENTRIES = 65_536;
const SLAB_BYTES = 8 * 1024;
const ENVELOPE_BYTES = 10;
const ENTRIES_PER_MS = 10;

const encoder = new TextEncoder();
const benchKey = (i: number): Uint8Array => encoder.encode(`bench-${String(i).padStart(6, '0')}`);
const keys = Array.from({ length: KEYS }, (_, i) => benchKey(i));
const value = new Uint8Array(VALUE_BYTES).fill(0x61);

/**
 * GC pauses that started inside a timed window. Observer entries arrive
 * asynchronously, so windows are recorded and matched afterwards.
 */
const gcEntries: { startTime: number; duration: number }[] = [];
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcEntries.push({ startTime: entry.startTime, duration: entry.duration });
});
observer.observe({ entryTypes: ['gc'] });
const timedWindows: [number, number][] = [];

// A full collection before each timed section, so that its GC figures count the garbage of applying
// only (not of encoding the batch). The usual trick to reach gc() without the command-line flag.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

async function gcDuringWindows(): Promise<{ count: number; ms: number }> {
  await new Promise((resolve) => setTimeout(resolve, 10)); // let the observer deliver
  let count = 0;
  let ms = 0;
  for (const e of gcEntries) {
    if (timedWindows.some(([from, to]) => e.startTime >= from && e.startTime <= to)) {
      count++;
      ms += e.duration;
    }
  }
  gcEntries.length = 0;
  timedWindows.length = 0;
  return { count, ms };
}

interface Workload {
  readonly sm: KvStateMachine;
  nowMs: number;
  n: number;
  readonly sessionIds: number[];
  readonly seqs: number[];
}

function newWorkload(): Workload {
  const sm = new KvStateMachine();
  const w: Workload = { sm, nowMs: 1_000_000, n: 0, sessionIds: [], seqs: [] };
  for (let s = 0; s < SESSIONS; s++) {
    const r = sm.apply(sm.appliedIndex + 1, encodeCommand({ kind: CommandKind.OpenSession, ttlMs: 0 }, w.nowMs));
    if (r.kind !== ResultKind.SessionOpened) throw new Error('open session failed');
    w.sessionIds.push(r.sessionId);
    w.seqs.push(0);
  }
  return w;
}

/** The next command; `index` is the log index it will be applied at. */
type Next = (w: Workload, index: number) => Command;

/** The i-th write of the workload with the session fields of its client. */
function sessionCommand(w: Workload, make: (key: Uint8Array, keyIndex: number) => Command): Command {
  const client = w.n % SESSIONS;
  const seq = ++w.seqs[client]!;
  const keyIndex = ((w.n * 2654435761) >>> 0) % KEYS;
  w.n++;
  const command = make(keys[keyIndex]!, keyIndex) as Command & { session?: unknown };
  return { ...command, session: { sessionId: w.sessionIds[client]!, seq, ackedSeq: seq - 1 } } as Command;
}

/** Encodes the next batch, framed as on a follower (windows on shared slabs) or the leader (own buffers). */
function encodeBatch(w: Workload, count: number, next: Next, ownBuffers: boolean): Uint8Array[] {
  const out: Uint8Array[] = [];
  let slab = new Uint8Array(SLAB_BYTES);
  let pos = 0;
  const base = w.sm.appliedIndex;
  for (let i = 0; i < count; i++) {
    if (i % ENTRIES_PER_MS === 0) w.nowMs++;
    const bytes = encodeCommand(next(w, base + i + 1), w.nowMs);
    if (ownBuffers) {
      const entry = new Uint8Array(ENVELOPE_BYTES + bytes.length);
      entry.set(bytes, ENVELOPE_BYTES);
      out.push(entry.subarray(ENVELOPE_BYTES));
      continue;
    }
    if (pos + ENVELOPE_BYTES + bytes.length > SLAB_BYTES) {
      slab = new Uint8Array(SLAB_BYTES);
      pos = 0;
    }
    slab.set(bytes, pos + ENVELOPE_BYTES);
    out.push(slab.subarray(pos + ENVELOPE_BYTES, pos + ENVELOPE_BYTES + bytes.length));
    pos += ENVELOPE_BYTES + bytes.length;
  }
  return out;
}

interface CaseResult {
  readonly case: string;
  readonly ops: number;
  /** Wall-clock time per operation. */
  readonly nsPerOp: number;
  /** CPU time of the process per operation (steadier than wall time on a busy machine; includes GC threads). */
  readonly cpuNsPerOp: number;
  readonly gcPer100kOps: number;
  readonly gcMsPer100kOps: number;
  readonly keys: number;
}

/** Applies `total` commands from `next` in batches; returns the timed figures of the last `measured` of them. */
async function runApplies(label: string, w: Workload, next: Next, warmup: number, measured: number, ownBuffers = false): Promise<CaseResult> {
  let timedNs = 0;
  let timedCpuNs = 0;
  let done = 0;
  const total = warmup + measured;
  while (done < total) {
    const count = Math.min(BATCH_ENTRIES, total - done);
    const batch = encodeBatch(w, count, next, ownBuffers);
    const timed = done >= warmup;
    const sm = w.sm;
    let index = sm.appliedIndex;
    if (timed) collectGarbage();
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    for (let i = 0; i < batch.length; i++) {
      const result = sm.apply(++index, batch[i]!);
      if (result.kind === ResultKind.Error) throw new Error(`${label}: apply failed: ${result.error.message}`);
    }
    const end = performance.now();
    const cpu = process.cpuUsage(cpuStart);
    if (timed) {
      timedNs += (end - start) * 1e6;
      timedCpuNs += (cpu.user + cpu.system) * 1e3;
      timedWindows.push([start, end]);
    }
    done += count;
  }
  return result(label, measured, timedNs, timedCpuNs, w.sm.keyCount);
}

async function result(label: string, ops: number, ns: number, cpuNs: number, keyCount: number): Promise<CaseResult> {
  const gc = await gcDuringWindows();
  return {
    case: label,
    ops,
    nsPerOp: Math.round(ns / ops),
    cpuNsPerOp: Math.round(cpuNs / ops),
    gcPer100kOps: Math.round((gc.count * 100_000) / ops),
    gcMsPer100kOps: Math.round(((gc.ms * 100_000) / ops) * 100) / 100,
    keys: keyCount,
  };
}

/** A state machine holding every bench key (written without sessions). */
function preloaded(): Workload {
  const w = newWorkload();
  for (let i = 0; i < KEYS; i++) {
    w.sm.apply(w.sm.appliedIndex + 1, encodeCommand({ kind: CommandKind.Put, key: keys[i]!, value }, w.nowMs));
  }
  return w;
}

const put: Next = (w) => sessionCommand(w, (key) => ({ kind: CommandKind.Put, key, value }));

function casCase(measured: number): Promise<CaseResult> {
  const w = preloaded();
  // Each key's modRevision as the workload goes: a command's revision is the index it will be applied at.
  const revisions = keys.map((key) => w.sm.get(key)!.modRevision);
  const next: Next = (wl, index) =>
    sessionCommand(wl, (key, keyIndex) => {
      const expectedModRevision = revisions[keyIndex]!;
      revisions[keyIndex] = index;
      return { kind: CommandKind.Put, key, value, expectedModRevision };
    });
  return runApplies('cas', w, next, measured / 5, measured);
}

function updateDeleteCase(measured: number): Promise<CaseResult> {
  const w = preloaded();
  const deleted = new Set<number>();
  const next: Next = (wl) =>
    sessionCommand(wl, (key, keyIndex) => {
      if (deleted.delete(keyIndex)) return { kind: CommandKind.Put, key, value }; // re-create
      if (wl.n % 8 === 0) {
        deleted.add(keyIndex);
        return { kind: CommandKind.Delete, key };
      }
      return { kind: CommandKind.Update, key, value };
    });
  return runApplies('update-delete', w, next, measured / 5, measured);
}

function newKeyCase(measured: number): Promise<CaseResult> {
  const w = newWorkload();
  let k = 0;
  const next: Next = (wl) =>
    sessionCommand(wl, () => ({ kind: CommandKind.Put, key: encoder.encode(`new-key-${String(k++).padStart(8, '0')}`), value }));
  return runApplies('put-new-key', w, next, measured / 5, measured);
}

function getCase(measured: number): Promise<CaseResult> {
  const w = preloaded();
  const sm = w.sm;
  const lookups = Array.from({ length: BATCH_ENTRIES }, (_, i) => keys[((i * 2654435761) >>> 0) % KEYS]!);
  let sink = 0;
  for (let i = 0; i < measured / 5; i++) sink += sm.get(lookups[i % lookups.length]!)!.version;
  collectGarbage();
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < measured; i++) sink += sm.get(lookups[i % lookups.length]!)!.version;
  const end = performance.now();
  const cpu = process.cpuUsage(cpuStart);
  timedWindows.push([start, end]);
  const ns = (end - start) * 1e6;
  if (sink === 0) throw new Error('unreachable');
  return result('get', measured, ns, (cpu.user + cpu.system) * 1e3, sm.keyCount);
}

const warmupApplies = Math.round(appliesMeasured / 5);
const allCases: Record<string, () => Promise<CaseResult>> = {
  put: () => runApplies('put', preloaded(), put, warmupApplies, appliesMeasured),
  'put-own-buffer': () => runApplies('put-own-buffer', preloaded(), put, warmupApplies, appliesMeasured, true),
  'put-new-key': () => newKeyCase(Math.min(appliesMeasured, 200_000)),
  cas: () => casCase(appliesMeasured),
  'update-delete': () => updateDeleteCase(appliesMeasured),
  get: () => getCase(appliesMeasured * 4),
};
const selected = values.case ?? Object.keys(allCases);
for (const name of selected) if (!(name in allCases)) throw new Error(`unknown case ${name}; cases: ${Object.keys(allCases).join(', ')}`);
const cases = selected.map((name) => allCases[name]!);

if (!values.json) console.log('case             ops/case   ns/op  cpu ns/op  GCs/100k  GC ms/100k  keys');
for (const run of cases) {
  const r = await run();
  if (values.json) console.log(JSON.stringify(r));
  else {
    console.log(
      `${r.case.padEnd(16)} ${String(r.ops).padStart(8)} ${String(r.nsPerOp).padStart(7)} ${String(r.cpuNsPerOp).padStart(10)} ${String(r.gcPer100kOps).padStart(9)} ${r.gcMsPer100kOps.toFixed(2).padStart(11)} ${String(r.keys).padStart(6)}`,
    );
  }
}
observer.disconnect();
