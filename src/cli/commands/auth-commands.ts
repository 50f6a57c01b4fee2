/**
 * `concord user | role | auth ...`: users, roles and the auth switch, as
 * etcdctl spells them (`user add`, `role grant-permission`, `auth enable`).
 * Administration needs `root` once auth is enabled (docs/security.md).
 */
import { Argument, type Command } from 'commander';
import type { KvClient } from '../../client/index.js';
import { isFromKey, prefixPermissionRange } from '../../kv/index.js';
import type { WirePermission } from '../../protocol/index.js';
import { addClientOptions, withClient, type ClientCommandOptions } from '../client-options.js';
import { CliExit, ExitCode } from '../exit-codes.js';
import { readHiddenLine, readStdinLine } from '../password-prompt.js';

const utf8 = new TextEncoder();
const text = new TextDecoder();
const accesses = ['read', 'write', 'readwrite'] as const;
type Access = (typeof accesses)[number];

interface PasswordOptions {
  /** false: --no-password (commander's negation of --password). */
  readonly password?: string | false;
  readonly passwordStdin?: boolean;
}

function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

/** Runs one admin call (no session needed: it proposes outside the exactly-once path). */
function admin<T>(options: ClientCommandOptions, action: string, body: (client: KvClient) => Promise<T>): Promise<T> {
  return withClient(options, 'read', action, body);
}

/** The new password: --password, --password-stdin, --no-password (null), else asked twice on a terminal. */
async function newPassword(name: string, options: PasswordOptions): Promise<string | null> {
  if (options.password !== undefined && options.passwordStdin === true) {
    throw new CliExit(ExitCode.Usage, '--password (or --no-password) and --password-stdin exclude each other');
  }
  if (options.password === false) return null;
  if (options.password !== undefined) return options.password;
  if (options.passwordStdin === true) return readStdinLine();
  if (process.stdin.isTTY !== true) {
    throw new CliExit(ExitCode.Usage, `no password for ${JSON.stringify(name)}: give --password, --password-stdin or --no-password (stdin is not a terminal to ask on)`);
  }
  const first = await readHiddenLine(`Password of ${name}: `);
  const again = await readHiddenLine(`Type password of ${name} again for confirmation: `);
  if (first !== again) throw new CliExit(ExitCode.Usage, 'the passwords do not match');
  return first;
}

function passwordOptions(command: Command): Command {
  return command
    .option('--password <password>', 'the password (visible in the process list: prefer --password-stdin or the prompt)')
    .option('--password-stdin', 'read the password from the first line of stdin')
    .option('--no-password', 'no password: the user logs in only with a client certificate (--client-cert-auth)');
}

/** The permission range for KEY [RANGE_END] with --prefix / --from-key (etcdctl's rules). */
export function permissionRange(key: string, rangeEnd: string | undefined, options: { prefix?: boolean; fromKey?: boolean }): { key: Uint8Array; rangeEnd?: Uint8Array } {
  const modes = [rangeEnd !== undefined, options.prefix === true, options.fromKey === true].filter(Boolean).length;
  if (modes > 1) throw new CliExit(ExitCode.Usage, 'RANGE_END, --prefix and --from-key exclude each other');
  const k = utf8.encode(key);
  if (options.prefix === true) return prefixPermissionRange(k);
  if (options.fromKey === true) return { key: k, rangeEnd: Uint8Array.of(0) };
  if (rangeEnd !== undefined) return { key: k, rangeEnd: utf8.encode(rangeEnd) };
  return { key: k };
}

/** One permission as etcdctl prints it: the key, or [key, rangeEnd), or [key, <open ended>. */
export function describePermission(p: { key: Uint8Array; rangeEnd?: Uint8Array }): string {
  const key = text.decode(p.key);
  if (p.rangeEnd === undefined) return key;
  if (isFromKey(p.rangeEnd)) return `[${key}, <open ended>`;
  const prefix = prefixPermissionRange(p.key);
  const range = `[${key}, ${text.decode(p.rangeEnd)})`;
  return prefix.rangeEnd !== undefined && sameBytes(prefix.rangeEnd, p.rangeEnd) ? `${range} (prefix ${key})` : range;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function permissionJson(p: WirePermission): { access: string; key: string; rangeEnd?: string } {
  return { access: p.access, key: text.decode(p.key), ...(p.rangeEnd !== undefined ? { rangeEnd: text.decode(p.rangeEnd) } : {}) };
}

function registerUser(program: Command): void {
  const user = program.command('user').description('users: add, get, list, delete, passwd, grant-role, revoke-role');

  addClientOptions(passwordOptions(user.command('add').description('add a user').argument('<name>', 'the user name'))).action(
    async (name: string, options: ClientCommandOptions & PasswordOptions) => {
      const password = await newPassword(name, options);
      await admin(options, `user add ${JSON.stringify(name)}`, (c) => c.admin('user.add', { name, password }));
      process.stdout.write(`User ${name} created\n`);
    },
  );

  addClientOptions(user.command('get').description('show a user and its roles').argument('<name>', 'the user name')).action(
    async (name: string, options: ClientCommandOptions) => {
      const got = await admin(options, `user get ${JSON.stringify(name)}`, (c) => c.admin('user.get', { name }));
      if (options.json) printJson({ name: got.name, roles: got.roles, hasPassword: got.hasPassword });
      else process.stdout.write(`User: ${got.name}\nRoles: ${got.roles.join(' ')}\n`);
    },
  );

  addClientOptions(user.command('list').description('list every user')).action(async (options: ClientCommandOptions) => {
    const list = await admin(options, 'user list', (c) => c.admin('user.list', {}));
    if (options.json) printJson(list.users);
    else process.stdout.write(list.users.map((u) => `${u}\n`).join(''));
  });

  addClientOptions(user.command('delete').description('delete a user').argument('<name>', 'the user name')).action(
    async (name: string, options: ClientCommandOptions) => {
      await admin(options, `user delete ${JSON.stringify(name)}`, (c) => c.admin('user.delete', { name }));
      process.stdout.write(`User ${name} deleted\n`);
    },
  );

  addClientOptions(passwordOptions(user.command('passwd').description("change a user's password").argument('<name>', 'the user name'))).action(
    async (name: string, options: ClientCommandOptions & PasswordOptions) => {
      const password = await newPassword(name, options);
      await admin(options, `user passwd ${JSON.stringify(name)}`, (c) => c.admin('user.passwd', { name, password }));
      process.stdout.write('Password updated\n');
    },
  );

  for (const [verb, method, done] of [
    ['grant-role', 'user.grantRole', 'is granted to'],
    ['revoke-role', 'user.revokeRole', 'is revoked from'],
  ] as const) {
    addClientOptions(
      user
        .command(verb)
        .description(verb === 'grant-role' ? 'grant a role to a user' : 'revoke a role from a user')
        .argument('<name>', 'the user name')
        .argument('<role>', 'the role'),
    ).action(async (name: string, role: string, options: ClientCommandOptions) => {
      await admin(options, `user ${verb} ${JSON.stringify(name)} ${JSON.stringify(role)}`, (c) => c.admin(method, { name, role }));
      process.stdout.write(`Role ${role} ${done} user ${name}\n`);
    });
  }
}

function registerRole(program: Command): void {
  const role = program.command('role').description('roles: add, get, list, delete, grant-permission, revoke-permission');

  addClientOptions(role.command('add').description('add a role').argument('<role>', 'the role name')).action(async (name: string, options: ClientCommandOptions) => {
    await admin(options, `role add ${JSON.stringify(name)}`, (c) => c.admin('role.add', { name }));
    process.stdout.write(`Role ${name} created\n`);
  });

  addClientOptions(role.command('get').description("show a role's permissions").argument('<role>', 'the role name')).action(
    async (name: string, options: ClientCommandOptions) => {
      const got = await admin(options, `role get ${JSON.stringify(name)}`, (c) => c.admin('role.get', { name }));
      if (options.json) {
        printJson({ name: got.name, permissions: got.permissions.map(permissionJson) });
        return;
      }
      const lines = [`Role ${got.name}`];
      for (const [title, wanted] of [
        ['KV Read:', ['read', 'readwrite']],
        ['KV Write:', ['write', 'readwrite']],
      ] as const) {
        lines.push(title);
        for (const p of got.permissions) if ((wanted as readonly string[]).includes(p.access)) lines.push(`\t${describePermission(p)}`);
      }
      process.stdout.write(lines.join('\n') + '\n');
    },
  );

  addClientOptions(role.command('list').description('list every role')).action(async (options: ClientCommandOptions) => {
    const list = await admin(options, 'role list', (c) => c.admin('role.list', {}));
    if (options.json) printJson(list.roles);
    else process.stdout.write(list.roles.map((r) => `${r}\n`).join(''));
  });

  addClientOptions(role.command('delete').description('delete a role').argument('<role>', 'the role name')).action(
    async (name: string, options: ClientCommandOptions) => {
      await admin(options, `role delete ${JSON.stringify(name)}`, (c) => c.admin('role.delete', { name }));
      process.stdout.write(`Role ${name} deleted\n`);
    },
  );

  const rangeOptions = (command: Command): Command =>
    command
      .argument('<key>', 'the key (with --prefix: the prefix; with RANGE_END: the range start)')
      .argument('[range_end]', 'end of the range [KEY, RANGE_END)')
      .option('--prefix', 'every key starting with KEY')
      .option('--from-key', 'every key from KEY on');

  addClientOptions(
    rangeOptions(
      role
        .command('grant-permission')
        .description('grant a role read, write or readwrite access to a key, range or prefix')
        .argument('<role>', 'the role name')
        .addArgument(new Argument('<access>', 'read, write or readwrite').choices(accesses)),
    ),
  ).action(async (name: string, access: Access, key: string, rangeEnd: string | undefined, options: ClientCommandOptions & { prefix?: boolean; fromKey?: boolean }) => {
    const range = permissionRange(key, rangeEnd, options);
    await admin(options, `role grant-permission ${JSON.stringify(name)} ${access} ${JSON.stringify(key)}`, (c) =>
      c.admin('role.grantPermission', { name, permission: { access, ...range } }),
    );
    process.stdout.write(`Role ${name} updated\n`);
  });

  addClientOptions(
    rangeOptions(role.command('revoke-permission').description('revoke a role\'s permission on exactly this key, range or prefix').argument('<role>', 'the role name')),
  ).action(async (name: string, key: string, rangeEnd: string | undefined, options: ClientCommandOptions & { prefix?: boolean; fromKey?: boolean }) => {
    const range = permissionRange(key, rangeEnd, options);
    await admin(options, `role revoke-permission ${JSON.stringify(name)} ${JSON.stringify(key)}`, (c) => c.admin('role.revokePermission', { name, ...range }));
    process.stdout.write(`Permission of ${describePermission(range)} is revoked from role ${name}\n`);
  });
}

function registerAuth(program: Command): void {
  const auth = program.command('auth').description('the auth switch: enable, disable, status');

  addClientOptions(auth.command('enable').description('require authentication (the user root must exist)')).action(async (options: ClientCommandOptions) => {
    await admin(options, 'auth enable', (c) => c.admin('auth.enable', {}));
    process.stdout.write('Authentication Enabled\n');
  });

  addClientOptions(auth.command('disable').description('stop requiring authentication (root only)')).action(async (options: ClientCommandOptions) => {
    await admin(options, 'auth disable', (c) => c.admin('auth.disable', {}));
    process.stdout.write('Authentication Disabled\n');
  });

  addClientOptions(auth.command('status').description('whether auth is enabled, and the auth revision')).action(async (options: ClientCommandOptions) => {
    const status = await admin(options, 'auth status', (c) => c.admin('auth.status', {}));
    if (options.json) printJson({ enabled: status.enabled, revision: status.revision });
    else process.stdout.write(`Authentication Status: ${status.enabled}\nAuthRevision: ${status.revision}\n`);
  });
}

export function registerAuthCommands(program: Command): void {
  registerUser(program);
  registerRole(program);
  registerAuth(program);
}
