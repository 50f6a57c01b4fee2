/**
 * The dashboard in Firefox (Debian's firefox-esr, driven by puppeteer-core
 * over WebDriver BiDi) against a real three-member cluster: a smoke of every
 * view, smaller than the Chromium run (browser.test.ts) to keep CI's time:
 * the page runs under its Content-Security-Policy with no script error, the
 * cluster view lists three members and one leader, a key written with the
 * CLI shows in the key browser and an edit from the page is read back by
 * `concord get`, the live prefix view follows a put and a delete in order, a learner is added
 * and removed after confirmations, the sessions view and the load charts get
 * data, and the page fits a 390 px phone screen.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { freePortRange } from '../../src/cli/dev/free-ports.js';
import { shots, slowMs, startDashboardCluster, type DashboardCluster } from './dashboard-cluster.js';

// The waitForFunction bodies run in the page; this file compiles without the DOM library.
declare const document: {
  querySelector(s: string): { textContent: string | null; getAttribute(n: string): string | null } | null;
  querySelectorAll(s: string): { length: number };
  documentElement: { scrollWidth: number };
};

const firefoxPath = process.env.CONCORD_FIREFOX ?? '/usr/bin/firefox-esr';
const noBrowser = existsSync(firefoxPath) ? false : `no browser: ${firefoxPath} is missing (scripts/install-test-deps.sh installs Debian's firefox-esr)`;
const slow = { timeout: slowMs };

describe('dashboard in Firefox', { timeout: 300_000, skip: noBrowser }, () => {
  let fixture: DashboardCluster;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const dialogs: string[] = [];

  const open = async (view: string): Promise<void> => {
    await page.goto('about:blank');
    await page.goto(`${fixture.viewer.metricsUrl}/ui#${view}`);
  };
  const textOf = (selector: string): Promise<string> => page.$eval(selector, (e) => e.textContent ?? '');
  /** Waits until the element's text contains `text`. */
  const waitForText = (selector: string, text: string): Promise<unknown> =>
    page.waitForFunction((s: string, t: string) => document.querySelector(s)?.textContent?.includes(t) === true, slow, selector, text);
  /** Clicks the button whose text is exactly `label`. */
  const clickButton = async (label: string): Promise<void> => {
    const button = await page.waitForSelector(`::-p-xpath(//button[normalize-space(.)=${JSON.stringify(label)}])`, slow);
    await button!.click();
  };

  before(async () => {
    const puppeteer = (await import('puppeteer-core')).default;
    fixture = await startDashboardCluster();
    browser = await puppeteer.launch({ browser: 'firefox', executablePath: firefoxPath, headless: true });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 800 });
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.accept();
    });
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await fixture?.stop();
  });

  test('the cluster view lists three members and one leader, under a strict CSP', async () => {
    const response = await page.goto(`${fixture.viewer.metricsUrl}/ui#cluster`);
    assert.match(response?.headers()['content-security-policy'] ?? '', /default-src 'none'/);
    await page.waitForFunction(() => document.querySelectorAll('tr[data-member]').length === 3 && document.querySelectorAll('tr[data-role="leader"]').length === 1, slow);
    const leader = await page.$eval('tr[data-role="leader"]', (e) => e.getAttribute('data-member'));
    assert.equal(leader, (await fixture.kv.status()).leaderId);
  });

  test('on a 390 px phone screen the page does not scroll sideways', async () => {
    await page.setViewport({ width: 390, height: 844 });
    try {
      await open('cluster');
      await page.waitForSelector('tr[data-member]', slow);
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 391));
      await page.screenshot({ path: join(shots, 'cluster-phone-firefox.png'), fullPage: true });
    } finally {
      await page.setViewport({ width: 1280, height: 800 });
    }
  });

  test('a key written with the CLI shows in the key browser; an edit from the page is read by concord get', async () => {
    await fixture.cli('put', 'ff/greeting', 'hello from the CLI');
    await open('keys');
    await clickButton('▸ ff/ (1)');
    await (await page.waitForSelector('button[data-key="ff/greeting"]', slow))!.click();
    await waitForText('[data-testid="value"]', 'hello from the CLI');
    await page.$eval('#edit-value', (e) => ((e as unknown as { value: string }).value = ''));
    await page.type('#edit-value', 'edited in Firefox');
    await clickButton('Save');
    await waitForText('[data-testid="key-message"]', 'Saved');
    assert.equal((await fixture.cli('get', 'ff/greeting')).trim(), 'edited in Firefox');
  });

  test('the live prefix view follows a put and a delete from the CLI, in order', async () => {
    await open('live');
    await page.type('#live-prefix', 'ff/');
    await clickButton('Follow');
    await page.waitForSelector('tr[data-key="ff/greeting"]', slow);
    await fixture.cli('put', 'ff/counter', '7');
    await waitForText('tr[data-key="ff/counter"]', '7');
    // A delete and a put from the CLI, in order, newest first in the changes list.
    await fixture.cli('del', 'ff/counter');
    await fixture.cli('put', 'ff/after', 'x');
    await waitForText('tr[data-key="ff/after"]', 'x');
    await page.waitForFunction(() => document.querySelector('tr[data-key="ff/counter"]') === null, slow);
    const log = await page.$$eval('[data-testid="changes"] li', (items) => items.map((li) => `${li.getAttribute('data-type')} ${li.getAttribute('data-key')}`));
    assert.deepEqual(log, ['put ff/after', 'delete ff/counter', 'put ff/counter']);
  });

  test('a learner is added and removed from the page, each after a confirmation', async () => {
    const spare = await freePortRange(1, 0);
    await open('cluster');
    await page.waitForSelector('#member-name', slow);
    await page.type('#member-name', 'ff9');
    await page.type('#member-peer-url', `tcp://127.0.0.1:${spare}`);
    await clickButton('Add learner');
    await waitForText('[data-testid="member-notice"]', 'ff9 was added as a learner');
    assert.equal((await fixture.kv.members.list()).members.find((m) => m.name === 'ff9')?.role, 'learner');
    await (await page.waitForSelector('button[aria-label="Remove ff9"]', slow))!.click();
    await waitForText('[data-testid="member-notice"]', 'ff9 was removed.');
    assert.equal((await fixture.kv.members.list()).members.find((m) => m.name === 'ff9'), undefined);
    assert.deepEqual(dialogs, [`Add ff9 (tcp://127.0.0.1:${spare}) as a learner?`, 'Remove ff9 from the cluster? It stops once it learns it was removed.']);
  });

  test('the sessions view and the load charts get data', async () => {
    const lease = await fixture.kv.lease.grant(60_000);
    await fixture.kv.put('ff/leased', 'x', { lease: lease.id });
    await open('sessions');
    await page.waitForSelector(`[data-testid="leases-largest"] tr[data-lease="${lease.id}"]`, slow);
    assert.match(await textOf('[data-testid="session-count"]'), /\d+ live sessions/);
    await open('load');
    await page.waitForFunction(() => Number(document.querySelector('figure[data-chart="requests"]')?.getAttribute('data-points')) >= 2, slow);
  });

  test('no script error or Content-Security-Policy refusal happened in any view', () => {
    assert.deepEqual(pageErrors, []);
  });
});
