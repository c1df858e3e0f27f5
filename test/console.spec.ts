import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ADMIN_PASSWORD, startTestApp, type TestApp } from './support/app.js';
import { ensureConsoleBuilt, launchChromium, SCREENSHOT_DIR } from './support/console.js';
import { registerFleet, waitFinished } from './support/fleet.js';
import { startSshd, type SshServer } from './support/sshd.js';

// The web console in a real, headless Chromium against the real server (embedded Postgres, the
// built-in localhost node and a real sshd node): sign in, the first-run page, the catalog, the
// run form with its plan, the live execution view, an approval asked by one user and given by
// another, stored XSS rendered as text, sign out. Screenshots go to test-output/console/.

const SHIPPED = join(import.meta.dirname, '..', 'runbooks');
const XSS = '<img src=x onerror=window.__xss=1>';
const WAIT = { timeout: 45_000 };

const GUARDED = `name: guarded-echo
description: Prints a line once someone else approved
kind: remediation
access:
  run: [operator]
  approve: [admin]
targets:
  nodes:
    names: [localhost]
approval:
  reason: it changes something
steps:
  - name: say
    run: echo approved and ran
`;

const SNEAKY = `name: sneaky
description: "${XSS}"
kind: diagnostic
tags: [xss]
options:
  - name: note
    type: string
    description: "${XSS}"
targets:
  nodes:
    names: [localhost]
steps:
  - name: print
    run: echo {{ options.note }}
`;

let t: TestApp;
let sshd: SshServer;
let browser: Browser;
let dir: string;
let base: string;
const OPERATOR = { username: 'olga', password: 'operator-password-123' };
/** Problems the browser reported (CSP violations, script errors) per page. */
const problems: string[] = [];
/** The pages the current test opened: screenshotted when it fails. */
const pages: Page[] = [];

async function newPage(
  viewport = { width: 1280, height: 720 },
  colorScheme: 'light' | 'dark' = 'light',
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport, baseURL: base, colorScheme });
  const page = await context.newPage();
  pages.push(page);
  page.on('console', (m) => {
    // A 4xx answer is shown by the page (validation, signed out); anything else is a problem.
    if (m.type() === 'error' && !/the server responded with a status of 4\d\d/.test(m.text()))
      problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  return { context, page };
}

async function signIn(page: Page, username: string, password: string, path = '/') {
  await page.goto(path);
  await page.getByLabel('Username').fill(username);
  await page.getByRole('textbox', { name: /^Password/ }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // (Hidden at phone width, but there once signed in.)
  await page.getByTestId('whoami').waitFor({ state: 'attached', ...WAIT });
}

/** The focused element: its role (explicit or its tag), accessible name (roughly), a few attributes. */
const focused = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body)
      return { role: 'body', name: '', selected: null, inGrid: false };
    const byId = (ids: string | null) =>
      (ids ?? '')
        .split(' ')
        .map((id) => document.getElementById(id)?.textContent ?? '')
        .join(' ')
        .trim();
    const labels = (el as HTMLInputElement).labels;
    const name =
      el.getAttribute('aria-label') ||
      byId(el.getAttribute('aria-labelledby')) ||
      (labels && labels.length ? labels[0].textContent : '') ||
      el.getAttribute('title') ||
      (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' ? '' : el.textContent) ||
      '';
    return {
      role: el.getAttribute('role') ?? el.tagName.toLowerCase(),
      name: name.replace(/\s+/g, ' ').trim(),
      selected: el.getAttribute('aria-selected'),
      inGrid: !!el.closest('[role=grid]'),
    };
  });

/**
 * Presses Tab until the focused element is `want` (its role and a name matching), checking that
 * every stop on the way has a name; returns how many presses it took.
 */
async function tabTo(page: Page, role: string, name: RegExp, max = 60) {
  for (let i = 0; i < max; i++) {
    const f = await focused(page);
    if (f.role === role && name.test(f.name)) return i;
    if (f.role !== 'body') expect(f.name, `the ${f.role} reached by Tab has a name`).not.toBe('');
    await page.keyboard.press('Tab');
  }
  throw new Error(`${max} Tab presses without reaching the ${role} ${String(name)}`);
}

/** Form controls on the page without a label (a <label>, aria-label or aria-labelledby). */
const unlabelled = (page: Page) =>
  page.evaluate(() =>
    [...document.querySelectorAll<HTMLInputElement>('input, select, textarea')]
      .filter((el) => el.type !== 'hidden' && el.getAttribute('aria-hidden') !== 'true')
      .filter(
        (el) =>
          !el.labels?.length &&
          !el.getAttribute('aria-label') &&
          !el.getAttribute('aria-labelledby'),
      )
      .map((el) => el.outerHTML.slice(0, 120)),
  );

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'firebreak-console-'));
  cpSync(SHIPPED, dir, { recursive: true });
  [sshd, browser] = await Promise.all([startSshd(), launchChromium(), ensureConsoleBuilt()]);
  t = await startTestApp({ RUNBOOKS_DIR: dir, LOCAL_NODE: 'true' });
  base = `http://127.0.0.1:${(t.app.getHttpServer().address() as { port: number }).port}`;
  await registerFleet(t, sshd, ['web-1']);
  const user = await t
    .http()
    .post('/users')
    .set('Authorization', t.adminAuth)
    .send({ ...OPERATOR, displayName: 'Olga', roles: ['operator'] });
  expect(user.status).toBe(201);
  for (const yaml of [GUARDED, SNEAKY]) {
    const saved = await t
      .http()
      .post('/runbooks')
      .set('Authorization', t.adminAuth)
      .set('Content-Type', 'application/yaml')
      .send(yaml);
    expect(saved.status).toBe(201);
  }
});

afterAll(async () => {
  await browser?.close();
  await t?.close();
  await sshd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') {
    let n = 0;
    for (const page of pages)
      if (!page.isClosed()) await shot(page, `failed-${ctx.task.name.slice(0, 40)}-${++n}`);
  }
  pages.length = 0;
  const seen = [...problems];
  problems.length = 0;
  expect(seen, 'errors in the browser console').toEqual([]);
});

describe('the web console in Chromium', { timeout: 120_000 }, () => {
  it('signs in and lands on the first-run page (diagnose-host on localhost, adding a node)', async () => {
    const { context, page } = await newPage();
    await page.goto('/runbooks');
    await page.waitForURL(/\/login\?next=%2Frunbooks/, WAIT);
    await shot(page, '01-sign-in');
    await page.getByLabel('Username').fill('admin');
    await page.getByRole('textbox', { name: /^Password/ }).fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('wrong username or password').waitFor(WAIT);
    await page.goto('/');
    await signIn(page, 'admin', ADMIN_PASSWORD);
    const firstRun = page.getByTestId('first-run');
    await firstRun.waitFor(WAIT);
    await firstRun.getByText('npx firebreak run diagnose-host --node localhost --follow').waitFor();
    await firstRun.getByText('Add a real node').waitFor();
    // The session is the HttpOnly cookie: scripts cannot read it.
    expect(await page.evaluate(() => document.cookie)).not.toContain('fb_session');
    expect(await page.evaluate(() => document.cookie)).toContain('fb_csrf=');
    await shot(page, '02-first-run');
    await context.close();
  });

  it('finds diagnose-host in the catalog (search, tag, kind) and shows its options and a side-by-side diff', async () => {
    // A second version, so there is history to compare.
    const v2 = readFileSync(join(dir, 'diagnose-host.yaml'), 'utf8').replace(
      'Safe to run at',
      'Harmless to run at',
    );
    const saved = await t
      .http()
      .post('/runbooks')
      .set('Authorization', t.adminAuth)
      .set('Content-Type', 'application/yaml')
      .send(v2);
    expect(saved.body).toMatchObject({ version: 2, created: true });

    const { context, page } = await newPage();
    await signIn(page, 'admin', ADMIN_PASSWORD, '/runbooks');
    await page.getByTestId('runbook-restart-service').waitFor(WAIT);
    await page.getByLabel('Search').fill('diagnose');
    await page.getByTestId('runbook-restart-service').waitFor({ state: 'detached', ...WAIT });
    await page.getByTestId('runbook-diagnose-host').waitFor(WAIT);
    await page.getByLabel('Search').fill('');
    await page.getByTestId('runbook-restart-service').waitFor(WAIT);
    await page.getByLabel('Tag').fill('triage');
    await page.getByTestId('runbook-restart-service').waitFor({ state: 'detached', ...WAIT });
    await page.getByTestId('runbook-diagnose-host').waitFor(WAIT);
    await page.getByLabel('Tag').fill('');
    await page.getByTestId('runbook-restart-service').waitFor(WAIT);
    await page.getByRole('combobox', { name: 'Kind' }).click();
    await page.getByRole('option', { name: 'Remediation' }).click();
    await page.getByTestId('runbook-diagnose-host').waitFor({ state: 'detached', ...WAIT });
    await page.getByTestId('runbook-restart-service').waitFor(WAIT);
    expect(page.url()).toContain('kind=remediation'); // the filter is a link
    await shot(page, '03-catalog');

    await page.goto('/runbooks/diagnose-host');
    await page.getByTestId('runbook-description').getByText('Harmless to run at').waitFor(WAIT);
    const options = page.getByRole('table', { name: 'Options' });
    await options.getByText('top_processes').waitFor();
    await options.getByText('kernel_lines').waitFor();
    const diff = page.getByRole('table', { name: 'Diff v1 → v2' });
    await diff.waitFor(WAIT);
    // The changed line, old on the left and new on the right, in one row.
    const row = diff.getByRole('row').filter({ hasText: 'Harmless to run at' });
    await expect(row.getByRole('cell').nth(1).textContent()).resolves.toContain('Safe to run at');
    await expect(row.getByRole('cell').nth(3).textContent()).resolves.toContain(
      'Harmless to run at',
    );
    await shot(page, '04-runbook');
    await context.close();
  });

  it('runs diagnose-host from the form: live node count, server validation at the field, the plan, the live log to the end', async () => {
    const { context, page } = await newPage();
    await signIn(page, 'admin', ADMIN_PASSWORD, '/');
    await page.getByRole('link', { name: 'Run diagnose-host on localhost' }).click();
    await page.waitForURL(/\/runbooks\/diagnose-host\/run\?nodes=localhost/, WAIT);
    await page.getByTestId('matched').getByText('1 node matched: localhost').waitFor(WAIT);
    await page.getByLabel('Nodes').fill('localhost, web-*');
    await page.getByTestId('matched').getByText('2 nodes matched: localhost, web-1').waitFor(WAIT);

    // The server's validation message, at its field.
    const top = page.getByLabel('top_processes');
    await top.fill('500');
    await page.getByRole('button', { name: 'Preview plan' }).click();
    await page.getByText('must be at most 100', { exact: true }).waitFor(WAIT);
    await top.fill('7');
    await page.getByRole('button', { name: 'Preview plan' }).click();
    const plan = page.getByTestId('plan');
    await plan.waitFor(WAIT);
    // The exact command per node.
    await plan.getByText('2 nodes, strategy parallel').waitFor();
    const commands = await plan.getByTestId('plan-command').allTextContents();
    expect(commands.filter((c) => c.includes('head -n 7'))).toHaveLength(2);
    await shot(page, '05-run-form-plan');

    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForURL(/\/executions\/[0-9a-f-]{36}$/, WAIT);
    await page.getByTestId('log-ended').getByText('succeeded').waitFor(WAIT);
    await page.getByTestId('execution-status').getByText('succeeded').waitFor(WAIT);
    const grid = page.getByRole('grid', { name: 'Node status' });
    await grid.getByRole('gridcell', { name: 'localhost: succeeded' }).waitFor(WAIT);
    await grid.getByRole('gridcell', { name: 'web-1: succeeded' }).waitFor(WAIT);
    // Followed to the end (virtualised: only the lines in view are in the page).
    await page
      .getByTestId('log')
      .getByText(/finished: succeeded/)
      .waitFor(WAIT);
    // Filter by step.
    await page.getByRole('combobox', { name: 'Step' }).click();
    await page.getByRole('option', { name: 'memory' }).click();
    await page.getByTestId('log').getByText('MemAvailable').first().waitFor(WAIT);
    await page.getByRole('combobox', { name: 'Step' }).click();
    await page.getByRole('option', { name: 'memory' }).click(); // deselects
    // Filter the log by node from the grid.
    await grid.getByRole('gridcell', { name: 'web-1: succeeded' }).click();
    await page
      .getByTestId('log-state')
      .getByText(/^\d+ of \d+ lines/)
      .waitFor();
    const lines = await page.getByTestId('log-line').allTextContents();
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.startsWith('web-1'))).toBe(true);
    await shot(page, '06-execution');

    // Deep link: the same URL loads the page directly.
    const url = page.url();
    await page.goto(url);
    await page.getByTestId('execution-status').getByText('succeeded').waitFor(WAIT);
    // Rerun makes a new execution.
    await page.getByRole('button', { name: 'Rerun' }).click();
    await page.waitForURL((u) => u.toString() !== url && /\/executions\//.test(u.toString()), WAIT);
    await page.getByTestId('log-ended').waitFor(WAIT);
    await context.close();
  });

  it('an approval asked by one user waits for the other, who approves it from the inbox', async () => {
    const asker = await newPage();
    await signIn(asker.page, OPERATOR.username, OPERATOR.password, '/runbooks/guarded-echo/run');
    await asker.page.getByRole('button', { name: 'Preview plan' }).click();
    await asker.page.getByTestId('plan').getByText('needs approval').waitFor(WAIT);
    await asker.page.getByRole('button', { name: 'Request approval and run' }).click();
    await asker.page.waitForURL(/\/executions\/[0-9a-f-]{36}$/, WAIT);
    const banner = asker.page.getByTestId('approval-banner');
    await banner.waitFor(WAIT);
    await banner
      .getByTestId('waiting-for')
      .getByText(/Waiting for/)
      .waitFor(WAIT);
    expect(await banner.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    await shot(asker.page, '07-waiting-for-approval');
    const executionUrl = asker.page.url();

    const approver = await newPage();
    await signIn(approver.page, 'admin', ADMIN_PASSWORD, '/approvals');
    await approver.page
      .getByRole('table', { name: 'Pending approvals' })
      .getByText('guarded-echo')
      .click();
    await approver.page.waitForURL(executionUrl, WAIT);
    await approver.page.getByLabel('Comment').fill('go ahead');
    await shot(approver.page, '08-approve');
    await approver.page.getByRole('button', { name: 'Approve' }).click();
    await approver.page.getByTestId('execution-status').getByText('succeeded').waitFor(WAIT);
    // The asker's page follows it live.
    await asker.page.getByTestId('execution-status').getByText('succeeded').waitFor(WAIT);
    await asker.page.getByTestId('log').getByText('approved and ran').last().waitFor(WAIT);
    await asker.context.close();
    await approver.context.close();
  });

  it('declares an incident, runs a runbook for it and shows both on its live timeline', async () => {
    const { context, page } = await newPage();
    await signIn(page, 'admin', ADMIN_PASSWORD, '/incidents');
    await page.getByLabel('Title').fill(`Checkout down ${XSS}`);
    await page.getByRole('combobox', { name: 'Severity' }).click();
    await page.getByRole('option', { name: 'SEV2' }).click();
    await page.getByRole('button', { name: 'Declare' }).click();
    await page.waitForURL(/\/incidents\/INC-\d+$/, WAIT);
    const ref = page.url().split('/').pop()!;
    await page.getByRole('heading', { name: `${ref}: Checkout down ${XSS}` }).waitFor(WAIT);
    const timeline = page.getByTestId('timeline');
    await timeline
      .getByText(/declared/i)
      .first()
      .waitFor(WAIT);
    await page.getByLabel('Add a note').fill('looking at the load balancer');
    await page.getByRole('button', { name: 'Add note' }).click();
    await timeline.getByText('looking at the load balancer').waitFor(WAIT);

    await page.getByRole('link', { name: `Run a runbook for ${ref}` }).click();
    await page.getByTestId('for-incident').getByText(ref).waitFor(WAIT);
    await page.getByRole('link', { name: 'diagnose-host' }).click();
    await page.waitForURL(new RegExp(`/runbooks/diagnose-host/run\\?incident=${ref}$`), WAIT);
    await page.getByLabel('Nodes').fill('localhost');
    await page.getByTestId('matched').getByText('1 node matched: localhost').waitFor(WAIT);
    await page.getByRole('button', { name: 'Preview plan' }).click();
    await page.getByRole('button', { name: `Run for ${ref}` }).click();
    await page.waitForURL(/\/executions\/[0-9a-f-]{36}$/, WAIT);
    await page.getByTestId('execution-status').getByText('succeeded').waitFor(WAIT);

    await page.goto(`/incidents/${ref}`);
    await timeline.getByText('looking at the load balancer').waitFor(WAIT);
    await timeline
      .getByText(/diagnose-host/)
      .first()
      .waitFor(WAIT);
    await timeline.getByRole('link', { name: '(execution)' }).first().waitFor(WAIT);
    await shot(page, '10-incident');
    await page.goto('/incidents');
    await page.getByTestId(`incident-${ref}`).getByText(`Checkout down ${XSS}`).waitFor(WAIT);
    await shot(page, '11-incidents-board');
    expect(await page.evaluate(() => (window as { __xss?: number }).__xss)).toBeUndefined();
    await context.close();
  });

  it('renders stored markup as text (no stored XSS)', async () => {
    const { context, page } = await newPage();
    await signIn(page, 'admin', ADMIN_PASSWORD, '/runbooks?tag=xss');
    const row = page.getByTestId('runbook-sneaky');
    await row.getByText(XSS).waitFor(WAIT);
    await page.goto('/runbooks/sneaky');
    await page.getByTestId('runbook-description').getByText(XSS).waitFor(WAIT);
    await page.goto('/runbooks/sneaky/run?nodes=localhost');
    await page.getByText(XSS).first().waitFor(WAIT);
    await page.getByLabel('note').fill(XSS.replace('img', 'svg'));
    await page.getByRole('button', { name: 'Preview plan' }).click();
    await page.getByTestId('plan').waitFor(WAIT);
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.getByTestId('log-ended').waitFor(WAIT);
    await page.getByTestId('log').getByText('onerror=window.__xss=1').last().waitFor(WAIT);
    expect(await page.evaluate(() => (window as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator('img[src="x"], svg[onerror]').count()).toBe(0);
    await context.close();
  });

  it('works without a mouse: sign in, open a runbook, fill the run form, run, the node grid by arrow keys, the log by keys', async () => {
    const { context, page } = await newPage();
    await page.goto('/');
    await page.waitForURL(/\/login/, WAIT);
    await page.getByRole('button', { name: 'Sign in' }).waitFor(WAIT);
    expect(await unlabelled(page)).toEqual([]);
    await tabTo(page, 'input', /^Username/);
    await page.keyboard.type('admin');
    await page.keyboard.press('Tab');
    expect((await focused(page)).name).toMatch(/^Password/);
    await page.keyboard.type(ADMIN_PASSWORD);
    await page.keyboard.press('Enter');
    await page.getByTestId('whoami').waitFor(WAIT);

    // The navigation, then the catalog's link, then the runbook's Run button.
    await tabTo(page, 'a', /^Runbooks$/);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/runbooks$/, WAIT);
    await page.getByRole('link', { name: 'diagnose-host', exact: true }).first().waitFor(WAIT);
    await tabTo(page, 'a', /^diagnose-host$/);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/runbooks\/diagnose-host$/, WAIT);
    await page.getByRole('link', { name: 'Run…' }).waitFor(WAIT);
    await tabTo(page, 'a', /^Run…$/);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/runbooks\/diagnose-host\/run$/, WAIT);
    await page.getByRole('button', { name: 'Preview plan' }).waitFor(WAIT);
    expect(await unlabelled(page)).toEqual([]);
    await tabTo(page, 'input', /^Nodes/);
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type('localhost, web-*');
    await page.getByTestId('matched').getByText('2 nodes matched').waitFor(WAIT);
    await tabTo(page, 'button', /^Preview plan$/);
    await page.keyboard.press('Enter');
    await page.getByTestId('plan').waitFor(WAIT);
    await tabTo(page, 'button', /^Run$/);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/executions\/[0-9a-f-]{36}$/, WAIT);
    await page.getByTestId('log-ended').getByText('succeeded').waitFor(WAIT);

    // The grid: named, one tab stop, arrow keys between cells, Enter filters the log.
    const grid = page.getByRole('grid', { name: 'Node status' });
    await grid.getByRole('gridcell', { name: 'web-1: succeeded' }).waitFor(WAIT);
    expect(await grid.getAttribute('aria-rowcount')).toBe('1');
    expect(await grid.locator('[role=gridcell][tabindex="0"]').count()).toBe(1);
    await tabTo(page, 'gridcell', /^localhost: succeeded$/);
    await page.keyboard.press('ArrowRight');
    expect(await focused(page)).toMatchObject({ name: 'web-1: succeeded', selected: 'false' });
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await focused(page)).selected, WAIT).toBe('true');
    await expect
      .poll(async () => {
        const lines = await page.getByTestId('log-line').allTextContents();
        return lines.length > 0 && lines.every((l) => l.startsWith('web-1'));
      }, WAIT)
      .toBe(true);
    await page.keyboard.press('ArrowLeft');
    expect((await focused(page)).name).toBe('localhost: succeeded');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Enter'); // the filter off again
    await expect.poll(async () => (await focused(page)).selected, WAIT).toBe('false');
    // One Tab leaves the grid (1,000 cells are one stop, not 1,000).
    await page.keyboard.press('Tab');
    expect((await focused(page)).inGrid).toBe(false);

    // The log: role log with a name, scrolled by keys; going up pauses follow, End resumes it.
    await tabTo(page, 'log', /^Execution output$/);
    const log = page.getByTestId('log');
    const top = () => log.evaluate((el) => el.scrollTop);
    const follow = page.getByRole('switch', { name: 'Follow' });
    await expect
      .poll(() => log.evaluate((el) => el.scrollHeight > el.clientHeight), WAIT)
      .toBe(true);
    await page.keyboard.press('Home');
    await expect.poll(top, WAIT).toBe(0);
    expect(await follow.isChecked()).toBe(false);
    // On a loaded machine a key can land while the page is still settling from Home (follow
    // switching off re-renders the toolbar): PageDown, with the focus left where the keys put
    // it, is pressed again until the log moves (seen once in CI at load ≈ 4: 0 after one press).
    await expect
      .poll(async () => {
        await page.keyboard.press('PageDown');
        return top();
      }, WAIT)
      .toBeGreaterThan(0);
    await page.keyboard.press('End');
    await expect
      .poll(() => log.evaluate((el) => el.scrollTop + el.clientHeight >= el.scrollHeight - 1), WAIT)
      .toBe(true);
    await expect.poll(() => follow.isChecked(), WAIT).toBe(true);
    await shot(page, '10-keyboard-execution');
    await context.close();
  });

  it('fits 1280×720 and a phone (390×844) without horizontal scrolling, in light and dark mode', async () => {
    const run = await t
      .http()
      .post('/executions')
      .set('Authorization', t.adminAuth)
      .send({ runbook: 'diagnose-host', nodes: ['localhost', 'web-1'] });
    expect(run.status).toBe(201);
    await waitFinished(t, run.body.id as string);
    // The main pages (the other specs screenshot the rest at 1280×720).
    const paths = [
      '/',
      '/runbooks/diagnose-host',
      '/runbooks/diagnose-host/run',
      `/executions/${run.body.id as string}`,
      '/incidents',
      '/freezes',
      '/audit',
      '/admin/users',
    ];
    for (const [viewport, scheme] of [
      [{ width: 1280, height: 720 }, 'light'],
      [{ width: 390, height: 844 }, 'dark'],
    ] as const) {
      const { context, page } = await newPage(viewport, scheme);
      await signIn(page, 'admin', ADMIN_PASSWORD, '/');
      for (const path of paths) {
        await page.goto(path);
        await page.getByRole('heading').first().waitFor(WAIT);
        await expect.poll(() => page.locator('[aria-busy="true"]').count(), WAIT).toBe(0);
        const fits = await page.evaluate(() => ({
          scrollWidth: document.documentElement.scrollWidth,
          innerWidth: window.innerWidth,
          scheme: document.documentElement.getAttribute('data-mantine-color-scheme'),
        }));
        expect(fits.scrollWidth, `${path} at ${viewport.width} px`).toBeLessThanOrEqual(
          fits.innerWidth,
        );
        expect(fits.scheme).toBe(scheme);
        const name =
          path
            .replace(/^\//, '')
            .replace(/[^a-z0-9]+/gi, '-')
            .slice(0, 40) || 'home';
        await shot(page, `layout-${viewport.width}-${scheme}-${name}`);
      }
      await context.close();
    }
  });

  it('signs out: the session ends server-side and the pages ask to sign in again', async () => {
    const { context, page } = await newPage();
    await signIn(page, 'admin', ADMIN_PASSWORD, '/executions');
    await page.getByRole('table', { name: 'Executions' }).waitFor(WAIT);
    await shot(page, '09-executions');
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'fb_session')!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login/, WAIT);
    // The old cookie no longer works, even sent by hand.
    const res = await t.http().get('/auth/me').set('Cookie', `fb_session=${session.value}`);
    expect(res.status).toBe(401);
    await page.goto('/settings/slack');
    await page.waitForURL(/\/login\?next=%2Fsettings%2Fslack/, WAIT);
    await context.close();
  });
});
