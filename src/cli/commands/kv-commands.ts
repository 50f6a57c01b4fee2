/**
 * `concord get | put | update | del | scan`: one client call each against
 * `--endpoints`, printing the result for people (or one JSON document with
 * `--json`).
 */
import { Option, type Command } from 'commander';
import { KeyNotFoundError, LeaseNotFoundError, VersionMismatchError, type KeyValueResult } from '../../client/index.js';
import { Consistency } from '../../protocol/index.js';
import { addClientOptions, withClient, type ClientCommandOptions } from '../client-options.js';
import { CliExit, ExitCode } from '../exit-codes.js';
import { parseNonNegativeInteger, parsePositiveInteger, parsePositiveNumber } from '../parse.js';

/** Largest value `concord put KEY -` reads from stdin (the member's own limit may be lower). */
export const STDIN_VALUE_BYTES_MAX = 64 * 1024 * 1024;

/** The value argument: `-` reads all of stdin (bytes as they are), anything else is UTF-8 text. */
async function valueArgument(value: string): Promise<string | Uint8Array> {
  if (value !== '-') return value;
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of process.stdin) {
    bytes += (chunk as Buffer).length;
    if (bytes > STDIN_VALUE_BYTES_MAX) throw new CliExit(ExitCode.Usage, `the value on stdin is over ${STDIN_VALUE_BYTES_MAX} bytes`);
    chunks.push(chunk as Buffer);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

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
  if (error instanceof LeaseNotFoundError) throw new CliExit(ExitCode.NotFound, error.message);
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
        .argument('<value>', 'the value (UTF-8 text; - reads it from stdin, as bytes)')
        .option('--expected-version <n>', 'compare-and-set: apply only if the key\'s version is n (0: only if it does not exist)', parseNonNegativeInteger)
        .option('--expected-mod-revision <n>', 'compare-and-set: apply only if the key\'s modRevision is n', parseNonNegativeInteger)
        .option('--lease <id>', 'attach the key to lease ID (deleted when the lease expires or is revoked)', parsePositiveInteger)
        .option('--ttl <seconds>', 'delete the key this many seconds after the write (its own TTL)', parsePositiveNumber),
    ).action(async (key: string, valueArg: string, options: ClientCommandOptions & { expectedVersion?: number; expectedModRevision?: number; lease?: number; ttl?: number }) => {
      if (options.lease !== undefined && options.ttl !== undefined) throw new CliExit(ExitCode.Usage, 'give --lease or --ttl, not both');
      const value = await valueArgument(valueArg);
      const expiry = {
        ...(options.lease !== undefined ? { lease: options.lease } : {}),
        ...(options.ttl !== undefined ? { ttlMs: Math.max(1, Math.round(options.ttl * 1000)) } : {}),
      };
      const result = await withClient(options, 'write', `${name} ${JSON.stringify(key)}`, (client) =>
        client[name](key, value, { ...writeConditions(options), ...expiry }),
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
