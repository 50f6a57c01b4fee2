/**
 * The command table: name -> arity, flags and handler, with Redis's lookup and arity texts.
 *
 * Arity and flags come from `@ioredis/commands` (Redis's own COMMAND output, kept current by the
 * ioredis maintainers), so registering a handler is one line and the arity check matches Redis's
 * for every command. Only registered commands exist here: anything else answers Redis's exact
 * `unknown command` text, which is how out-of-scope commands (lists, hashes ...) must answer.
 * Container commands (CLIENT, COMMAND, CONFIG ...) register per subcommand (`client|setname`).
 */
import { createRequire } from 'node:module';
import { assert } from '../common/errors.js';
import type { Reply } from './reply.js';
import { reply } from './reply.js';
import type { ConnectionState, ConnectionServices } from './connection-state.js';

interface RedisCommandJson {
  readonly arity: number;
  readonly flags: readonly string[];
  readonly keyStart: number;
  readonly keyStop: number;
  readonly step: number;
  readonly subcommands?: Record<string, RedisCommandJson>;
}

const redisCommands = createRequire(import.meta.url)('@ioredis/commands/built/commands.json') as Record<string, RedisCommandJson>;

/** Redis's command flags as COMMAND INFO spells them, plus Concord's own `barrier`. */
export const CommandFlag = {
  write: 'write',
  readonly: 'readonly',
  fast: 'fast',
  denyoom: 'denyoom',
  admin: 'admin',
  noAuth: 'no_auth',
  loading: 'loading',
  stale: 'stale',
  /**
   * Concord's: the command changes connection state that later commands depend on (AUTH, HELLO,
   * MULTI/EXEC ...). The driver dispatches it only when nothing is in flight, and nothing after it
   * until it completes. Redis needs no such flag: it runs one command at a time.
   */
  barrier: 'barrier',
} as const;
export type CommandFlag = (typeof CommandFlag)[keyof typeof CommandFlag];

export interface CommandSpec {
  /** Lowercase full name, as in Redis's errors: `get`, `client|setname`. */
  readonly fullName: string;
  /** Redis arity: n > 0 exactly n arguments with the name; -n at least n. */
  readonly arity: number;
  readonly flags: ReadonlySet<string>;
  /** Key positions (1-based in args, Redis's first/last/step; 0 when the command has no keys). */
  readonly firstKey: number;
  readonly lastKey: number;
  readonly keyStep: number;
}

/** What a handler gets: the arguments (args[0] is the name as sent) and the connection's state. */
export interface CommandCall {
  readonly args: readonly Buffer[];
  readonly spec: CommandSpec;
  readonly connection: ConnectionState;
  readonly services: ConnectionServices;
}

export type CommandHandler = (call: CommandCall) => Reply | Promise<Reply>;

export interface CommandEntry {
  readonly spec: CommandSpec;
  readonly handler: CommandHandler;
}

export interface CommandOverrides {
  readonly arity?: number;
  /** Flags added to Redis's (e.g. `barrier`). */
  readonly extraFlags?: readonly string[];
}

export type CommandLookup =
  | { readonly kind: 'found'; readonly entry: CommandEntry }
  | { readonly kind: 'rejected'; readonly reply: Reply };

/** Redis 7's unknown-command text: the name and the arguments, cut near 128 bytes as Redis cuts them. */
export function unknownCommandText(args: readonly Buffer[]): string {
  const name = args[0]!.subarray(0, 128).toString('utf8');
  let list = Buffer.alloc(0);
  for (let i = 1; i < args.length && list.length < 128; i++) {
    const room = 128 - list.length;
    list = Buffer.concat([list, Buffer.from("'"), args[i]!.subarray(0, room), Buffer.from("' ")]);
  }
  return `ERR unknown command '${name}', with args beginning with: ${list.toString('utf8')}`;
}

export function unknownSubcommandText(container: string, sub: Buffer): string {
  return `ERR unknown subcommand '${sub.subarray(0, 128).toString('utf8')}'. Try ${container.toUpperCase()} HELP.`;
}

export function wrongArityText(fullName: string): string {
  return `ERR wrong number of arguments for '${fullName}' command`;
}

export function arityAccepts(arity: number, argc: number): boolean {
  return arity > 0 ? argc === arity : argc >= -arity;
}

export function redisCommandSpec(fullName: string): CommandSpec | undefined {
  const [base, sub] = fullName.toLowerCase().split('|');
  const json = sub === undefined ? redisCommands[base!] : redisCommands[base!]?.subcommands?.[sub];
  if (json === undefined) return undefined;
  return {
    fullName: fullName.toLowerCase(),
    arity: json.arity,
    flags: new Set(json.flags),
    firstKey: json.keyStart,
    lastKey: json.keyStop,
    keyStep: json.step,
  };
}

interface Slot {
  entry?: CommandEntry;
  /** The container's own arity (Redis's, -2 for CLIENT), for `CLIENT` alone. */
  containerArity?: number;
  subcommands?: Map<string, CommandEntry>;
}

/**
 * Sees every lookup a connection makes and may answer it otherwise: MULTI
 * queues the commands that follow it, and marks the transaction failed when
 * one is refused (unknown command, wrong arity).
 */
export type LookupInterceptor = (args: readonly Buffer[], connection: ConnectionState, found: CommandLookup) => CommandLookup;

export class CommandTable {
  private readonly slots = new Map<string, Slot>();
  private readonly interceptors: LookupInterceptor[] = [];

  /** Adds an interceptor (MULTI's queue, command statistics); lookups that name a connection go through each, in order. */
  intercept(interceptor: LookupInterceptor): this {
    this.interceptors.push(interceptor);
    return this;
  }

  /**
   * Registers `fullName` (`get`, `client|setname`) with Redis's arity and flags. A name Redis does
   * not know needs `overrides.arity`.
   */
  register(fullName: string, handler: CommandHandler, overrides: CommandOverrides = {}): this {
    const known = redisCommandSpec(fullName);
    const lower = fullName.toLowerCase();
    assert(known !== undefined || overrides.arity !== undefined, `command ${fullName} is not Redis's: give its arity`);
    const flags = new Set(known?.flags ?? []);
    for (const f of overrides.extraFlags ?? []) flags.add(f);
    const spec: CommandSpec = {
      fullName: lower,
      arity: overrides.arity ?? known!.arity,
      flags,
      firstKey: known?.firstKey ?? 0,
      lastKey: known?.lastKey ?? 0,
      keyStep: known?.keyStep ?? 0,
    };
    const [base, sub] = lower.split('|') as [string, string | undefined];
    const slot = this.slots.get(base) ?? {};
    this.slots.set(base, slot);
    if (sub === undefined) {
      assert(slot.entry === undefined && slot.subcommands === undefined, `command ${lower} registered twice`);
      slot.entry = { spec, handler };
    } else {
      assert(slot.entry === undefined, `command ${base} has a handler and subcommands`);
      slot.subcommands ??= new Map();
      assert(!slot.subcommands.has(sub), `command ${lower} registered twice`);
      slot.subcommands.set(sub, { spec, handler });
      slot.containerArity = redisCommandSpec(base)?.arity ?? -2;
    }
    return this;
  }

  has(fullName: string): boolean {
    const [base, sub] = fullName.toLowerCase().split('|') as [string, string | undefined];
    const slot = this.slots.get(base);
    return sub === undefined ? slot !== undefined : slot?.subcommands?.has(sub) === true;
  }

  /** Full names of every registered command (for COMMAND COUNT/INFO later). */
  names(): string[] {
    const out: string[] = [];
    for (const [base, slot] of this.slots) {
      if (slot.entry) out.push(base);
      for (const sub of slot.subcommands?.keys() ?? []) out.push(`${base}|${sub}`);
    }
    return out;
  }

  /**
   * Redis's processCommand order: unknown command, unknown subcommand, then arity; with the
   * connection, the interceptor (if any) has the last word.
   */
  lookup(args: readonly Buffer[], connection?: ConnectionState): CommandLookup {
    let found = this.find(args);
    if (connection !== undefined) for (const interceptor of this.interceptors) found = interceptor(args, connection, found);
    return found;
  }

  private find(args: readonly Buffer[]): CommandLookup {
    assert(args.length > 0, 'a request has a name');
    const base = args[0]!.toString('latin1').toLowerCase();
    const slot = this.slots.get(base);
    if (slot === undefined) return { kind: 'rejected', reply: reply.error(unknownCommandText(args)) };
    if (slot.entry !== undefined) {
      const entry = slot.entry;
      if (!arityAccepts(entry.spec.arity, args.length)) return { kind: 'rejected', reply: reply.error(wrongArityText(entry.spec.fullName)) };
      return { kind: 'found', entry };
    }
    if (args.length < 2 || !arityAccepts(slot.containerArity ?? -2, args.length)) {
      return { kind: 'rejected', reply: reply.error(wrongArityText(base)) };
    }
    const entry = slot.subcommands!.get(args[1]!.toString('latin1').toLowerCase());
    if (entry === undefined) return { kind: 'rejected', reply: reply.error(unknownSubcommandText(base, args[1]!)) };
    if (!arityAccepts(entry.spec.arity, args.length)) return { kind: 'rejected', reply: reply.error(wrongArityText(entry.spec.fullName)) };
    return { kind: 'found', entry };
  }
}
