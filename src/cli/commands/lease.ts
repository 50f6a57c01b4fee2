/**
 * `concord lease grant | keep-alive | revoke | ttl | list`: etcdctl's lease
 * commands. TTLs are given and shown in seconds (as etcdctl does); ids are
 * decimal integers.
 */
import type { Command } from 'commander';
import { bytesToString, LeaseNotFoundError, type KvClient } from '../../client/index.js';
import { CliExit, ExitCode } from '../exit-codes.js';
import { parsePositiveInteger, parsePositiveNumber } from '../parse.js';
import { addClientOptions, withClient, type ClientCommandOptions } from '../client-options.js';

function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

const seconds = (ms: number): string => `${Math.round(ms / 100) / 10}s`;

function notFound(error: unknown): never {
  if (error instanceof LeaseNotFoundError) throw new CliExit(ExitCode.NotFound, error.message);
  throw error;
}

export function registerLeaseCommands(program: Command): void {
  const lease = program.command('lease').description('grant, keep alive, revoke and inspect leases (keys attached to a lease are deleted with it)');

  addClientOptions(
    lease
      .command('grant')
      .description('grant a lease of TTL seconds and print its id')
      .argument('<ttl>', 'time to live in seconds', parsePositiveNumber),
  ).action(async (ttl: number, options: ClientCommandOptions) => {
    const granted = await withClient(options, 'write', 'lease grant', (client) => client.lease.grant(Math.round(ttl * 1000)));
    if (options.json) printJson(granted);
    else process.stdout.write(`lease ${granted.id} granted with TTL(${seconds(granted.ttlMs)})\n`);
  });

  addClientOptions(
    lease
      .command('keep-alive')
      .alias('keepalive')
      .description('keep lease ID alive until Ctrl-C (exit 1 when the lease is lost)')
      .argument('<id>', 'the lease id', parsePositiveInteger),
  ).action(async (id: number, options: ClientCommandOptions) => {
    await withClient(options, 'write', `lease keep-alive ${id}`, (client) => keepAliveUntilInterrupted(client, id, options.json === true));
  });

  addClientOptions(
    lease
      .command('revoke')
      .description('revoke lease ID and delete every key attached to it')
      .argument('<id>', 'the lease id', parsePositiveInteger),
  ).action(async (id: number, options: ClientCommandOptions) => {
    const result = await withClient(options, 'write', `lease revoke ${id}`, (client) => client.lease.revoke(id)).catch(notFound);
    if (options.json) printJson({ id, ...result });
    else process.stdout.write(`lease ${id} revoked (${result.deletedKeys} keys deleted at revision ${result.revision})\n`);
  });

  addClientOptions(
    lease
      .command('ttl')
      .alias('timetolive')
      .description('show the time left of lease ID')
      .argument('<id>', 'the lease id', parsePositiveInteger)
      .option('--keys', 'also list the keys attached'),
  ).action(async (id: number, options: ClientCommandOptions & { keys?: boolean }) => {
    const info = await withClient(options, 'read', `lease timetolive ${id}`, (client) => client.lease.timeToLive(id, { keys: options.keys === true })).catch(notFound);
    const keys = info.keys.map((k) => bytesToString(k));
    if (options.json) {
      printJson({ id: info.id, ttlMs: info.ttlMs, grantedTtlMs: info.grantedTtlMs, ...(options.keys ? { keys } : {}) });
      return;
    }
    const attached = options.keys ? `, attached keys([${keys.join(' ')}])` : '';
    process.stdout.write(`lease ${info.id} granted with TTL(${seconds(info.grantedTtlMs)}), remaining(${seconds(info.ttlMs)})${attached}\n`);
  });

  addClientOptions(lease.command('list').description('list every lease')).action(async (options: ClientCommandOptions) => {
    const leases = await withClient(options, 'read', 'lease list', (client) => client.lease.list());
    if (options.json) {
      printJson({ leases: [...leases], more: leases.more === true });
      return;
    }
    process.stdout.write(`found ${leases.length}${leases.more ? '+' : ''} leases\n`);
    for (const l of leases) process.stdout.write(`${l.id}\tTTL(${seconds(l.grantedTtlMs)}) remaining(${seconds(l.ttlMs)}) keys(${l.keyCount})\n`);
  });
}

/** Renews the lease every third of its TTL, printing each renewal, until SIGINT/SIGTERM (exit 0) or loss (exit 1). */
async function keepAliveUntilInterrupted(client: KvClient, id: number, json: boolean): Promise<void> {
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    for (;;) {
      let ttlMs: number;
      try {
        ttlMs = await client.lease.keepAliveOnce(id);
      } catch (error) {
        if (error instanceof LeaseNotFoundError) throw new CliExit(ExitCode.NotFound, `lease ${id} expired or was revoked`);
        throw error;
      }
      if (json) printJson({ id, ttlMs });
      else process.stdout.write(`lease ${id} keepalived with TTL(${seconds(ttlMs)})\n`);
      let timer: NodeJS.Timeout | undefined;
      const next = new Promise<'next'>((resolve) => (timer = setTimeout(() => resolve('next'), Math.max(100, Math.floor(ttlMs / 3)))));
      const outcome = await Promise.race([next, stopped.then(() => 'stop' as const)]);
      clearTimeout(timer);
      if (outcome === 'stop') return;
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
