/**
 * `concord txn`: one multi-key transaction, from a JSON file (`-f FILE`), a
 * JSON document on stdin, or etcdctl's line form (`--interactive`, and by
 * default when stdin is a terminal: compares, blank line, success ops, blank
 * line, failure ops). Prints SUCCESS or FAILURE and each op's result, or one
 * JSON document with `--json`. Exit 0 either way (as etcdctl): the branch is
 * the answer, not an error.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Option, type Command } from 'commander';
import type { TxnOpResult, TxnResult, TxnSpec } from '../../client/index.js';
import { Consistency } from '../../protocol/index.js';
import { CliExit, ExitCode } from '../exit-codes.js';
import { addClientOptions, withClient, type ClientCommandOptions } from '../client-options.js';
import { parseTxnLines, TxnSyntaxError } from '../txn-lines.js';

/** Largest transaction document read from a file or stdin (a transaction entry is bounded by the members anyway). */
const TXN_INPUT_BYTES_MAX = 64 * 1024 * 1024;

interface TxnCommandOptions extends ClientCommandOptions {
  readonly file?: string;
  readonly interactive?: boolean;
  readonly consistency: Consistency;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > TXN_INPUT_BYTES_MAX) throw new CliExit(ExitCode.Usage, `the transaction on stdin is over ${TXN_INPUT_BYTES_MAX} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** etcdctl's prompts, one section at a time, on a terminal. */
async function readInteractive(): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const prompts = ['compares:', 'success requests (get, scan, put, update, del):', 'failure requests (get, scan, put, update, del):'];
  const lines: string[] = [];
  let section = 0;
  process.stderr.write(`${prompts[0]}\n`);
  try {
    for await (const line of rl) {
      if (line.trim() !== '') {
        lines.push(line);
        continue;
      }
      lines.push('');
      if (++section === prompts.length) break;
      process.stderr.write(`\n${prompts[section]}\n`);
    }
  } finally {
    rl.close();
  }
  return lines.join('\n');
}

function parseJson(text: string, where: string): TxnSpec {
  try {
    return JSON.parse(text) as TxnSpec;
  } catch (error) {
    throw new CliExit(ExitCode.Usage, `${where} is not JSON: ${(error as Error).message}`);
  }
}

async function readSpec(options: TxnCommandOptions): Promise<TxnSpec> {
  try {
    if (options.file !== undefined) {
      const text = options.file === '-' ? await readStdin() : readFileSync(options.file, 'utf8');
      return options.interactive ? parseTxnLines(text) : parseJson(text, options.file);
    }
    if (process.stdin.isTTY) return parseTxnLines(await readInteractive());
    const text = await readStdin();
    return options.interactive ? parseTxnLines(text) : parseJson(text, 'stdin');
  } catch (error) {
    if (error instanceof TxnSyntaxError) throw new CliExit(ExitCode.Usage, error.message);
    throw error;
  }
}

function isReadOnly(spec: TxnSpec): boolean {
  const ok = (ops: TxnSpec['success']): boolean => (ops ?? []).every((op) => op.type === 'get' || op.type === 'scan' || (op.type === 'txn' && isReadOnly(op)));
  return ok(spec.success) && ok(spec.failure);
}

function resultJson(r: TxnOpResult): unknown {
  switch (r.type) {
    case 'get':
      return { type: r.type, kv: r.kv?.toJSON() ?? null };
    case 'scan':
      return { type: r.type, kvs: r.kvs.map((kv) => kv.toJSON()), more: r.more };
    case 'txn':
      return { type: r.type, succeeded: r.succeeded, results: r.results.map(resultJson) };
    default:
      return r;
  }
}

function printResults(results: readonly TxnOpResult[], out: string[]): void {
  for (const r of results) {
    switch (r.type) {
      case 'get':
        if (r.kv !== null) out.push(r.kv.keyString(), r.kv.valueString());
        break;
      case 'scan':
        for (const kv of r.kvs) out.push(kv.keyString(), kv.valueString());
        break;
      case 'put':
      case 'update':
        out.push('OK');
        break;
      case 'delete':
        out.push(String(r.deleted));
        break;
      case 'txn':
        out.push(r.succeeded ? 'SUCCESS' : 'FAILURE', '');
        printResults(r.results, out);
        break;
    }
  }
}

export function registerTxnCommand(program: Command): void {
  addClientOptions(
    program
      .command('txn')
      .description('run one transaction: if every compare holds, the success ops, else the failure ops, atomically')
      .option('-f, --file <path>', 'read the transaction from a JSON file (- for stdin)')
      .option('-i, --interactive', 'etcdctl\'s line form: compares, blank line, success ops, blank line, failure ops (default when stdin is a terminal)')
      .addOption(
        new Option('--consistency <mode>', 'read-only transactions: linearizable, or stale (the contacted member\'s copy)')
          .choices([Consistency.Linearizable, Consistency.Stale])
          .default(Consistency.Linearizable),
      ),
  ).action(async (options: TxnCommandOptions) => {
    const spec = await readSpec(options);
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new CliExit(ExitCode.Usage, 'a transaction is an object { compare, success, failure }');
    const result: TxnResult = await withClient(options, isReadOnly(spec) ? 'read' : 'write', 'txn', (client) =>
      client.txn(spec, { consistency: options.consistency, timeoutMs: options.timeout }),
    );
    if (options.json) {
      process.stdout.write(JSON.stringify({ succeeded: result.succeeded, revision: result.revision, results: result.results.map(resultJson) }) + '\n');
      return;
    }
    const out = [result.succeeded ? 'SUCCESS' : 'FAILURE', ''];
    printResults(result.results, out);
    process.stdout.write(out.join('\n') + '\n');
  });
}
