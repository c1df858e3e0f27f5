import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ADMIN_PASSWORD, startTestApp, type TestApp } from './support/app.js';
import { ensureConsoleBuilt, launchChromium, SCREENSHOT_DIR } from './support/console.js';
import { registerFleet } from './support/fleet.js';
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

async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 720 },
    baseURL: base,
  });
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
  await page.getByTestId('whoami').waitFor(WAIT);
}

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
