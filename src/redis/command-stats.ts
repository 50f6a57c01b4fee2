/**
 * INFO commandstats and errorstats, counted where every command of every
 * connection passes: the table's lookup (an interceptor). A command refused
 * before it runs (unknown, wrong arity, NOAUTH is not seen here) counts as a
 * rejected call and as an error of its first word; the time spent and the
 * calls that failed while running are not measured (usec and failed_calls
 * are 0): counting them would cost every command a wrapper.
 */
import type { CommandLookup, CommandTable } from '../resp/index.js';

interface CommandCounts {
  calls: number;
  rejected: number;
}

/** Distinct error prefixes counted (Redis caps errorstats at 128 as well). */
export const ERROR_PREFIXES_MAX = 128;

export class CommandStats {
  private readonly commands = new Map<string, CommandCounts>();
  private readonly errors = new Map<string, number>();

  install(table: CommandTable): CommandTable {
    return table.intercept((args, _connection, found) => this.count(args, found));
  }

  /** CONFIG RESETSTAT. */
  reset(): void {
    this.commands.clear();
    this.errors.clear();
  }

  private count(args: readonly Buffer[], found: CommandLookup): CommandLookup {
    if (found.kind === 'found') {
      this.counts(found.entry.spec.fullName).calls++;
      return found;
    }
    // Only known commands get a commandstats line (Redis counts an unknown one nowhere but errorstats).
    const message = found.reply.type === 'error' ? found.reply.message : 'ERR';
    const name = args[0]!.toString('latin1').toLowerCase();
    if (this.commands.has(name) || !message.startsWith('ERR unknown command')) this.counts(name).rejected++;
    const prefix = message.split(' ', 1)[0]!;
    if (this.errors.has(prefix) || this.errors.size < ERROR_PREFIXES_MAX) this.errors.set(prefix, (this.errors.get(prefix) ?? 0) + 1);
    return found;
  }

  private counts(name: string): CommandCounts {
    let counts = this.commands.get(name);
    if (counts === undefined) {
      counts = { calls: 0, rejected: 0 };
      this.commands.set(name, counts);
    }
    return counts;
  }

  commandLines(): string[] {
    return [...this.commands].map(([name, c]) => `cmdstat_${name}:calls=${c.calls},usec=0,usec_per_call=0.00,rejected_calls=${c.rejected},failed_calls=0`);
  }

  errorLines(): string[] {
    return [...this.errors].map(([prefix, count]) => `errorstat_${prefix}:count=${count}`);
  }
}
