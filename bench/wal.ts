/**
 * WAL append benchmark (not a test): 100-byte entries, batches of 1, 16 and
 * 256 entries per append (so per fsync when one appender waits for each), a
 * case with many concurrent single-entry appenders to show group commit, and
 * beside them the raw ceiling measured in the same run: a 4 KiB write plus
 * fdatasync in a loop, as ../shared/anchors/fsync.mjs does (blocking calls),
 * once more with async calls, once overwriting space that was zero-filled and
 * synced first (what the WAL's preallocation buys: no new file size to sync),
 * and again right before each WAL case. "batch 1, no preallocation" runs the
 * WAL with preallocateBytes 0 (every flush extends the file) for comparison.
 * CPU columns: process.cpuUsage() per fsync of each case (user / system µs).
 *
 * Usage: node dist/bench/wal.js [--json] [--seconds N] [--dir PATH]
 * Data lives in a temp directory under os.tmpdir() (or --dir) and is removed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DurableStorage } from '../src/storage/index.js';
import type { Entry } from '../src/raft/types.js';

interface CaseResult {
  case: string;
  entriesPerAppend: number;
  appenders: number;
  entries: number;
  fsyncs: number;
  seconds: number;
  entriesPerSec: number;
  fsyncsPerSec: number;
  /** process.cpuUsage() over the case, per fsync, in microseconds. */
  userUsPerFsync: number;
  systemUsPerFsync: number;
  /** Raw 4 KiB write + fdatasync rate measured right before this case. */
  rawFsyncsPerSec?: number;
  vsRawFsync?: number;
}

const args = process.argv.slice(2);
const json = args.includes('--json');
const secondsArg = args.indexOf('--seconds');
const caseSeconds = secondsArg >= 0 ? Number(args[secondsArg + 1]) : 3;
const dirArg = args.indexOf('--dir');
const baseDir = dirArg >= 0 ? args[dirArg + 1]! : os.tmpdir();
const entryBytes = 100;
const entriesMaxPerCase = 5_000_000;

function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

/**
 * Raw ceiling: append 4 KiB, fdatasync, repeat. `sync` uses blocking calls
 * exactly as ../shared/anchors/fsync.mjs does; otherwise the async calls a
 * server must use (one threadpool round trip each), like the WAL. `overwrite`
 * first writes and syncs 16 MiB of zeros, then overwrites it 4 KiB at a time
 * (wrapping around), so no fdatasync has to write a new file size.
 */
async function rawFsync(dir: string, sync: boolean, overwrite = false): Promise<CaseResult> {
  const file = path.join(dir, 'raw-fsync.dat');
  const fd = fs.openSync(file, 'w+');
  const block = Buffer.alloc(4096, 0x61);
  const regionBlocks = 4096;
  if (overwrite) {
    const zeros = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < (regionBlocks * block.byteLength) / zeros.byteLength; i++) fs.writeSync(fd, zeros, 0, zeros.byteLength, i * zeros.byteLength);
    fs.fdatasyncSync(fd);
  }
  let n = 0;
  const cpu = process.cpuUsage();
  const start = now();
  const deadline = start + caseSeconds;
  while (now() < deadline && n < 1_000_000) {
    const at = (overwrite ? n % regionBlocks : n) * block.byteLength;
    if (sync) {
      fs.writeSync(fd, block, 0, block.byteLength, at);
      fs.fdatasyncSync(fd);
    } else {
      await new Promise<void>((resolve, reject) =>
        fs.write(fd, block, 0, block.byteLength, at, (e) => (e ? reject(e) : resolve())),
      );
      await new Promise<void>((resolve, reject) => fs.fdatasync(fd, (e) => (e ? reject(e) : resolve())));
    }
    n++;
  }
  const seconds = now() - start;
  const used = process.cpuUsage(cpu);
  fs.closeSync(fd);
  fs.rmSync(file);
  return {
    case: `raw 4KiB ${sync ? '' : 'async '}${overwrite ? 'overwrite' : 'write'}+fdatasync`,
    entriesPerAppend: 0,
    appenders: 1,
    entries: 0,
    fsyncs: n,
    seconds,
    entriesPerSec: 0,
    fsyncsPerSec: n / seconds,
    userUsPerFsync: used.user / Math.max(1, n),
    systemUsPerFsync: used.system / Math.max(1, n),
  };
}

async function walCase(
  dir: string,
  name: string,
  entriesPerAppend: number,
  appenders: number,
  preallocateBytes?: number,
): Promise<CaseResult> {
  const caseDir = path.join(dir, name.replace(/[^a-z0-9]+/gi, '-'));
  const storage = await DurableStorage.open({ dir: caseDir, ...(preallocateBytes !== undefined ? { preallocateBytes } : {}) });
  const payload = new Uint8Array(entryBytes).fill(0x62);
  let nextIndex = storage.lastIndex() + 1;
  let appended = 0;
  const flushesBefore = storage.walStats.flushes;
  const cpu = process.cpuUsage();
  const start = now();
  const deadline = start + caseSeconds;
  const appender = async (): Promise<void> => {
    while (now() < deadline && appended < entriesMaxPerCase) {
      const entries: Entry[] = [];
      for (let k = 0; k < entriesPerAppend; k++) entries.push({ index: nextIndex++, term: 1, type: 0, data: payload });
      appended += entriesPerAppend;
      await storage.append({ entries });
    }
  };
  await Promise.all(Array.from({ length: appenders }, appender));
  const seconds = now() - start;
  const used = process.cpuUsage(cpu);
  const fsyncs = storage.walStats.flushes - flushesBefore;
  await storage.close();
  fs.rmSync(caseDir, { recursive: true, force: true });
  return {
    case: name,
    entriesPerAppend,
    appenders,
    entries: appended,
    fsyncs,
    seconds,
    entriesPerSec: appended / seconds,
    fsyncsPerSec: fsyncs / seconds,
    userUsPerFsync: used.user / Math.max(1, fsyncs),
    systemUsPerFsync: used.system / Math.max(1, fsyncs),
  };
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(baseDir, 'concord-bench-wal-'));
  const results: CaseResult[] = [];
  try {
    results.push(await rawFsync(dir, true));
    results.push(await rawFsync(dir, false));
    results.push(await rawFsync(dir, true, true));
    const cases: Array<[string, number, number, number?]> = [
      ['batch 1', 1, 1],
      ['batch 1, no preallocation', 1, 1, 0],
      ['batch 16', 16, 1],
      ['batch 256', 256, 1],
      ['64 appenders x 1', 1, 64],
    ];
    for (const [name, perAppend, appenders, preallocateBytes] of cases) {
      // The raw ceiling right before each case: the disk's rate drifts with other load on the machine.
      const raw = await rawFsync(dir, true);
      const r = await walCase(dir, name, perAppend, appenders, preallocateBytes);
      r.rawFsyncsPerSec = raw.fsyncsPerSec;
      r.vsRawFsync = r.fsyncsPerSec / raw.fsyncsPerSec;
      results.push(r);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (json) {
    for (const r of results) {
      console.log(
        JSON.stringify({
          ...r,
          seconds: +r.seconds.toFixed(3),
          entriesPerSec: Math.round(r.entriesPerSec),
          fsyncsPerSec: Math.round(r.fsyncsPerSec),
          ...(r.rawFsyncsPerSec !== undefined ? { rawFsyncsPerSec: Math.round(r.rawFsyncsPerSec) } : {}),
          ...(r.vsRawFsync !== undefined ? { vsRawFsync: +r.vsRawFsync.toFixed(3) } : {}),
          userUsPerFsync: +r.userUsPerFsync.toFixed(1),
          systemUsPerFsync: +r.systemUsPerFsync.toFixed(1),
          entryBytes,
        }),
      );
    }
    return;
  }
  const pad = (s: string, n: number) => s.padEnd(n);
  console.log(`WAL append, ${entryBytes}-byte entries, ${caseSeconds} s per case, dir ${baseDir}`);
  console.log(
    pad('case', 36) +
      pad('entries/s', 14) +
      pad('fsyncs/s', 12) +
      pad('entries/fsync', 15) +
      pad('cpu µs/fsync usr/sys', 22) +
      'fsyncs/s vs raw just before',
  );
  for (const r of results) {
    console.log(
      pad(r.case, 36) +
        pad(r.entries ? Math.round(r.entriesPerSec).toString() : '-', 14) +
        pad(Math.round(r.fsyncsPerSec).toString(), 12) +
        pad(r.fsyncs && r.entries ? (r.entries / r.fsyncs).toFixed(1) : '-', 15) +
        pad(`${r.userUsPerFsync.toFixed(0)}/${r.systemUsPerFsync.toFixed(0)}`, 22) +
        (r.vsRawFsync !== undefined ? `${r.vsRawFsync.toFixed(2)}x (raw ${Math.round(r.rawFsyncsPerSec!)}/s)` : ''),
    );
  }
}

await main();
