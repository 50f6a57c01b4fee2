/**
 * etcdctl's line form of a transaction, for `concord txn --interactive` (and
 * when stdin is a terminal): compares, a blank line, the success ops, a blank
 * line, the failure ops.
 *
 *   compare:  mod("key") > "0"    val("key") = "v"    version("key") = "2"
 *             create("key") = "0"    lease("key") = "0"
 *             (append --prefix to compare every key with that prefix)
 *   op:       get KEY [--prefix] [--limit N] | put KEY VALUE [--lease ID | --ttl SECONDS]
 *             | update KEY VALUE [--lease ID | --ttl SECONDS] | del KEY [--prefix]
 *             (--lease and --ttl as for `concord put`)
 *
 * Words may be double-quoted ("a b", with \" and \\ escapes).
 */
import type { TxnCompareSpec, TxnOpSpec, TxnSpec } from '../client/index.js';

export class TxnSyntaxError extends Error {}

/** Splits a line into words: whitespace-separated, double quotes group, backslash escapes inside quotes. */
export function words(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i]!)) i++;
    if (i >= line.length) break;
    let word = '';
    if (line[i] === '"') {
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length) i++;
        word += line[i++];
      }
      if (i >= line.length) throw new TxnSyntaxError(`unterminated quote in: ${line}`);
      i++;
    } else {
      while (i < line.length && !/\s/.test(line[i]!)) word += line[i++];
    }
    out.push(word);
  }
  return out;
}

const targetNames: Record<string, TxnCompareSpec['target']> = {
  val: 'value',
  value: 'value',
  ver: 'version',
  version: 'version',
  create: 'createRevision',
  createRevision: 'createRevision',
  mod: 'modRevision',
  modRevision: 'modRevision',
  lease: 'lease',
};

const compareLine = /^\s*(\w+)\("((?:[^"\\]|\\.)*)"\)\s*(=|!=|<|>)\s*("(?:[^"\\]|\\.)*"|\S+)\s*(--prefix)?\s*$/;

const unquote = (s: string): string => (s.startsWith('"') ? s.slice(1, -1).replace(/\\(.)/g, '$1') : s);

export function parseCompare(line: string): TxnCompareSpec {
  const m = compareLine.exec(line);
  if (m === null) throw new TxnSyntaxError(`not a compare (e.g. mod("key") > "0"): ${line}`);
  const target = targetNames[m[1]!];
  if (target === undefined) throw new TxnSyntaxError(`unknown compare target ${m[1]} (val, version, create, mod, lease)`);
  const key = unquote(`"${m[2]!}"`);
  const operand = unquote(m[4]!);
  const op = m[3] as TxnCompareSpec['op'];
  const prefix = m[5] !== undefined ? { prefix: true } : {};
  if (target === 'value') return { key, ...prefix, target, op, value: operand };
  if (!/^\d+$/.test(operand)) throw new TxnSyntaxError(`a ${target} compare needs a number: ${line}`);
  return { key, ...prefix, target, op, [target]: Number(operand) } as TxnCompareSpec;
}

/** The value of option `name` (`--name V` or `--name=V`) among `rest`, removing it; undefined when absent. */
function takeOption(rest: string[], name: string, line: string): string | undefined {
  const at = rest.findIndex((w) => w === name || w.startsWith(`${name}=`));
  if (at < 0) return undefined;
  const word = rest[at]!;
  const inline = word.length > name.length;
  if (!inline && at + 1 >= rest.length) throw new TxnSyntaxError(`${name} needs a value: ${line}`);
  const value = inline ? word.slice(name.length + 1) : rest[at + 1]!;
  rest.splice(at, inline ? 1 : 2);
  return value;
}

function positiveNumber(text: string | undefined, name: string, line: string, integer: boolean): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!(n > 0 && (integer ? Number.isSafeInteger(n) : Number.isFinite(n)))) throw new TxnSyntaxError(`${name} needs a positive ${integer ? 'integer' : 'number'}: ${line}`);
  return n;
}

export function parseOp(line: string): TxnOpSpec {
  const [verb, ...rest] = words(line);
  const limit = positiveNumber(takeOption(rest, '--limit', line), '--limit', line, true);
  const lease = positiveNumber(takeOption(rest, '--lease', line), '--lease', line, true);
  const ttlSeconds = positiveNumber(takeOption(rest, '--ttl', line), '--ttl', line, false);
  const flags = new Set(rest.filter((w) => w === '--prefix'));
  const args = rest.filter((w) => w !== '--prefix');
  if ((lease !== undefined || ttlSeconds !== undefined) && verb !== 'put' && verb !== 'update') throw new TxnSyntaxError(`only put and update take --lease or --ttl: ${line}`);
  if (lease !== undefined && ttlSeconds !== undefined) throw new TxnSyntaxError(`give --lease or --ttl, not both: ${line}`);
  const need = (n: number): void => {
    if (args.length !== n) throw new TxnSyntaxError(`${verb} takes ${n === 1 ? 'KEY' : 'KEY VALUE'}: ${line}`);
  };
  switch (verb) {
    case 'get':
      need(1);
      if (flags.size > 0 || limit !== undefined) return { type: 'scan', key: args[0]!, prefix: flags.size > 0, ...(limit !== undefined ? { limit } : {}) };
      return { type: 'get', key: args[0]! };
    case 'scan':
      need(1);
      return { type: 'scan', key: args[0]!, prefix: true, ...(limit !== undefined ? { limit } : {}) };
    case 'put':
    case 'update':
      need(2);
      return {
        type: verb,
        key: args[0]!,
        value: args[1]!,
        ...(lease !== undefined ? { lease } : {}),
        // As `concord put --ttl`: seconds, at least 1 ms.
        ...(ttlSeconds !== undefined ? { ttlMs: Math.max(1, Math.round(ttlSeconds * 1000)) } : {}),
      };
    case 'del':
    case 'delete':
      need(1);
      return { type: 'delete', key: args[0]!, ...(flags.size > 0 ? { prefix: true } : {}) };
    default:
      throw new TxnSyntaxError(`unknown op ${verb ?? ''} (get, scan, put, update, del)`);
  }
}

/** The three sections of `text` (compares, success ops, failure ops), separated by blank lines. */
export function parseTxnLines(text: string): TxnSpec {
  const sections: string[][] = [[]];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') {
      if (sections.length < 3) sections.push([]);
      else if (sections[2]!.length > 0) break;
      continue;
    }
    sections[sections.length - 1]!.push(line);
  }
  return {
    compare: (sections[0] ?? []).map(parseCompare),
    success: (sections[1] ?? []).map(parseOp),
    failure: (sections[2] ?? []).map(parseOp),
  };
}
