/**
 * Backup and restore throughput (not a test): one member (in this process)
 * holding 100,000 keys of 256-byte values; then, `--runs` times each,
 * - save: `concord snapshot save`'s path (KvClient.openSnapshot, pages into
 *   a backup file, fsync, rename), over loopback TCP;
 * - status: checking the whole file (length, crc32c, header);
 * - restore: `concord snapshot restore` into a new data directory (check
 *   pass, write pass into the member's snapshot store, fsyncs);
 * - cp: `cp` of the backup file, and `cp` followed by an fsync of the copy,
 *   as the ceiling a file copy sets on this disk.
 * MB/s is the backup file's size (10^6 bytes) over the median time. The page
 * cache is warm for every case (the file was just written): the figures
 * compare the code paths, not cold-disk reads. The load average is printed
 * beside them: on a shared machine, figures are only comparable when it is low.
 *
 * Usage: npm run bench:snapshot [-- --json] [--keys N] [--value-bytes N] [--runs N] [--dir PATH]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, fsyncSync, closeSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pino } from 'pino';
import { connect } from '../src/client/index.js';
import { freePort } from '../src/cli/dev/free-ports.js';
import { ProgressBar } from '../src/cli/bench/progress-bar.js';
import { saveSnapshotTo } from '../src/cli/commands/snapshot.js';
import { checkBackupFile, loadServerConfig, startServer } from '../src/server/index.js';
import { restoreBackup } from '../src/cli/restore.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const numberArg = (name: string, fallback: number): number => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const keys = numberArg('--keys', 100_000);
const valueBytes = numberArg('--value-bytes', 256);
const runs = numberArg('--runs', 3);
const dirAt = args.indexOf('--dir');
const baseDir = dirAt >= 0 ? args[dirAt + 1]! : os.tmpdir();

interface CaseResult {
  readonly case: string;
  readonly bytes: number;
  readonly medianSeconds: number;
  readonly mbPerSec: number;
  readonly seconds: readonly number[];
}

const nowS = (): number => performance.now() / 1000;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function timed(name: string, bytes: number, body: (run: number) => Promise<void>): Promise<CaseResult> {
  const seconds: number[] = [];
  for (let run = 0; run < runs; run++) {
    const start = nowS();
    await body(run);
    seconds.push(nowS() - start);
  }
  const m = median(seconds);
  return { case: name, bytes, medianSeconds: m, mbPerSec: bytes / 1e6 / m, seconds };
}

async function main(): Promise<void> {
  const root = mkdtempSync(path.join(baseDir, 'concord-bench-snapshot-'));
  const loadBefore = os.loadavg();
  const clientUrl = `tcp://127.0.0.1:${await freePort()}`;
  const peerUrl = `tcp://127.0.0.1:${await freePort()}`;
  const config = loadServerConfig({
    flags: { name: 'n1', dataDir: path.join(root, 'n1'), clientUrl, peerUrl, initialCluster: `n1=${peerUrl}` } as never,
    env: {},
  });
  const server = await startServer(config, pino({ level: 'silent' }));
  const client = await connect({ endpoints: [clientUrl], timeoutMs: 30_000 });
  try {
    // Fill: 100,000 keys, 256 concurrent writers.
    const value = new Uint8Array(valueBytes).fill(0x61);
    const fillStart = nowS();
    let next = 0;
    await Promise.all(
      Array.from({ length: 256 }, async () => {
        for (let i = next++; i < keys; i = next++) await client.put(`bench/${String(i).padStart(8, '0')}`, value);
      }),
    );
    const fillSeconds = nowS() - fillStart;

    const file = path.join(root, 'backup.db');
    const off = new ProgressBar('save', { isTTY: false } as NodeJS.WriteStream);
    let fileBytes = 0;
    const save = await timed('save (client protocol -> file, fsync)', 0, async () => {
      rmSync(file, { force: true });
      const download = await client.openSnapshot({ timeoutMs: 30_000 });
      await saveSnapshotTo(file, download, off, performance.now(), new Date());
      fileBytes = statSync(file).size;
    });
    const results: CaseResult[] = [{ ...save, bytes: fileBytes, mbPerSec: fileBytes / 1e6 / save.medianSeconds }];
    results.push(await timed('status (check whole file)', fileBytes, async () => void (await checkBackupFile(file))));
    results.push(
      await timed('restore (check + write data dir, fsync)', fileBytes, async (run) => {
        await restoreBackup({ file, name: 'r1', dataDir: path.join(root, `restored-${run}`), initialCluster: { r1: 'tcp://127.0.0.1:1' } });
      }),
    );
    results.push(
      await timed('cp', fileBytes, async (run) => {
        const result = spawnSync('cp', [file, path.join(root, `copy-${run}`)]);
        if (result.status !== 0) throw new Error(`cp failed: ${result.stderr}`);
      }),
    );
    results.push(
      await timed('cp + fsync', fileBytes, async (run) => {
        const copy = path.join(root, `copy-sync-${run}`);
        const result = spawnSync('cp', [file, copy]);
        if (result.status !== 0) throw new Error(`cp failed: ${result.stderr}`);
        const fd = openSync(copy, 'r+');
        fsyncSync(fd);
        closeSync(fd);
      }),
    );
    const loadAfter = os.loadavg();
    const summary = {
      keys,
      valueBytes,
      runs,
      fileBytes,
      fillSeconds,
      fillKeysPerSec: keys / fillSeconds,
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadAfter,
      cpus: os.cpus().length,
      results,
    };
    if (json) process.stdout.write(JSON.stringify(summary) + '\n');
    else {
      process.stdout.write(
        `${keys} keys of ${valueBytes} B, backup file ${(fileBytes / 1e6).toFixed(1)} MB (filled at ${Math.round(keys / fillSeconds)} puts/s)\n` +
          `load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} CPUs)\n`,
      );
      for (const r of results) {
        process.stdout.write(`${r.case.padEnd(42)} ${r.mbPerSec.toFixed(1).padStart(8)} MB/s  median ${(r.medianSeconds * 1000).toFixed(0)} ms of ${r.seconds.length}\n`);
      }
    }
  } finally {
    await client.close();
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
