/**
 * The connection commands Redis clients send before anything else: PING, ECHO, QUIT, SELECT,
 * HELLO, AUTH, CLIENT SETNAME|GETNAME|ID|SETINFO. Texts follow Redis 7.0's server.c/networking.c.
 */
import { type CommandCall, CommandFlag, CommandTable } from './command-table.js';
import { type ConnectionState, type ConnectionServices, AuthOutcome } from './connection-state.js';
import { type Reply, reply } from './reply.js';
import { ProtocolVersion } from './reply-writer.js';
import { parseRedisInteger } from './request-decoder.js';

export const ConnectionErrorText = {
  syntax: 'ERR syntax error',
  notInteger: 'ERR value is not an integer or out of range',
  dbOutOfRange: 'ERR DB index is out of range',
  protocolVersionNotInteger: 'ERR Protocol version is not an integer or out of range',
  noProto: 'NOPROTO unsupported protocol version',
  wrongPass: 'WRONGPASS invalid username-password pair or user is disabled.',
  noAuth: 'NOAUTH Authentication required.',
  helloNoAuth:
    'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
  authWithoutPassword:
    'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
  badClientName: 'ERR Client names cannot contain spaces, newlines or special characters.',
} as const;

/** Redis: names are printable ASCII without spaces ('!'..'~'). */
function validName(b: Buffer): boolean {
  for (const c of b) if (c < 0x21 || c > 0x7e) return false;
  return true;
}

function integerArg(b: Buffer): number | null {
  return parseRedisInteger(b, 0, b.length);
}

function argIs(b: Buffer | undefined, word: string): boolean {
  return b !== undefined && b.length === word.length && b.toString('latin1').toLowerCase() === word;
}

async function checkCredentials(state: ConnectionState, services: ConnectionServices, user: Buffer, password: Buffer): Promise<Reply | null> {
  const name = user.toString('utf8');
  let outcome: AuthOutcome;
  if (services.authenticate === undefined) {
    // No authentication configured: the default user has no password and takes any.
    outcome = name === 'default' ? AuthOutcome.ok : AuthOutcome.wrongPassword;
  } else {
    outcome = await services.authenticate(name, password, state);
  }
  if (outcome !== AuthOutcome.ok) return reply.error(ConnectionErrorText.wrongPass);
  state.authenticated = true;
  state.user = name;
  return null;
}

function setName(state: ConnectionState, name: Buffer): Reply | null {
  if (!validName(name)) return reply.error(ConnectionErrorText.badClientName);
  state.name = name.length === 0 ? null : name.toString('latin1');
  return null;
}

export function helloReply(state: ConnectionState, services: ConnectionServices): Reply {
  const id = services.identity;
  return reply.map([
    [reply.bulk('server'), reply.bulk(id.server)],
    [reply.bulk('version'), reply.bulk(id.version)],
    [reply.bulk('proto'), reply.integer(state.protocol)],
    [reply.bulk('id'), reply.integer(state.id)],
    [reply.bulk('mode'), reply.bulk(id.mode)],
    [reply.bulk('role'), reply.bulk(id.role())],
    [reply.bulk('modules'), reply.array([])],
  ]);
}

async function hello({ args, connection: state, services }: CommandCall): Promise<Reply> {
  let next = 1;
  let version: number | null = null;
  if (args.length >= 2) {
    version = integerArg(args[next++]!);
    if (version === null) return reply.error(ConnectionErrorText.protocolVersionNotInteger);
    if (version < 2 || version > 3) return reply.error(ConnectionErrorText.noProto);
  }
  let user: Buffer | null = null;
  let password: Buffer | null = null;
  let name: Buffer | null = null;
  for (let j = next; j < args.length; j++) {
    const more = args.length - 1 - j;
    if (argIs(args[j], 'auth') && more >= 2) {
      user = args[j + 1]!;
      password = args[j + 2]!;
      j += 2;
    } else if (argIs(args[j], 'setname') && more >= 1) {
      name = args[j + 1]!;
      j += 1;
    } else {
      return reply.error(`ERR Syntax error in HELLO option '${args[j]!.toString('utf8')}'`);
    }
  }
  if (user !== null && password !== null) {
    const refused = await checkCredentials(state, services, user, password);
    if (refused) return refused;
  }
  if (name !== null) {
    const refused = setName(state, name);
    if (refused) return refused;
  }
  if (!state.authenticated) return reply.error(ConnectionErrorText.helloNoAuth);
  if (version !== null) state.protocol = version as ProtocolVersion;
  return helloReply(state, services);
}

async function auth({ args, connection: state, services }: CommandCall): Promise<Reply> {
  if (args.length > 3) return reply.error(ConnectionErrorText.syntax);
  if (args.length === 2 && !services.authRequired) return reply.error(ConnectionErrorText.authWithoutPassword);
  const user = args.length === 3 ? args[1]! : Buffer.from('default');
  const refused = await checkCredentials(state, services, user, args[args.length - 1]!);
  return refused ?? reply.ok;
}

const setInfoAttributes = new Set(['lib-name', 'lib-ver']);

/** Adds the connection commands to `table` (the command layer adds the data commands). */
export function registerConnectionCommands(table: CommandTable): CommandTable {
  return table
    .register('ping', ({ args }) => {
      if (args.length > 2) return reply.error("ERR wrong number of arguments for 'ping' command");
      return args.length === 2 ? reply.bulk(args[1]!) : reply.pong;
    })
    .register('echo', ({ args }) => reply.bulk(args[1]!))
    .register('quit', ({ connection }) => {
      connection.closeAfterReply = true;
      return reply.ok;
    })
    .register('select', ({ args }) => {
      const db = integerArg(args[1]!);
      if (db === null) return reply.error(ConnectionErrorText.notInteger);
      return db === 0 ? reply.ok : reply.error(ConnectionErrorText.dbOutOfRange);
    })
    .register('hello', hello, { extraFlags: [CommandFlag.barrier] })
    .register('auth', auth, { extraFlags: [CommandFlag.barrier] })
    .register('client|setname', ({ args, connection }) => setName(connection, args[2]!) ?? reply.ok)
    .register('client|getname', ({ connection }) => reply.bulkOrNull(connection.name))
    .register('client|id', ({ connection }) => reply.integer(connection.id))
    .register('client|setinfo', ({ args, connection }) => {
      const attr = args[2]!.toString('latin1').toLowerCase();
      if (!setInfoAttributes.has(attr)) return reply.error(`ERR Unrecognized option '${args[2]!.toString('utf8')}'`);
      if (!validName(args[3]!) && args[3]!.length > 0) {
        return reply.error(`ERR ${attr} cannot contain spaces, newlines or special characters.`);
      }
      const value = args[3]!.length === 0 ? null : args[3]!.toString('latin1');
      if (attr === 'lib-name') connection.libName = value;
      else connection.libVersion = value;
      return reply.ok;
    });
}

/** A table with the connection commands only. */
export function connectionCommandTable(): CommandTable {
  return registerConnectionCommands(new CommandTable());
}
