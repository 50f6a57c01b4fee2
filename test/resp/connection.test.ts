/**
 * The connection driver without sockets: pipelined replies in request order whatever order
 * handlers finish in, the in-flight bound and its read-pause signal, output backpressure, barriers,
 * per-connection state (HELLO, CLIENT, SELECT, AUTH), Redis's texts, and how it closes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AuthOutcome,
  CommandTable,
  connectionCommandTable,
  defaultIdentity,
  reply,
  respLimits,
  RespConnection,
  type CloseReason,
  type ConnectionServices,
  type Reply,
} from '../../src/resp/index.js';

interface Harness {
  conn: RespConnection;
  out: () => string;
  writes: Buffer[];
  closes: CloseReason[];
  pauses: boolean[];
  send: (s: string) => void;
}

function harness(table: CommandTable, options: { services?: Partial<ConnectionServices>; inflightRequestsMax?: number } = {}): Harness {
  const writes: Buffer[] = [];
  const closes: CloseReason[] = [];
  const pauses: boolean[] = [];
  const conn = new RespConnection({
    id: 7,
    table,
    services: { identity: defaultIdentity, authRequired: false, ...options.services },
    limits: respLimits({ inflightRequestsMax: options.inflightRequestsMax ?? 1024 }),
    output: { write: (b) => writes.push(b), close: (r) => closes.push(r), setReadsPaused: (p) => pauses.push(p) },
  });
  return { conn, writes, closes, pauses, out: () => Buffer.concat(writes).toString('latin1'), send: (s) => conn.receive(Buffer.from(s, 'latin1')) };
}

function deferred(): { promise: Promise<Reply>; resolve: (r: Reply) => void } {
  let resolve!: (r: Reply) => void;
  const promise = new Promise<Reply>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A table whose `get` waits for the test to release it. */
function asyncTable(pending: Map<string, (r: Reply) => void>): CommandTable {
  return connectionCommandTable().register('get', ({ args }) => {
    const d = deferred();
    pending.set(args[1]!.toString(), d.resolve);
    return d.promise;
  });
}

test('replies leave in request order whatever order async handlers complete in', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uniqueArray(fc.nat({ max: 50 }), { minLength: 1, maxLength: 12 }).chain((keys) => fc.tuple(fc.constant(keys), fc.shuffledSubarray(keys, { minLength: keys.length }))), async ([keys, completion]) => {
      const pending = new Map<string, (r: Reply) => void>();
      const h = harness(asyncTable(pending));
      h.send(keys.map((k) => `GET k${k}\r\nPING\r\n`).join(''));
      for (const k of completion) {
        pending.get(`k${k}`)!(reply.bulk(`v${k}`));
        await tick();
      }
      assert.equal(h.out(), keys.map((k) => `$${`v${k}`.length}\r\nv${k}\r\n+PONG\r\n`).join(''));
    }),
    { numRuns: 50 },
  );
});

test('synchronous replies of one chunk leave in one write', () => {
  const h = harness(connectionCommandTable());
  h.send('PING\r\nPING\r\nECHO hi\r\n');
  assert.deepEqual(h.writes.map((b) => b.toString()), ['+PONG\r\n+PONG\r\n$2\r\nhi\r\n']);
});

test('at the in-flight bound the driver takes no more requests and asks for reads to pause', async () => {
  const pending = new Map<string, (r: Reply) => void>();
  const h = harness(asyncTable(pending), { inflightRequestsMax: 3 });
  h.send('GET a\r\nGET b\r\nGET c\r\nGET d\r\nGET e\r\n');
  assert.deepEqual([...pending.keys()], ['a', 'b', 'c'], 'only three dispatched');
  assert.equal(h.conn.inflightRequests, 3);
  assert.deepEqual(h.pauses, [true]);
  pending.get('b')!(reply.bulk('B'));
  await tick();
  assert.deepEqual([...pending.keys()], ['a', 'b', 'c'], 'b done but not written: still counts');
  pending.get('a')!(reply.bulk('A'));
  await tick();
  assert.deepEqual([...pending.keys()], ['a', 'b', 'c', 'd', 'e']);
  assert.equal(h.out(), '$1\r\nA\r\n$1\r\nB\r\n');
  for (const k of ['c', 'd', 'e']) pending.get(k)!(reply.bulk(k.toUpperCase()));
  await tick();
  assert.equal(h.out(), '$1\r\nA\r\n$1\r\nB\r\n$1\r\nC\r\n$1\r\nD\r\n$1\r\nE\r\n');
  assert.equal(h.pauses.at(-1), false, 'reads resume');
});

test('while the output is blocked nothing new is dispatched', () => {
  const h = harness(connectionCommandTable());
  h.conn.setOutputBlocked(true);
  h.send('PING\r\nPING\r\n');
  assert.equal(h.out(), '');
  h.conn.setOutputBlocked(false);
  assert.equal(h.out(), '+PONG\r\n+PONG\r\n');
});

test('a barrier (HELLO) waits for earlier commands and holds later ones; its version applies after it only', async () => {
  const pending = new Map<string, (r: Reply) => void>();
  const h = harness(asyncTable(pending));
  h.send('GET a\r\nHELLO 3\r\nGET b\r\n');
  assert.deepEqual([...pending.keys()], ['a']);
  pending.get('a')!(reply.null);
  await tick();
  await tick();
  assert.deepEqual([...pending.keys()], ['a', 'b']);
  pending.get('b')!(reply.null);
  await tick();
  const out = h.out();
  assert.ok(out.startsWith('$-1\r\n%7\r\n'), 'the GET before HELLO 3 answers RESP2, HELLO itself RESP3');
  assert.ok(out.endsWith(':3\r\n$2\r\nid\r\n:7\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n_\r\n'));
  assert.equal(h.conn.state.protocol, 3);
});

test('HELLO: fields, versions, SETNAME, errors', async () => {
  const h = harness(connectionCommandTable());
  h.send('HELLO 4\r\nHELLO x\r\nHELLO 2 FOO\r\nHELLO 2 SETNAME my-app\r\nCLIENT GETNAME\r\n');
  await tick();
  assert.equal(
    h.out(),
    '-NOPROTO unsupported protocol version\r\n-ERR Protocol version is not an integer or out of range\r\n' +
      "-ERR Syntax error in HELLO option 'FOO'\r\n" +
      '*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:2\r\n$2\r\nid\r\n:7\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n' +
      '$6\r\nmy-app\r\n',
  );
});

test('connection commands: PING, ECHO, SELECT, CLIENT, arity and unknown commands in Redis words', () => {
  const h = harness(connectionCommandTable());
  h.send('PING hello\r\nPING a b\r\nSELECT 0\r\nSELECT 1\r\nSELECT x\r\nCLIENT ID\r\nCLIENT SETNAME "a b"\r\nCLIENT GETNAME\r\nCLIENT SETINFO LIB-NAME ioredis\r\nCLIENT FOO\r\nCLIENT\r\nECHO\r\nfoo a b\r\nGET k\r\n');
  assert.equal(
    h.out(),
    [
      '$5\r\nhello',
      "-ERR wrong number of arguments for 'ping' command",
      '+OK',
      '-ERR DB index is out of range',
      '-ERR value is not an integer or out of range',
      ':7',
      '-ERR Client names cannot contain spaces, newlines or special characters.',
      '$-1',
      '+OK',
      "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.",
      "-ERR wrong number of arguments for 'client' command",
      "-ERR wrong number of arguments for 'echo' command",
      "-ERR unknown command 'foo', with args beginning with: 'a' 'b' ",
      "-ERR unknown command 'GET', with args beginning with: 'k' ",
      '',
    ].join('\r\n'),
  );
  assert.equal(h.conn.state.libName, 'ioredis');
});

test('QUIT answers +OK, runs nothing after it, and closes', () => {
  const h = harness(connectionCommandTable());
  h.send('PING\r\nQUIT\r\nPING\r\n');
  assert.equal(h.out(), '+PONG\r\n+OK\r\n');
  assert.deepEqual(h.closes, ['quit']);
});

test('a protocol error is answered after the replies owed, then the connection closes', () => {
  const h = harness(connectionCommandTable());
  h.send('PING\r\n*1\r\n$x\r\nPING\r\n');
  assert.equal(h.out(), '+PONG\r\n-ERR Protocol error: invalid bulk length\r\n');
  assert.deepEqual(h.closes, ['protocolError']);
  h.send('PING\r\n');
  assert.equal(h.out(), '+PONG\r\n-ERR Protocol error: invalid bulk length\r\n', 'nothing after the close');
});

test('POST or Host: (an HTTP request at the RESP port) closes with no reply', () => {
  for (const attack of ['POST / HTTP/1.1\r\nHost: x\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n']) {
    const h = harness(connectionCommandTable());
    h.send(attack);
    assert.ok(!h.out().includes('Host'), h.out());
    assert.deepEqual(h.closes, ['crossProtocol']);
  }
});

test('with authentication required: NOAUTH, the strict caps, then AUTH lifts both', async () => {
  const table = connectionCommandTable().register('get', () => reply.null);
  const services = { authRequired: true, authenticate: async (user: string, pw: Buffer) => (user === 'default' && pw.toString() === 'secret' ? AuthOutcome.ok : AuthOutcome.wrongPassword) };
  const h = harness(table, { services });
  h.send('GET k\r\nAUTH wrong\r\nHELLO 3\r\nAUTH secret\r\nGET k\r\n*11\r\n$3\r\nGET\r\n');
  await tick();
  await tick();
  assert.equal(
    h.out(),
    '-NOAUTH Authentication required.\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n' +
      '-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n' +
      '+OK\r\n$-1\r\n',
  );
  assert.deepEqual(h.closes, [], 'after AUTH, 11 arguments are fine');

  const before = harness(table, { services });
  before.send('*11\r\n');
  assert.equal(before.out(), '-ERR Protocol error: unauthenticated multibulk length\r\n');
  assert.deepEqual(before.closes, ['protocolError']);
});

test('without authentication configured: AUTH <password> gets Redis\'s "no password configured" text', async () => {
  const h = harness(connectionCommandTable());
  h.send('AUTH x\r\nAUTH default x\r\nHELLO 3 AUTH bob x\r\n');
  await tick();
  await tick();
  await tick();
  assert.equal(
    h.out(),
    '-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n+OK\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n',
  );
});

test('a handler that throws answers -ERR and the connection goes on', () => {
  const errors: unknown[] = [];
  const table = connectionCommandTable().register('get', () => {
    throw new Error('boom');
  });
  const writes: Buffer[] = [];
  const conn = new RespConnection({ id: 1, table, services: { identity: defaultIdentity, authRequired: false }, output: { write: (b) => writes.push(b), close: () => {} }, onHandlerError: (e) => errors.push(e) });
  conn.receive(Buffer.from('GET a\r\nPING\r\n'));
  assert.equal(Buffer.concat(writes).toString(), '-ERR boom\r\n+PONG\r\n');
  assert.equal(errors.length, 1);
});

test('the command table takes arity and flags from Redis and refuses a double registration', () => {
  const t = new CommandTable().register('set', () => reply.ok).register('client|id', () => reply.integer(1));
  assert.ok(t.has('set') && t.has('client|id') && !t.has('client|kill'));
  assert.deepEqual(t.names().sort(), ['client|id', 'set']);
  assert.throws(() => t.register('set', () => reply.ok));
  assert.throws(() => t.register('notacommand', () => reply.ok));
  const found = t.lookup([Buffer.from('SET'), Buffer.from('k'), Buffer.from('v')]);
  assert.ok(found.kind === 'found' && found.entry.spec.flags.has('write') && found.entry.spec.arity === -3 && found.entry.spec.firstKey === 1);
});

test("the unknown-command text cuts the name and the arguments near 128 bytes, as Redis", () => {
  const h = harness(connectionCommandTable());
  h.send(`${'a'.repeat(200)} ${'b'.repeat(200)} c\r\nfoo ${'x'.repeat(100)} ${'y'.repeat(100)} z\r\n`);
  assert.equal(
    h.out(),
    `-ERR unknown command '${'a'.repeat(128)}', with args beginning with: '${'b'.repeat(128)}' \r\n` +
      `-ERR unknown command 'foo', with args beginning with: '${'x'.repeat(100)}' '${'y'.repeat(25)}' \r\n`,
  );
});

test('the same pipeline split anywhere gives the same reply bytes', () => {
  const command = fc.oneof(
    fc.constant('PING\r\n'),
    fc.string({ maxLength: 10 }).map((s) => {
      const b = Buffer.from(s);
      return `*2\r\n$4\r\nECHO\r\n$${b.length}\r\n${b.toString('latin1')}\r\n`;
    }),
    fc.constant('CLIENT SETNAME n1\r\nCLIENT GETNAME\r\n'),
    fc.constant('nosuch "a b" c\r\n'),
    fc.constant('SELECT 3\r\n'),
  );
  fc.assert(
    fc.property(fc.array(command, { minLength: 1, maxLength: 15 }), fc.array(fc.nat(), { maxLength: 20 }), (cmds, cuts) => {
      const stream = Buffer.from(cmds.join(''), 'latin1');
      const whole = harness(connectionCommandTable());
      whole.conn.receive(stream);
      const split = harness(connectionCommandTable());
      const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
      let prev = 0;
      for (const p of [...points, stream.length]) {
        split.conn.receive(stream.subarray(prev, p));
        prev = p;
      }
      assert.equal(split.out(), whole.out());
    }),
    { numRuns: 300 },
  );
});
