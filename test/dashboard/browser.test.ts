/**
 * The dashboard in a real browser (Debian's Chromium driven by
 * playwright-core) against a real three-member cluster: the cluster view,
 * a key written with the CLI in the key browser and the live prefix view (fed
 * by a watch: puts and deletes in order, nothing outside the user's read
 * permission, a cut connection resumed with Last-Event-ID), an
 * edit from the page read back with `concord get`, the load charts getting
 * points, a killed leader replaced on the page, and, with auth on, a
 * read-only user refused a save. The run writes the screenshots that
 * docs/dashboard.md shows.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { connect, type KvClient } from '../../src/client/index.js';
import type { LocalCluster, LocalMember } from '../../src/cli/dev/local-cluster.js';
import { freePortRange } from '../../src/cli/dev/free-ports.js';
import { shots, slowMs, startDashboardCluster, type DashboardCluster } from './dashboard-cluster.js';

// The waitForFunction bodies run in the page; this file compiles without the DOM library.
declare const document: { querySelector(s: string): { textContent: string | null; getAttribute(n: string): string | null } | null; querySelectorAll(s: string): { length: number } };

const chromiumPath = process.env.CONCORD_CHROMIUM ?? '/usr/bin/chromium';
const noBrowser = existsSync(chromiumPath) ? false : `no browser: ${chromiumPath} is missing (scripts/install-test-deps.sh installs Debian's chromium)`;

const slow = { timeout: slowMs };

describe('dashboard in a real browser', { timeout: 300_000, skip: noBrowser }, () => {
  let userDataDir: string | undefined;
  let fixture: DashboardCluster;
  let cluster: LocalCluster;
  let browser: BrowserContext;
  let page: Page;
  let kv: KvClient;
  /** The member whose dashboard the page shows (a follower, so that killing the leader leaves the page up). */
  let viewer: LocalMember;
  /** The old leader, killed and started again (the leader may not have heard from it yet). */
  let restarted = '';

  const cli = (...args: string[]): Promise<string> => fixture.cli(...args);
  /** A fresh load of a view (going to the same URL with only a new hash would not reload the page). */
  const open = async (view: string): Promise<void> => {
    await page.goto('about:blank');
    await page.goto(`${viewer.metricsUrl}/ui#${view}`);
  };

  before(async () => {
    const { chromium } = await import('playwright-core');
    fixture = await startDashboardCluster();
    ({ cluster, kv, viewer } = fixture);
    userDataDir = mkdtempSync(join(tmpdir(), 'concord-dashboard-browser-'));
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      headless: true,
      viewport: { width: 1280, height: 800 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage();
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await fixture?.stop();
    if (userDataDir !== undefined) rmSync(userDataDir, { recursive: true, force: true });
  });

  /** Script errors and CSP refusals on the page over the whole run (HTTP errors the page shows are expected). */
  const pageErrors: string[] = [];

  test('the page is served with a strict Content-Security-Policy and runs under it', async () => {
    const errors = pageErrors;
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
    });
    const response = await page.goto(`${viewer.metricsUrl}/ui`);
    const csp = response!.headers()['content-security-policy'] ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self' 'sha256-[^']+'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    await page.locator('tr[data-member]').first().waitFor(slow);
    assert.deepEqual(errors, []);
    // Keyboard: Tab goes to the views first, Enter opens one.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string } } }).document.activeElement.textContent), 'Keys');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Keys' }).waitFor(slow);
  });

  test('the cluster view lists three members and one leader', async () => {
    await open('cluster');
    await page.waitForFunction(() => document.querySelectorAll('tr[data-member]').length === 3 && document.querySelectorAll('tr[data-role="leader"]').length === 1, null, slow);
    const leader = await page.locator('tr[data-role="leader"]').getAttribute('data-member');
    const status = await kv.status();
    assert.equal(leader, status.leaderId);
    await page.screenshot({ path: join(shots, 'cluster.png'), fullPage: true });
    // A phone: the member table scrolls sideways inside its box, the page does not.
    await page.setViewportSize({ width: 390, height: 844 });
    assert.ok(await page.evaluate(() => (globalThis as unknown as { innerWidth: number; document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth <= 390 + 1));
    await page.screenshot({ path: join(shots, 'cluster-phone.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test('a key written with the CLI shows in the key browser; an edit from the page is read by concord get', async () => {
    await cli('put', 'app/config/db', '{"host":"db.internal","port":5432}');
    await cli('put', 'app/greeting', 'hello <b>not bold</b>');
    await open('keys');
    await page.getByRole('button', { name: /app\// }).click();
    await page.getByRole('button', { name: /config\// }).click();
    await page.locator('button[data-key="app/config/db"]').click();
    // JSON is shown pretty-printed.
    await page.waitForFunction(() => document.querySelector('[data-testid="value"]')?.textContent?.includes('"host": "db.internal"'), null, slow);
    await page.locator('button[data-key="app/greeting"]').click();
    // Markup in a value is text, never HTML.
    await page.getByTestId('value').filter({ hasText: 'hello <b>not bold</b>' }).waitFor(slow);
    assert.equal(await page.locator('[data-testid="value"] b').count(), 0);
    await page.getByLabel('New value').fill('edited from the dashboard');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByTestId('key-message').filter({ hasText: 'Saved' }).waitFor(slow);
    assert.equal((await cli('get', 'app/greeting')).trim(), 'edited from the dashboard');
    await page.screenshot({ path: join(shots, 'keys.png'), fullPage: true });
  });

  test('a binary value shows as hex; a key put and deleted from the page', async () => {
    await kv.put('bin/blob', Uint8Array.of(0x00, 0xff, 0x41, 0x10));
    await open('keys');
    await page.getByRole('button', { name: /bin\// }).click();
    await page.locator('button[data-key="bin/blob"]').click();
    await page.getByTestId('value').filter({ hasText: '00000000  00 ff 41 10' }).waitFor(slow);
    assert.match((await page.getByTestId('value').textContent()) ?? '', /\.\.A\./);
    await page.getByLabel('Key', { exact: true }).fill('bin/made-on-page');
    await page.getByLabel('Value', { exact: true }).fill('from the new key form');
    await page.getByRole('button', { name: 'Put' }).click();
    await page.getByTestId('value').filter({ hasText: 'from the new key form' }).waitFor(slow);
    assert.equal((await kv.get('bin/made-on-page'))?.valueString(), 'from the new key form');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByTestId('key-message').filter({ hasText: 'Deleted.' }).waitFor(slow);
    assert.equal(await kv.get('bin/made-on-page'), null);
  });

  test('the live prefix view shows a key written with the CLI', async () => {
    await open('live');
    await page.getByRole('textbox', { name: 'Prefix', exact: true }).fill('app/');
    await page.getByRole('button', { name: 'Follow' }).click();
    await page.locator('tr[data-key="app/greeting"]').waitFor(slow);
    await cli('put', 'app/live/counter', '41');
    await page.locator('tr[data-key="app/live/counter"]').filter({ hasText: '41' }).waitFor(slow);
    await cli('put', 'app/live/counter', '42');
    await page.locator('tr[data-key="app/live/counter"]').filter({ hasText: '42' }).waitFor(slow);
    // A delete and a put from the CLI show in order (newest first), each with its revision; the deleted row goes.
    await cli('del', 'app/live/counter');
    await cli('put', 'app/live/next', 'after the delete');
    await page.locator('tr[data-key="app/live/next"]').filter({ hasText: 'after the delete' }).waitFor(slow);
    await page.locator('tr[data-key="app/live/counter"]').waitFor({ state: 'detached', ...slow });
    const log = await page.locator('[data-testid="changes"] li').evaluateAll((items) => items.map((li) => [li.getAttribute('data-type'), li.getAttribute('data-key'), Number(li.getAttribute('data-revision'))] as const));
    assert.deepEqual(log.slice(0, 4).map(([type, key]) => `${type} ${key}`), ['put app/live/next', 'delete app/live/counter', 'put app/live/counter', 'put app/live/counter']);
    const revisions = log.slice(0, 4).map(([, , revision]) => revision);
    assert.deepEqual([...revisions].sort((a, b) => b - a), revisions);
    assert.equal(new Set(revisions).size, 4);
    assert.equal((await kv.get('app/live/next'))?.modRevision, revisions[0]);
    await page.getByTestId('live-status').filter({ hasText: `up to revision ${revisions[0]}` }).waitFor(slow);
    // Fed by the watch stream: no scan polling is left on the page.
    const requests: string[] = [];
    const note = (request: { url(): string }): void => void requests.push(request.url());
    page.on('request', note);
    await new Promise((r) => setTimeout(r, 2_500));
    page.off('request', note);
    assert.deepEqual(requests.filter((u) => u.includes('/api/')), []);
    await page.screenshot({ path: join(shots, 'live.png'), fullPage: true });
  });

  test('a dropped live stream reconnects with Last-Event-ID and shows what changed meanwhile, with no new snapshot', async () => {
    // The page through a TCP relay to the viewer, so the test can cut its connections.
    const target = new URL(viewer.metricsUrl!);
    const sockets = new Set<Socket>();
    const relay = createServer((client) => {
      const upstream = createConnection(Number(target.port), target.hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const relayPort = (relay.address() as AddressInfo).port;
    // allHeaders: the network stack adds Last-Event-ID, which headers() does not show.
    const watches: Promise<string | undefined>[] = [];
    const note = (request: { url(): string; allHeaders(): Promise<Record<string, string>> }): void => {
      if (request.url().includes('/api/watch?')) watches.push(request.allHeaders().then((h) => h['last-event-id'], () => undefined));
    };
    page.on('request', note);
    try {
      await page.goto('about:blank');
      await page.goto(`http://127.0.0.1:${relayPort}/ui#live`);
      await page.getByRole('textbox', { name: 'Prefix', exact: true }).fill('drop/');
      await page.getByRole('button', { name: 'Follow' }).click();
      await page.getByTestId('live-status').filter({ hasText: '0 keys' }).waitFor(slow);
      await cli('put', 'drop/before', '1');
      await page.locator('[data-testid="changes"] li[data-key="drop/before"]').waitFor(slow);
      // Cut every connection; what is written meanwhile reaches the page after the EventSource reconnects.
      relay.close();
      for (const s of sockets) s.destroy();
      await cli('put', 'drop/meanwhile', '2');
      relay.listen(relayPort, '127.0.0.1');
      await page.locator('[data-testid="changes"] li[data-key="drop/meanwhile"]').waitFor(slow);
      // The changes list was kept (a snapshot would have cleared it): the reconnect resumed the watch.
      assert.deepEqual(await page.locator('[data-testid="changes"] li').evaluateAll((items) => items.map((li) => li.getAttribute('data-key'))), ['drop/meanwhile', 'drop/before']);
      const before = (await kv.get('drop/before'))!.modRevision;
      const sent = await Promise.all(watches);
      assert.equal(sent[0], undefined);
      assert.ok(sent.slice(1).includes(String(before + 1)), `the reconnects sent Last-Event-ID ${JSON.stringify(sent.slice(1))}, expected ${before + 1}`);
    } finally {
      page.off('request', note);
      await page.goto('about:blank');
      relay.close(() => undefined);
      for (const s of sockets) s.destroy();
    }
  });

  test('the sessions view shows the session table and the leases, largest and expiring first', async () => {
    const lease = await kv.lease.grant(120_000);
    await kv.put('leased/a', '1', { lease: lease.id });
    await kv.put('leased/b', '2', { lease: lease.id });
    const short = await kv.lease.grant(30_000);
    const listed = await kv.sessionTable.list();
    await open('sessions');
    await page.getByTestId('session-count').filter({ hasText: /\d+ live sessions/ }).waitFor(slow);
    const shown = Number(/(\d+) live sessions/.exec((await page.getByTestId('session-count').textContent()) ?? '')?.[1]);
    // The page's own client opens no session until it writes; the count is the cluster's (CLI sessions may have closed since).
    assert.ok(shown >= 1 && shown <= listed.count + 1, `${shown} sessions shown, ${listed.count} listed`);
    await page.locator(`[data-testid="leases-largest"] tr[data-lease="${lease.id}"]`).filter({ hasText: '2' }).waitFor(slow);
    assert.equal(await page.locator('[data-testid="leases-largest"] tbody tr').first().getAttribute('data-lease'), String(lease.id));
    assert.equal(await page.locator('[data-testid="leases-expiring"] tbody tr').first().getAttribute('data-lease'), String(short.id));
    assert.match((await page.getByTestId('lease-count').textContent()) ?? '', /^2 leases holding 2 keys$/);
    await page.screenshot({ path: join(shots, 'sessions.png'), fullPage: true });
    await kv.lease.revoke(short.id);
  });

  test('the load charts receive data points', async () => {
    await open('load');
    // The stream is open and sampling before the load starts.
    await page.waitForFunction(() => Number(document.querySelector('figure[data-chart="requests"]')?.getAttribute('data-points')) >= 1, null, slow);
    // Some load on the viewed member: the page's own API calls and these reads.
    const reader = await connect({ endpoints: [viewer.clientUrl], timeoutMs: 30_000, openSessionOnConnect: false });
    try {
      for (let i = 0; i < 5; i++) {
        await Promise.all(Array.from({ length: 20 }, () => reader.get('app/greeting')));
        await new Promise((r) => setTimeout(r, 400));
      }
    } finally {
      await reader.close();
    }
    await page.waitForFunction(() => Number(document.querySelector('figure[data-chart="requests"]')?.getAttribute('data-points')) >= 3 && Number(document.querySelector('figure[data-chart="requests"]')?.getAttribute('data-series')) >= 1, null, slow);
    // The reads above show as requests and latency (not just a line of zeros).
    await page.waitForFunction(() => Number(document.querySelector('figure[data-chart="requests"]')?.getAttribute('data-max')) > 0 && Number(document.querySelector('figure[data-chart="latency"]')?.getAttribute('data-max')) > 0, null, slow).catch(async (error: unknown) => {
      const shown = await page.locator('figure').evaluateAll((figures) => figures.map((f) => `${f.getAttribute('data-chart')}: ${f.getAttribute('data-points')} points, max ${f.getAttribute('data-max')}`));
      throw new Error(`${(error as Error).message}; charts: ${shown.join('; ')}`);
    });
    await page.screenshot({ path: join(shots, 'load.png'), fullPage: true });
  });

  test('killing the leader shows the new leader and the old one down within seconds', async () => {
    await open('cluster');
    await page.locator('tr[data-role="leader"]').waitFor(slow);
    const old = (await page.locator('tr[data-role="leader"]').getAttribute('data-member'))!;
    assert.notEqual(old, viewer.name);
    await cluster.stopMember(old, 'SIGKILL');
    await page
      .waitForFunction(
      (gone) => document.querySelector(`tr[data-member="${gone}"]`)?.getAttribute('data-role') === 'down' && document.querySelectorAll('tr[data-role="leader"]').length === 1,
        old,
        slow,
      )
      .catch(async (error: unknown) => {
        throw new Error(`${(error as Error).message}; the page showed: ${await page.locator('main').innerText()}`);
      });
    assert.match((await page.locator(`tr[data-member="${old}"]`).textContent()) ?? '', /last seen \d+ s ago/);
    assert.match((await page.locator('.changes').textContent()) ?? '', new RegExp(`${old} → `));
    await page.screenshot({ path: join(shots, 'cluster-failover.png'), fullPage: true });
    restarted = old;
  });

  test('with a voter down, removing another is refused with the reason the member gives', async () => {
    // Three voters, the old leader down: removing the page's live follower would leave one live voter of two.
    try {
      page.once('dialog', (dialog) => void dialog.accept());
      await page.getByRole('button', { name: `Remove ${viewer.name}` }).click();
      const refusal = page.getByRole('alert').filter({ hasText: `Removing ${viewer.name} refused:` });
      await refusal.waitFor(slow);
      // The leader's own words: who counts as live, and who it has not heard from.
      assert.match((await refusal.textContent()) ?? '', new RegExp(`leaves 2 voters needing 2, but only 1 are live \\(not heard from: ${restarted}\\)`));
      assert.equal((await kv.members.list()).members.length, 3);
    } finally {
      cluster.restartMember(restarted);
    }
  });

  test('a learner is added from the page, refused promotion while it trails, and removed, each after a confirmation', async () => {
    await open('cluster');
    await page.locator('tr[data-member]').first().waitFor(slow);
    const spare = await freePortRange(1, 0);
    const asked: string[] = [];
    const accept = (dialog: { message(): string; accept(): Promise<void> }): void => {
      asked.push(dialog.message());
      void dialog.accept();
    };
    page.on('dialog', accept);
    try {
      await page.getByLabel('Name', { exact: true }).fill('n9');
      await page.getByLabel('Peer URL').fill(`tcp://127.0.0.1:${spare}`);
      await page.getByRole('button', { name: 'Add learner' }).click();
      await page.getByTestId('member-notice').filter({ hasText: /n9 was added as a learner|refused/ }).waitFor(slow);
      assert.match((await page.getByTestId('member-notice').textContent()) ?? '', /n9 was added as a learner/);
      const added = (await kv.members.list()).members.find((m) => m.name === 'n9');
      assert.equal(added?.role, 'learner');
      await page.locator('tr[data-member="n9"]').filter({ hasText: '(learner)' }).waitFor(slow);
      await page.screenshot({ path: join(shots, 'members.png'), fullPage: true });
      // Nothing runs at n9's address: it has not caught up, and the member says so.
      await page.getByRole('button', { name: 'Promote n9' }).click();
      await page.getByRole('alert').filter({ hasText: 'Promoting n9 refused:' }).waitFor(slow);
      assert.equal((await kv.members.list()).members.find((m) => m.name === 'n9')?.role, 'learner');
      await page.getByRole('button', { name: 'Remove n9' }).click();
      await page.getByTestId('member-notice').filter({ hasText: 'n9 was removed.' }).waitFor(slow);
      assert.equal((await kv.members.list()).members.find((m) => m.name === 'n9'), undefined);
      await page.locator('tr[data-member="n9"]').waitFor({ state: 'detached', ...slow });
    } finally {
      page.off('dialog', accept);
    }
    assert.deepEqual(asked, [`Add n9 (tcp://127.0.0.1:${spare}) as a learner?`, 'Promote the learner n9 to a voter?', 'Remove n9 from the cluster? It stops once it learns it was removed.']);
  });

  test('leadership moves to the member chosen on the page, after a confirmation', async () => {
    await open('cluster');
    await page.waitForFunction(() => document.querySelectorAll('tr[data-role="leader"]').length === 1 && document.querySelectorAll('tr[data-role="follower"]').length === 2, null, slow);
    const leader = await page.locator('tr[data-role="leader"]').getAttribute('data-member');
    const target = cluster.members.map((m) => m.name).find((name) => name !== leader && name !== restarted)!;
    await page.getByLabel('Transfer leadership to').selectOption(target);
    let asked = '';
    page.once('dialog', (dialog) => {
      asked = dialog.message();
      void dialog.accept();
    });
    await page.getByRole('button', { name: 'Transfer' }).click();
    const outcome = page.getByTestId('member-notice').filter({ hasText: /Leadership moved|refused/ });
    await outcome.waitFor(slow);
    assert.equal(await outcome.textContent(), `Leadership moved from ${leader} to ${target}.`);
    assert.match(asked, new RegExp(`Hand leadership from ${leader} to ${target}\\?`));
    await page.locator(`tr[data-member="${target}"][data-role="leader"]`).waitFor(slow);
    assert.equal((await kv.status()).leaderId, target);
  });

  test('with auth on, the page asks for a login and a read-only user cannot save', async () => {
    await kv.admin('user.add', { name: 'root', password: 'rootpw' });
    await kv.admin('user.add', { name: 'reader', password: 'readerpw' });
    await kv.admin('role.add', { name: 'ro' });
    await kv.admin('role.grantPermission', { name: 'ro', permission: { access: 'read', key: new Uint8Array(0), rangeEnd: Uint8Array.of(0) } });
    await kv.admin('user.grantRole', { name: 'reader', role: 'ro' });
    await kv.admin('auth.enable', {});
    await open('keys');
    await page.getByLabel('User').waitFor(slow);
    await page.screenshot({ path: join(shots, 'login.png'), fullPage: true });
    await page.getByLabel('Password').fill('wrong');
    await page.getByLabel('User').fill('reader');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: /authentication failed/i }).waitFor(slow);
    await page.getByLabel('Password').fill('readerpw');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByTestId('user').filter({ hasText: 'reader' }).waitFor(slow);
    // Leases are for any logged-in user; the session table names users, so it is admin only.
    await page.getByRole('link', { name: 'Sessions' }).click();
    await page.getByTestId('lease-count').waitFor(slow);
    await page.getByRole('alert').filter({ hasText: /permission denied/i }).waitFor(slow);
    await page.getByRole('link', { name: 'Keys' }).click();
    await page.getByRole('button', { name: /app\// }).click();
    await page.locator('button[data-key="app/greeting"]').click();
    await page.getByTestId('value').filter({ hasText: 'edited from the dashboard' }).waitFor(slow);
    await page.getByLabel('New value').fill('the reader tries');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByTestId('key-message').filter({ hasText: /Not saved: permission denied/ }).waitFor(slow);
    await page.screenshot({ path: join(shots, 'read-only.png'), fullPage: true });
    const root = await connect({ endpoints: cluster.endpoints, timeoutMs: 30_000, auth: { user: 'root', password: 'rootpw' } });
    try {
      assert.equal((await root.get('app/greeting'))?.valueString(), 'edited from the dashboard');
      // The API refuses a write without the dashboard's header (CSRF), whoever sends it.
      const forged = await fetch(`${viewer.metricsUrl}/api/key`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'app/greeting', value: 'forged' }) });
      assert.equal(forged.status, 403);
      assert.equal(((await forged.json()) as { error: { code: string } }).error.code, 'CONCORD_ERR_DASHBOARD_CSRF');
      await root.admin('auth.disable', {});
    } finally {
      await root.close();
    }
  });

  test('with auth on, the live view acts as the logged-in user: a prefix it may not read is refused, keys outside its rights never show', async () => {
    const root = await connect({ endpoints: cluster.endpoints, timeoutMs: 30_000, auth: { user: 'root', password: 'rootpw' } });
    try {
      const bytes = (t: string): Uint8Array => new TextEncoder().encode(t);
      await kv.admin('user.add', { name: 'appreader', password: 'apppw' });
      await kv.admin('role.add', { name: 'app-ro' });
      await kv.admin('role.grantPermission', { name: 'app-ro', permission: { access: 'read', key: bytes('app/'), rangeEnd: bytes('app0') } });
      await kv.admin('user.grantRole', { name: 'appreader', role: 'app-ro' });
      await kv.admin('auth.enable', {});
      // A new browser session: the follow asks for a login (the stream's 401).
      await browser.clearCookies();
      await open('live');
      await page.getByRole('button', { name: 'Follow' }).click();
      await page.getByLabel('User').fill('appreader');
      await page.getByLabel('Password').fill('apppw');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByTestId('user').filter({ hasText: 'appreader' }).waitFor(slow);
      // Every key: the member refuses the watch, and nothing is listed.
      await page.getByRole('button', { name: 'Follow' }).click();
      await page.getByRole('alert').filter({ hasText: /permission denied/i }).waitFor(slow);
      assert.equal(await page.locator('table.live tbody tr').count(), 0);
      await page.getByRole('textbox', { name: 'Prefix', exact: true }).fill('app/');
      await page.getByRole('button', { name: 'Follow' }).click();
      await page.locator('tr[data-key="app/greeting"]').waitFor(slow);
      await root.put('secret/live', 'not for appreader');
      await root.put('app0', 'just past the prefix');
      await root.put('app/live/seen', 'for appreader');
      await page.locator('tr[data-key="app/live/seen"]').waitFor(slow);
      assert.doesNotMatch(await page.locator('main').innerText(), /secret\/live|not for appreader|app0/);
      await root.admin('auth.disable', {});
    } finally {
      await root.close();
    }
  });

  test('no script error or Content-Security-Policy refusal happened in any view', () => {
    assert.deepEqual(pageErrors, []);
  });
});
