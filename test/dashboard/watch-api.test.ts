/**
 * The live prefix view's Server-Sent Events endpoint (`GET /api/watch`)
 * over HTTP, against a real member: a snapshot, then puts and deletes with
 * the resume revision as `id:`; a reconnect with Last-Event-ID continues
 * with no gap and no repeat; the bound per login; a disconnect cancels the
 * watch on the member; heartbeats; and, with auth on, the user's read
 * permission decides what the stream may show.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { connect, type KvClient } from '../../src/client/index.js';
import { LocalCluster, MemberOutput } from '../../src/cli/dev/local-cluster.js';
import { freePortRange } from '../../src/cli/dev/free-ports.js';
import { systemClock } from '../../src/common/system-clock.js';
import type { Clock } from '../../src/common/clock.js';
import { Dashboard } from '../../src/dashboard/index.js';
import { watchHeartbeatMs, watchStreamsPerLoginMax } from '../../src/dashboard/watch-api.js';

interface Message {
  readonly id?: string;
  readonly event: string;
  readonly data: any;
}

/** One open event stream: its messages as they arrive, and raw text (comments included). */
class Stream {
  readonly messages: Message[] = [];
  raw = '';
  private waiters: (() => void)[] = [];
  private pending = '';
  ended = false;

  constructor(
    readonly response: IncomingMessage,
    private readonly destroy: () => void,
  ) {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      this.raw += chunk;
      this.pending += chunk;
      let at: number;
      while ((at = this.pending.indexOf('\n\n')) >= 0) {
        const block = this.pending.slice(0, at);
        this.pending = this.pending.slice(at + 2);
        const fields = new Map<string, string>();
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          fields.set(line.slice(0, colon), line.slice(colon + 1).replace(/^ /, ''));
        }
        if (fields.has('data')) this.messages.push({ event: fields.get('event') ?? 'message', data: JSON.parse(fields.get('data')!), ...(fields.has('id') ? { id: fields.get('id')! } : {}) });
      }
      this.wake();
    });
    response.on('end', () => {
      this.ended = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits until `check` holds (on each chunk); bounded by the test's own timeout. */
  async until(check: () => boolean): Promise<void> {
    while (!check()) {
      if (this.ended) throw new Error(`the stream ended; it sent: ${this.raw}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  async next(event: string, after = 0): Promise<Message> {
    await this.until(() => this.messages.slice(after).some((m) => m.event === event));
    return this.messages.slice(after).find((m) => m.event === event)!;
  }

  close(): void {
    this.destroy();
  }
}

let dataDir: string;
let cluster: LocalCluster;
let kv: KvClient;
let server: Server;
let dashboard: Dashboard;
let base: string;
let metricsUrl: string;
/** The dashboard's heartbeat timers, fired by the test instead of waiting 15 s. */
const heartbeats: (() => void)[] = [];
const opened: Stream[] = [];

function open(path: string, headers: Record<string, string> = {}): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const stream = new Stream(res, () => req.destroy());
      opened.push(stream);
      resolve(stream);
    });
    req.on('error', reject);
    req.end();
  });
}

async function watchCancels(): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) if (line.startsWith('concord_requests_total{') && line.includes('method="watch.cancel"')) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  return total;
}

async function eventually(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never: ${what}`);
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'concord-dashboard-watch-'));
  const ports = await freePortRange(1, 300);
  cluster = await LocalCluster.start({ nodes: 1, dataDir, clientPortBase: ports, peerPortBase: ports + 100, metricsPortBase: ports + 200, output: MemberOutput.Ignore, serverArgs: ['--log-level', 'warn'] });
  await cluster.waitForLeader({ timeoutMs: 60_000 });
  const member = cluster.members[0]!;
  metricsUrl = member.metricsUrl!;
  kv = await connect({ endpoints: cluster.endpoints, timeoutMs: 30_000 });
  const clock: Clock = {
    ...systemClock,
    setRepeating: (ms, fn, options) => {
      if (ms !== watchHeartbeatMs) return systemClock.setRepeating(ms, fn, options);
      heartbeats.push(fn);
      return { cancel: () => heartbeats.splice(heartbeats.indexOf(fn) >>> 0, 1) };
    },
  };
  dashboard = new Dashboard({ clientUrl: member.clientUrl, registry: new Registry(), clock });
  server = createServer((req, res) => {
    if (!dashboard.handle(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  for (const s of opened) s.close();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await dashboard?.close();
  await kv?.close().catch(() => undefined);
  await cluster?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('a snapshot, then puts and deletes as events, each with the next revision as id', async () => {
  await kv.put('w/a', '1');
  const stream = await open('/api/watch?prefix=w%2F');
  assert.equal(stream.response.statusCode, 200);
  assert.match(stream.response.headers['content-type'] ?? '', /^text\/event-stream/);
  assert.equal(stream.response.headers['cache-control'], 'no-store');
  const snapshot = await stream.next('snapshot');
  assert.deepEqual(snapshot.data.entries.map((e: { key: string; preview: string }) => [e.key, e.preview]), [['w/a', '1']]);
  assert.equal(snapshot.id, String(snapshot.data.revision + 1));
  assert.match(stream.raw, /^retry: \d+\n\n/);

  const put = await kv.put('w/b', 'two\nlines <b>');
  const deleted = await kv.delete('w/a');
  await kv.put('elsewhere/c', 'not under w/');
  const seen = () => stream.messages.filter((m) => m.event === 'events');
  await stream.until(() => seen().length >= 2);
  const [first, second] = seen();
  assert.deepEqual(first!.data.events, [{ type: 'put', key: 'w/b', preview: 'two\nlines <b>', version: 1, modRevision: put.revision }]);
  assert.equal(first!.id, String(put.revision + 1));
  assert.deepEqual(second!.data.events, [{ type: 'delete', key: 'w/a', preview: '', version: 0, modRevision: deleted.revision }]);
  assert.equal(second!.id, String(deleted.revision + 1));
  stream.close();

  // An EventSource reconnecting sends the last id it saw: the stream goes on from there, no snapshot, no repeat.
  const resumed = await open('/api/watch?prefix=w%2F', { 'last-event-id': first!.id! });
  const again = await resumed.next('events');
  assert.deepEqual(again.data.events.map((e: { type: string; key: string }) => `${e.type} ${e.key}`), ['delete w/a']);
  assert.equal(resumed.messages.some((m) => m.event === 'snapshot'), false);
  resumed.close();
});

test('heartbeats are SSE comments; a bad resume revision is a failure message', async () => {
  const stream = await open('/api/watch?prefix=hb%2F');
  await stream.next('snapshot');
  assert.ok(heartbeats.length >= 1);
  for (const beat of heartbeats) beat();
  await stream.until(() => stream.raw.includes('\n: heartbeat\n\n'));
  stream.close();
  const bad = await open('/api/watch?prefix=hb%2F&rev=soon');
  const failure = await bad.next('failure');
  assert.deepEqual(failure.data, { status: 400, code: 'CONCORD_ERR_DASHBOARD_BAD_REQUEST', message: 'rev (or Last-Event-ID) must be a positive revision' });
  await bad.until(() => bad.ended);
});

test('at most watchStreamsPerLoginMax streams per login; a closed browser cancels its watch on the member', async () => {
  await eventually(() => dashboard.watches.count === 0, 'earlier streams closed');
  const streams: Stream[] = [];
  for (let i = 0; i < watchStreamsPerLoginMax; i++) {
    const s = await open(`/api/watch?prefix=bound%2F${i}`);
    await s.next('snapshot');
    streams.push(s);
  }
  const refused = await open('/api/watch?prefix=bound%2F');
  assert.deepEqual((await refused.next('failure')).data, { status: 503, code: 'CONCORD_ERR_DASHBOARD_BUSY', message: `at most ${watchStreamsPerLoginMax} watch streams at once per login` });
  await refused.until(() => refused.ended);

  const cancelsBefore = await watchCancels();
  streams.pop()!.close();
  await eventually(() => dashboard.watches.count === watchStreamsPerLoginMax - 1, 'the closed stream released');
  await eventually(async () => (await watchCancels()) > cancelsBefore, 'the member got watch.cancel');
  // Its slot is free again.
  const more = await open('/api/watch?prefix=bound%2F');
  await more.next('snapshot');
  for (const s of [...streams, more]) s.close();
  await eventually(() => dashboard.watches.count === 0, 'every stream released');
});

test('with auth on, the stream acts as the logged-in user: a prefix it may not read is refused, others never show', async () => {
  await kv.admin('user.add', { name: 'root', password: 'rootpw' });
  await kv.admin('user.add', { name: 'wuser', password: 'wpw' });
  await kv.admin('role.add', { name: 'w-reader' });
  await kv.admin('role.grantPermission', { name: 'w-reader', permission: { access: 'read', key: new TextEncoder().encode('w/'), rangeEnd: new TextEncoder().encode('w0') } });
  await kv.admin('user.grantRole', { name: 'wuser', role: 'w-reader' });
  await kv.admin('auth.enable', {});
  const root = await connect({ endpoints: cluster.endpoints, timeoutMs: 30_000, auth: { user: 'root', password: 'rootpw' } });
  try {
    const anonymous = await open('/api/watch?prefix=w%2F');
    assert.equal((await anonymous.next('failure')).data.status, 401);
    const login = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-concord-dashboard': '1' }, body: JSON.stringify({ user: 'wuser', password: 'wpw' }) });
    assert.equal(login.status, 200);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    const everything = await open('/api/watch?prefix=', { cookie });
    const refusal = await everything.next('failure');
    assert.equal(refusal.data.status, 403);
    assert.equal(everything.messages.some((m) => m.event === 'snapshot' || m.event === 'events'), false);

    const allowed = await open('/api/watch?prefix=w%2F', { cookie });
    await allowed.next('snapshot');
    await root.put('x/secret', 'not for wuser');
    const visible = await root.put('w/visible', 'yes');
    const events = await allowed.next('events');
    assert.deepEqual(events.data.events.map((e: { key: string }) => e.key), ['w/visible']);
    assert.equal(events.data.revision, visible.revision);
    assert.doesNotMatch(allowed.raw, /secret/);
    allowed.close();
    await root.admin('auth.disable', {});
  } finally {
    await root.close();
  }
});
