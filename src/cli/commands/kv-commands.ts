/**
 * `concord get | put | update | del | scan`: one client call each against
 * `--endpoints`, printing the result for people (or one JSON document with
 * `--json`).
 */
import { Option, type Command } from 'commander';
import { KeyNotFoundError, VersionMismatchError, type KeyValueResult } from '../../client/index.js';
import { Consistency } from '../../protocol/index.js';
import { addClientOptions, withClient, type ClientCommandOptions } from '../client-options.js';
import { CliExit, ExitCode } from '../exit-codes.js';
import { parseNonNegativeInteger, parsePositiveInteger } from '../parse.js';

function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

function printValue(kv: KeyValueResult): void {
  process.stdout.write(kv.value);
  process.stdout.write('\n');
}

function writeConditions(options: { expectedVersion?: number; expectedModRevision?: number }): {
  expectedVersion?: number;
  expectedModRevision?: number;
} {
  const out: { expectedVersion?: number; expectedModRevision?: number } = {};
  if (options.expectedVersion !== undefined) out.expectedVersion = options.expectedVersion;
  if (options.expectedModRevision !== undefined) out.expectedModRevision = options.expectedModRevision;
  return out;
}

/** Turns the errors a key command expects into exit codes; anything else is a failure (exit 3). */
function asCliExit(error: unknown): never {
  if (error instanceof KeyNotFoundError) throw new CliExit(ExitCode.NotFound, error.message);
  if (error instanceof VersionMismatchError) throw new CliExit(ExitCode.NotFound, error.message);
  throw error;
}

export function registerKvCommands(program: Command): void {
  addClientOptions(
    program
      .command('get')
      .description('print the value of KEY (exit 1 if it does not exist)')
      .argument('<key>', 'the key')
      .addOption(
        new Option('--consistency <mode>', 'linearizable: reflects every acknowledged write; stale: the contacted member\'s copy')
          .choices([Consistency.Linearizable, Consistency.Stale])
          .default(Consistency.Linearizable),
      ),
  ).action(async (key: string, options: ClientCommandOptions & { consistency: Consistency }) => {
    const kv = await withClient(options, 'read', `get ${JSON.stringify(key)}`, (client) => client.get(key, { consistency: options.consistency }));
    if (kv === null) throw new CliExit(ExitCode.NotFound, `key ${JSON.stringify(key)} not found`);
    if (options.json) printJson(kv.toJSON());
    else printValue(kv);
  });

  for (const name of ['put', 'update'] as const) {
    addClientOptions(
      program
        .command(name)
        .description(
          name === 'put'
            ? 'set KEY to VALUE, creating it if needed'
            : 'set KEY to VALUE only if KEY exists (exit 1 if it does not)',
        )
        .argument('<key>', 'the key')
        .argument('<value>', 'the value (UTF-8 text)')
        .option('--expected-version <n>', 'compare-and-set: apply only if the key\'s version is n (0: only if it does not exist)', parseNonNegativeInteger)
        .option('--expected-mod-revision <n>', 'compare-and-set: apply only if the key\'s modRevision is n', parseNonNegativeInteger),
    ).action(async (key: string, value: string, options: ClientCommandOptions & { expectedVersion?: number; expectedModRevision?: number }) => {
      const result = await withClient(options, 'write', `${name} ${JSON.stringify(key)}`, (client) =>
        client[name](key, value, writeConditions(options)),
      ).catch(asCliExit);
      if (options.json) printJson({ key, ...result });
      else process.stdout.write(`OK (version ${result.version}, revision ${result.revision})\n`);
    });
  }

  addClientOptions(
    program
      .command('del')
      .alias('delete')
      .description('delete KEY (exit 1 if it does not exist)')
      .argument('<key>', 'the key')
      .option('--expected-version <n>', 'apply only if the key\'s version is n', parseNonNegativeInteger)
      .option('--expected-mod-revision <n>', 'apply only if the key\'s modRevision is n', parseNonNegativeInteger),
  ).action(async (key: string, options: ClientCommandOptions & { expectedVersion?: number; expectedModRevision?: number }) => {
    const result = await withClient(options, 'write', `del ${JSON.stringify(key)}`, (client) => client.delete(key, writeConditions(options))).catch(asCliExit);
    if (options.json) printJson({ key, ...result });
    if (!result.deleted) throw new CliExit(ExitCode.NotFound, `key ${JSON.stringify(key)} not found`);
    if (!options.json) process.stdout.write(`OK (deleted at revision ${result.revision})\n`);
  });

  addClientOptions(
    program
      .command('scan')
      .description('list keys starting with PREFIX in key order, one "key<TAB>value" per line')
      .argument('[prefix]', 'key prefix (default: every key)', '')
      .option('--limit <n>', 'at most n keys', parsePositiveInteger)
      .addOption(
        new Option('--consistency <mode>', 'linearizable or stale (per page)')
          .choices([Consistency.Linearizable, Consistency.Stale])
          .default(Consistency.Linearizable),
      ),
  ).action(async (prefix: string, options: ClientCommandOptions & { limit?: number; consistency: Consistency }) => {
    await withClient(options, 'read', `scan ${JSON.stringify(prefix)}`, async (client) => {
      const scan = client.scan({ prefix }, { consistency: options.consistency, timeoutMs: options.timeout, ...(options.limit !== undefined ? { limit: options.limit } : {}) });
      if (options.json) {
        printJson((await scan.toArray()).map((kv) => kv.toJSON()));
        return;
      }
      for await (const page of scan) {
        process.stdout.write(page.map((kv) => `${kv.keyString()}\t${kv.valueString()}\n`).join(''));
      }
    });
  });
}
