/**
 * `concord snapshot save | status | restore`, as etcdctl / etcdutl's:
 * - save FILE: a consistent snapshot from the leader (it includes every write
 *   acknowledged before the command started), streamed into FILE with a
 *   header (index, term, cluster ID) and a checksum (src/server/backup-file.ts);
 * - status FILE: checks the file and prints its index, term, keys, size and
 *   whether the checksum is right (exit 3 when it is not);
 * - restore FILE: the data directory of one member of a new cluster holding
 *   exactly that data (src/cli/restore.ts); run once per member.
 */
import type { Command } from 'commander';
import type { SnapshotDownload } from '../../client/index.js';
import { CliExit, ExitCode } from '../exit-codes.js';
import { ProgressBar } from '../bench/progress-bar.js';
import { parsePositiveInteger } from '../parse.js';
import { formatTable } from '../table.js';
import { formatBytes } from './endpoint.js';
import { addClientOptions, withClient, type ClientCommandOptions } from '../client-options.js';

interface SaveOptions extends ClientCommandOptions {
  readonly chunkBytes: number;
}

export interface SnapshotStatusRow {
  readonly file: string;
  readonly index: number;
  readonly term: number;
  readonly clusterId: string;
  readonly memberName: string;
  readonly keys: number;
  readonly sessions: number;
  readonly contentBytes: number;
  readonly fileBytes: number;
  readonly checksum: string;
  readonly checksumOk: boolean;
  readonly savedAt: string;
}

/**
 * Streams a download into `file` (via FILE.part), drawing progress on `bar`
 * (a no-op when stderr is not a terminal). `startedMs` is performance.now()
 * at the start of the save (for the rate shown), `savedAt` the wall-clock time
 * recorded in the header.
 */
export async function saveSnapshotTo(file: string, download: SnapshotDownload, bar: ProgressBar, startedMs: number, savedAt: Date): Promise<void> {
  const { BackupFileWriter } = await import('../../server/index.js');
  const info = download.info;
  const writer = await BackupFileWriter.create(file, {
    version: 1,
    index: info.index,
    term: info.term,
    clusterId: info.clusterId,
    memberName: info.memberName,
    keys: info.keys,
    contentBytes: info.totalBytes,
    savedAt: savedAt.toISOString(),
  });
  try {
    for await (const chunk of download) {
      await writer.write(chunk); // Awaited before the next page is asked for: the stream's flow control.
      const seconds = Math.max(1e-3, (performance.now() - startedMs) / 1000);
      bar.draw(info.totalBytes === 0 ? 1 : writer.contentBytesWritten / info.totalBytes, `${formatBytes(writer.contentBytesWritten)} ${(writer.contentBytesWritten / 1e6 / seconds).toFixed(1)} MB/s`);
    }
    await writer.finish();
  } catch (error) {
    await writer.abort();
    throw error;
  } finally {
    bar.done();
  }
}

export function registerSnapshotCommands(program: Command): void {
  const snapshot = program.command('snapshot').description('back up the store to a file, check a backup, restore one into a new cluster (as etcdctl snapshot)');

  addClientOptions(
    snapshot
      .command('save')
      .description('stream a consistent snapshot from the leader into FILE (written as FILE.part, renamed when complete); --timeout bounds each page')
      .argument('<file>', 'the backup file to write')
      .option('--chunk-bytes <n>', 'bytes per page asked of the member', parsePositiveInteger, 1024 * 1024),
  ).action(async (file: string, options: SaveOptions) => {
    const wallStartMs = Date.now();
    const startedMs = performance.now();
    const info = await withClient(options, 'read', 'snapshot save', async (client) => {
      const download = await client.openSnapshot({ timeoutMs: options.timeout, chunkBytesMax: options.chunkBytes });
      await saveSnapshotTo(file, download, new ProgressBar(`saving ${file}`), startedMs, new Date(wallStartMs));
      return download.info;
    });
    const seconds = (performance.now() - startedMs) / 1000;
    const result = { file, ...info, seconds, savedAt: new Date(wallStartMs).toISOString() };
    if (options.json) process.stdout.write(JSON.stringify(result) + '\n');
    else {
      process.stdout.write(
        `Snapshot saved at ${file}: index ${info.index}, term ${info.term}, ${info.keys} keys, ${formatBytes(info.totalBytes)} from ${info.memberName} in ${seconds.toFixed(2)} s\n`,
      );
    }
  });

  snapshot
    .command('status')
    .description('check FILE (length, checksum, header against contents) and print its index, term, keys and size; exits 3 if it is damaged')
    .argument('<file>', 'a backup file')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, options: { json?: boolean }) => {
      const { checkBackupFile, backupChecksumHex, CorruptBackupError } = await import('../../server/index.js');
      try {
        const checked = await checkBackupFile(file);
        const h = checked.header;
        const row: SnapshotStatusRow = {
          file,
          index: h.index,
          term: h.term,
          clusterId: h.clusterId,
          memberName: h.memberName,
          keys: h.keys,
          sessions: checked.sessions,
          contentBytes: h.contentBytes,
          fileBytes: checked.fileBytes,
          checksum: backupChecksumHex(checked.checksum),
          checksumOk: true,
          savedAt: h.savedAt,
        };
        if (options.json) process.stdout.write(JSON.stringify(row) + '\n');
        else {
          process.stdout.write(
            formatTable(
              ['INDEX', 'TERM', 'KEYS', 'TOTAL SIZE', 'CHECKSUM', 'CHECKSUM OK', 'CLUSTER ID', 'SAVED AT'],
              [[String(row.index), String(row.term), String(row.keys), formatBytes(row.fileBytes), row.checksum, 'true', row.clusterId, row.savedAt]],
            ) + '\n',
          );
        }
      } catch (error) {
        if (!(error instanceof CorruptBackupError)) throw error;
        if (options.json) process.stdout.write(JSON.stringify({ file, checksumOk: false, error: error.reason }) + '\n');
        throw new CliExit(ExitCode.Failure, error.message);
      }
    });

  snapshot
    .command('restore')
    .description("create the data directory of one member of a NEW cluster holding exactly FILE's data (run once per member, same file and --initial-cluster)")
    .argument('<file>', 'a backup file')
    .requiredOption('--name <name>', "this member's name (one of --initial-cluster)")
    .requiredOption('--data-dir <dir>', 'the data directory to create (must not exist, or be empty)')
    .requiredOption('--initial-cluster <list>', 'the new cluster: name=peer-url,... (as for concord server)')
    .option('--initial-cluster-token <token>', 'tells apart clusters restored from the same file with the same members', '')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, options: { name: string; dataDir: string; initialCluster: string; initialClusterToken: string; json?: boolean }) => {
      const { parseInitialCluster } = await import('../../server/index.js');
      const { restoreBackup } = await import('../restore.js');
      const result = await restoreBackup({
        file,
        name: options.name,
        dataDir: options.dataDir,
        initialCluster: parseInitialCluster(options.initialCluster),
        initialClusterToken: options.initialClusterToken,
      });
      if (options.json) process.stdout.write(JSON.stringify(result) + '\n');
      else {
        process.stdout.write(
          `Restored ${file} (index ${result.index}, term ${result.term}, ${result.keys} keys) into ${result.dataDir} as member ${options.name} of new cluster ${result.clusterId}\n` +
            `Start it with: concord server --name ${options.name} --data-dir ${result.dataDir} --initial-cluster ${options.initialCluster} --peer-url ... --client-url ...\n`,
        );
      }
    });
}
