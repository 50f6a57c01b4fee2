/**
 * `concord watch KEY [--prefix] [--rev N] [--prev-kv] [--json]` and
 * `concord compact REV` (etcdctl's watch and compaction). A watch prints one
 * line per event until Ctrl-C: `PUT key value` / `DELETE key` (with
 * `--prev-kv`, the previous value after it), or one JSON object per event
 * with `--json`. It resumes by itself when the member serving it goes away.
 */
import type { Command } from 'commander';
import { AbortedError, CompactedError, type KvClient, type WatchEvent } from '../../client/index.js';
import { addClientOptions, withClient, type ClientCommandOptions } from '../client-options.js';
import { CliExit, ExitCode } from '../exit-codes.js';
import { parsePositiveInteger } from '../parse.js';

interface WatchCommandOptions extends ClientCommandOptions {
  prefix?: boolean;
  rev?: number;
  prevKv?: boolean;
}

/** One event as one line: newlines and backslashes in keys and values are escaped so that it stays one. */
export function eventLine(event: WatchEvent, prevKv: boolean): string {
  const escape = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
  const parts = [event.type.toUpperCase(), escape(event.kv.keyString())];
  if (event.type === 'put') parts.push(escape(event.kv.valueString()));
  if (prevKv && event.prevKv !== undefined) parts.push(escape(event.prevKv.valueString()));
  return parts.join(' ');
}

export function eventJson(event: WatchEvent): unknown {
  return { type: event.type, ...event.kv.toJSON(), ...(event.prevKv !== undefined ? { prevKv: event.prevKv.toJSON() } : {}) };
}

async function watchUntilInterrupted(client: KvClient, key: string, options: WatchCommandOptions): Promise<void> {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const stream = client.watch(options.prefix === true ? { prefix: key } : key, {
      ...(options.rev !== undefined ? { startRevision: options.rev } : {}),
      prevKv: options.prevKv === true,
      signal: controller.signal,
    });
    for await (const batch of stream) {
      for (const event of batch.events) {
        process.stdout.write((options.json ? JSON.stringify(eventJson(event)) : eventLine(event, options.prevKv === true)) + '\n');
      }
    }
  } catch (error) {
    if (error instanceof AbortedError && controller.signal.aborted) return;
    if (error instanceof CompactedError) throw new CliExit(ExitCode.NotFound, `${error.message}: watch from revision ${error.details.compactRevision + 1} or later`);
    throw error;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

export function registerWatchCommands(program: Command): void {
  addClientOptions(
    program
      .command('watch')
      .description('print every change of KEY (or of every key under a prefix) as it happens, one line per event, until Ctrl-C')
      .argument('<key>', 'the key, or the prefix with --prefix')
      .option('--prefix', 'watch every key that starts with KEY')
      .option('--rev <revision>', 'start at this revision (default: changes from now on)', parsePositiveInteger)
      .option('--prev-kv', 'also print the value each change replaced'),
  ).action(async (key: string, options: WatchCommandOptions) => {
    await withClient(options, 'read', `watch ${JSON.stringify(key)}`, (client) => watchUntilInterrupted(client, key, options));
  });

  addClientOptions(
    program
      .command('compact')
      .description('drop the watch history up to and including revision REV on every member (watches from it get a compacted error)')
      .argument('<revision>', 'the revision', parsePositiveInteger),
  ).action(async (revision: number, options: ClientCommandOptions) => {
    try {
      await withClient(options, 'write', `compact ${revision}`, (client) => client.compact(revision));
    } catch (error) {
      if (error instanceof CompactedError) throw new CliExit(ExitCode.NotFound, error.message);
      throw error;
    }
    if (options.json) process.stdout.write(JSON.stringify({ compacted: revision }) + '\n');
    else process.stdout.write(`compacted revision ${revision}\n`);
  });
}
