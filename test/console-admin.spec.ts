import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DataSource } from 'typeorm';
import { ADMIN_PASSWORD, startTestApp, type TestApp } from './support/app.js';
import { ensureConsoleBuilt, launchChromium, SCREENSHOT_DIR } from './support/console.js';

// The console's admin side in a real, headless Chromium against the real server: API tokens
// (shown once), users and roles, the audit trail and its verify button, an operator refused,
// the Slack link code, incident roles handed over, credentials write-only, an integration's
// secret shown once. Screenshots go to test-output/console/ (admin-*.png).

const WAIT = { timeout: 30_000 };
const OPERATOR = { username: 'otto', password: 'operator-password-456' };

let t: TestApp;
let browser: Browser;
let base: string;
let admin: { context: BrowserContext; page: Page };
/** Problems the browser reported (CSP violations, script errors). */
const problems: string[] = [];

async function newPage(
  viewport = { width: 1280, height: 720 },
  colorScheme: 'light' | 'dark' = 'light',
) {
  const context = await browser.newContext({ viewport, baseURL: base, colorScheme });
  const page = await context.newPage();
  page.on('console', (m) => {
    // A 4xx answer is shown by the page (refused, validation); anything else is a problem.
    if (m.type() === 'error' && !/the server responded with a status of 4\d\d/.test(m.text()))
      problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  return { context, page };
}

async function signIn(page: Page, username: string, password: string, path: string) {
  await page.goto(path);
  await page.getByLabel('Username').fill(username);
  await page.getByRole('textbox', { name: /^Password/ }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // (Hidden at phone width, but there once signed in.)
  await page.getByTestId('whoami').waitFor({ state: 'attached', ...WAIT });
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(SCREENSHOT_DIR, `admin-${name}.png`), fullPage: true });

beforeAll(async () => {
  [browser] = await Promise.all([launchChromium(), ensureConsoleBuilt()]);
  t = await startTestApp();
  base = `http://127.0.0.1:${(t.app.getHttpServer().address() as { port: number }).port}`;
  const created = await t
    .http()
    .post('/users')
    .set('Authorization', t.adminAuth)
    .send({ ...OPERATOR, displayName: 'Otto', roles: ['operator'] });
  expect(created.status).toBe(201);
  admin = await newPage();
  await signIn(admin.page, 'admin', ADMIN_PASSWORD, '/admin');
});

afterAll(async () => {
  await browser?.close();
  await t?.close();
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && !admin.page.isClosed())
    await shot(admin.page, `failed-${ctx.task.name.slice(0, 40)}`);
  const seen = [...problems];
  problems.length = 0;
  expect(seen, 'errors in the browser console').toEqual([]);
});

describe('the console admin pages in Chromium', { timeout: 60_000 }, () => {
  it('creates an API token: shown once with a copy button, afterwards only its name', async () => {
    const { page } = admin;
    await page.goto('/admin/tokens');
    await page.getByText('You have no API tokens.').waitFor(WAIT);
    await page.getByLabel('Token name').fill('ci-deploy');
    await page.getByRole('button', { name: 'Create token' }).click();
    const shown = page.getByTestId('new-token');
    await shown.waitFor(WAIT);
    const token = (await shown.textContent())!;
    expect(token).toMatch(/^fbk_/);
    await page.getByRole('button', { name: 'Copy the new token' }).waitFor();
    await page.getByTestId('token-ci-deploy').waitFor(WAIT);
    await shot(page, 'token-shown-once');
    // It works, and after a reload the page knows only its name and prefix.
    const me = await t.http().get('/auth/me').set('Authorization', `Bearer ${token}`);
    expect(me.body.username).toBe('admin');
    await page.reload();
    await page.getByTestId('token-ci-deploy').waitFor(WAIT);
    expect(await page.content()).not.toContain(token);
    // Revoked, it stops working.
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Revoke ci-deploy' }).click();
    await page.getByText('You have no API tokens.').waitFor(WAIT);
    const after = await t.http().get('/auth/me').set('Authorization', `Bearer ${token}`);
    expect(after.status).toBe(401);
  });

  it('gives a user a role', async () => {
    const { page } = admin;
    await page.goto('/admin');
    await page.waitForURL(/\/admin\/users$/, WAIT);
    const row = page.getByTestId(`user-${OPERATOR.username}`);
    await row.getByTestId('roles').getByText('operator').waitFor(WAIT);
    await page.getByRole('button', { name: `Edit ${OPERATOR.username}` }).click();
    const dialog = page.getByRole('dialog', { name: `Edit ${OPERATOR.username}` });
    await dialog.getByRole('checkbox', { name: 'responder' }).check();
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached', ...WAIT });
    await row.getByTestId('roles').getByText('operator, responder').waitFor(WAIT);
    await shot(page, 'users');
    const users = await t.http().get('/users').set('Authorization', t.adminAuth);
    const otto = (users.body as Array<{ username: string; roles: string[] }>).find(
      (u) => u.username === OPERATOR.username,
    );
    expect(otto?.roles.sort()).toEqual(['operator', 'responder']);
  });

  it('shows the audit trail with details, filters it and verifies the chain (intact, then broken at the changed entry)', async () => {
    const { page } = admin;
    await page.goto('/audit?action=user.create');
    const table = page.getByRole('table', { name: 'Audit entries' });
    await table.getByText('user.create').first().waitFor(WAIT);
    expect(await table.getByText('auth.login').count()).toBe(0);
    await table
      .getByRole('button', { name: /^Details/ })
      .first()
      .click();
    await table.getByText(`"username": "${OPERATOR.username}"`).waitFor(WAIT);
    await page.getByLabel('Action').fill('');
    await table.getByText('auth.login').first().waitFor(WAIT);
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    await page
      .getByTestId('verify-result')
      .getByText(/^Intact/)
      .waitFor(WAIT);
    await shot(page, 'audit');
    // An entry changed behind the API's back: the page names it.
    const ds = t.app.get(DataSource);
    const [victim] = await ds.query<Array<{ id: string }>>(
      `SELECT id::text AS id FROM audit_log WHERE action = 'user.create' ORDER BY id DESC LIMIT 1`,
    );
    await ds.transaction(async (m) => {
      await m.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
      await m.query(`UPDATE audit_log SET details = '{"roles":["admin"]}' WHERE id = $1`, [
        victim.id,
      ]);
      await m.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
    });
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    await page
      .getByTestId('verify-result')
      .getByText(`Broken at entry #${victim.id}:`)
      .waitFor(WAIT);
    await shot(page, 'audit-broken');
  });

  it('keeps credentials write-only and shows an integration secret once', async () => {
    const { page } = admin;
    const secret = 'a-very-secret-password-42';
    await page.goto('/admin/credentials');
    await page.getByText('No credentials yet.').waitFor(WAIT);
    await page.getByLabel('Credential name').fill('db-login');
    await page.getByRole('combobox', { name: 'Type' }).click();
    await page.getByRole('option', { name: 'Password' }).click();
    await page.getByRole('textbox', { name: /^Password/ }).fill(secret);
    await page.getByRole('button', { name: 'Add credential' }).click();
    await page.getByTestId('credential-db-login').waitFor(WAIT);
    expect(await page.getByRole('textbox', { name: /^Password/ }).inputValue()).toBe('');
    await page.reload();
    await page.getByTestId('credential-db-login').waitFor(WAIT);
    expect(await page.content()).not.toContain(secret);
    await shot(page, 'credentials');
    await page.getByRole('button', { name: 'Rotate db-login' }).click();
    const rotate = page.getByRole('dialog', { name: 'Rotate db-login' });
    await rotate.getByRole('textbox', { name: /^Password/ }).fill(`${secret}-new`);
    await rotate.getByRole('button', { name: 'Rotate' }).click();
    await rotate.waitFor({ state: 'detached', ...WAIT });
    const rotated = await t.http().get('/credentials/db-login').set('Authorization', t.adminAuth);
    expect(rotated.body.rotatedAt).not.toBeNull();

    await page.goto('/admin/integrations');
    await page.getByLabel('Integration name').fill('prom-main');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    const hookSecret = (await page.getByTestId('integration-secret').textContent({ ...WAIT }))!;
    expect(hookSecret.length).toBeGreaterThan(20);
    await page.getByTestId('integration-prom-main').getByText('/hooks/alertmanager/').waitFor(WAIT);
    await shot(page, 'integrations');
    await page.reload();
    const row = page.getByTestId('integration-prom-main');
    await row.waitFor(WAIT);
    expect(await page.content()).not.toContain(hookSecret);
    // A delivery it could not read is listed under its settings; a setting saved sticks.
    const id = ((await row.getByText('/hooks/alertmanager/').textContent()) ?? '')
      .split('/')
      .pop()!;
    const bad = await t
      .http()
      .post(`/hooks/alertmanager/${id}`)
      .set('Authorization', `Bearer ${hookSecret}`)
      .send({ version: '4', alerts: 'none' });
    expect(bad.status).toBe(400);
    await page.getByRole('button', { name: 'Settings of prom-main' }).click();
    const dialog = page.getByRole('dialog', { name: 'prom-main settings' });
    await dialog.getByTestId('rejected').getByText('"bytes"').waitFor(WAIT);
    await dialog.getByRole('switch', { name: /^Disabled/ }).check();
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached', ...WAIT });
    await row.getByText('disabled').waitFor(WAIT);
    const saved = await t.http().get(`/integrations/${id}`).set('Authorization', t.adminAuth);
    expect(saved.body.disabled).toBe(true);
  });

  it('adds, imports and disables nodes', async () => {
    const { page } = admin;
    await page.goto('/admin/nodes');
    await page.getByText('No node matches.').waitFor(WAIT);
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('db-1');
    await page.getByRole('textbox', { name: 'Hostname' }).fill('10.0.0.5');
    await page.getByRole('button', { name: 'Add node' }).click();
    await page.getByTestId('node-db-1').getByText('root@10.0.0.5:22').waitFor(WAIT);
    await page
      .getByLabel('Inventory', { exact: true })
      .fill('[web]\nweb-1 ansible_host=10.0.0.11\n');
    await page.getByRole('button', { name: 'Import' }).click();
    const report = page.getByTestId('ansible-report');
    await report.getByText('Nodes created (1): web-1').waitFor(WAIT);
    await report.getByText('Clusters created (1): web').waitFor(WAIT);
    await page.getByTestId('node-web-1').waitFor(WAIT);
    await page.getByRole('button', { name: 'Edit db-1' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit db-1' });
    await dialog.getByRole('switch', { name: /^Disabled/ }).check();
    await dialog.getByRole('button', { name: 'Save node' }).click();
    await dialog.waitFor({ state: 'detached', ...WAIT });
    await page.getByTestId('node-db-1').getByText('disabled').waitFor(WAIT);
    await shot(page, 'nodes');
    const node = await t.http().get('/nodes/db-1').set('Authorization', t.adminAuth);
    expect(node.body.disabled).toBe(true);
  });

  it('assigns an incident role and hands it over, on the timeline', async () => {
    const declared = await t
      .http()
      .post('/incidents')
      .set('Authorization', t.adminAuth)
      .send({ title: 'Queue backlog', severity: 'SEV3' });
    expect(declared.status).toBe(201);
    const ref = declared.body.ref as string;
    const { page } = admin;
    await page.goto(`/incidents/${ref}`);
    const roles = page.getByTestId('roles');
    // The declarer commands it at first; hand over to the operator.
    await roles.getByText('Incident commander').waitFor(WAIT);
    await page.getByRole('textbox', { name: 'Username' }).fill(OPERATOR.username);
    await page.getByRole('button', { name: /^Hand over from admin/ }).click();
    await roles.getByText('Otto').waitFor(WAIT);
    await page.getByTestId('timeline').getByText(/otto/i).first().waitFor(WAIT);
    await shot(page, 'incident-roles');
    const now = await t.http().get(`/incidents/${ref}`).set('Authorization', t.adminAuth);
    expect(now.body.roles).toEqual([
      expect.objectContaining({ role: 'commander', username: OPERATOR.username }),
    ]);
  });

  it('shows a Slack link code to type in Slack, keyboard only; the schedules page', async () => {
    const { page } = admin;
    await page.goto('/settings/slack');
    await page.getByTestId('slack-status').getByText('Not linked').waitFor(WAIT);
    // Keyboard only: Tab reaches the button (through the header and the navigation), Enter presses it.
    let tabs = 0;
    while (
      (await page.evaluate(() => document.activeElement?.textContent?.trim())) !== 'Get a link code'
    ) {
      expect(++tabs, 'Tab presses to reach "Get a link code"').toBeLessThan(40);
      await page.keyboard.press('Tab');
    }
    await page.keyboard.press('Enter');
    await page
      .getByTestId('slack-code')
      .getByText(/^\/runbook link [A-Z0-9]{4}-[A-Z0-9]{4}$/)
      .waitFor(WAIT);
    await shot(page, 'slack');
    await page.goto('/schedules');
    await page.getByText('No runbook you may see has a schedule.').waitFor(WAIT);
  });

  it('refuses an operator on /admin and /audit (the page says so, the API refuses too), on a phone in dark mode', async () => {
    const { context, page } = await newPage({ width: 390, height: 844 }, 'dark');
    await signIn(page, OPERATOR.username, OPERATOR.password, '/admin/users');
    await page.getByTestId('needs-admin').waitFor(WAIT);
    await shot(page, 'operator-refused');
    // Its own tokens are its own.
    await page.getByRole('tab', { name: 'API tokens' }).click();
    await page.waitForURL(/\/admin\/tokens$/, WAIT);
    await page.getByText('You have no API tokens.').waitFor(WAIT);
    await page.goto('/audit');
    await page.getByTestId('needs-admin').waitFor(WAIT);
    const status = await page.evaluate(async () => (await fetch('/users')).status);
    expect(status).toBe(403);
    // No horizontal scrolling of the page at phone width.
    expect(
      await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
    ).toBe(true);
    await context.close();
  });
});
