import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
const FIXTURES = join(import.meta.dirname, 'fixtures', 'import');
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
  // One reviewed freeze in the file (read-only in the console), far in the future.
  const freezesFile = join(
    mkdtempSync(join(tmpdir(), 'firebreak-console-freezes-')),
    'freezes.yaml',
  );
  writeFileSync(
    freezesFile,
    'freezes:\n  - name: year-end\n    reason: Year-end close\n    start: 2040-12-20T00:00:00Z\n    end: 2041-01-04T00:00:00Z\n',
  );
  t = await startTestApp({ FREEZES_FILE: freezesFile });
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
    // Revoking asks first, in an accessible dialog: Cancel has the focus, Tab stays inside,
    // Escape cancels (focus back on the button), and only the named button revokes.
    const revoke = page.getByRole('button', { name: 'Revoke ci-deploy' });
    await revoke.click();
    const confirm = page.getByRole('dialog', { name: 'Revoke the token ci-deploy?' });
    await confirm.getByText('Scripts using it stop working').waitFor(WAIT);
    const focused = () =>
      page.evaluate(() => ({
        text: document.activeElement?.textContent?.trim() ?? '',
        inDialog: !!document.activeElement?.closest('[role=dialog]'),
      }));
    await expect.poll(focused, WAIT).toEqual({ text: 'Cancel', inDialog: true });
    for (let i = 0; i < 4; i++) {
      await page.keyboard.press('Tab');
      expect((await focused()).inDialog, 'focus stays in the dialog').toBe(true);
    }
    await shot(page, 'confirm-revoke');
    await page.keyboard.press('Escape');
    await confirm.waitFor({ state: 'detached', ...WAIT });
    await expect.poll(() => revoke.evaluate((b) => b === document.activeElement), WAIT).toBe(true);
    expect((await t.http().get('/auth/me').set('Authorization', `Bearer ${token}`)).status).toBe(
      200,
    );
    // Revoked, it stops working.
    await revoke.click();
    await confirm.getByRole('button', { name: 'Revoke token' }).click();
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
    const report = page.getByTestId('node-import-report');
    await report.getByText('Nodes created (1): web-1').waitFor(WAIT);
    await report.getByText('Clusters created (1): web').waitFor(WAIT);
    await page.getByTestId('node-web-1').waitFor(WAIT);
    // A Rundeck resource model, the other node source.
    await page.getByText('Rundeck resource model').click();
    await page
      .getByLabel('Inventory', { exact: true })
      .fill(readFileSync(join(FIXTURES, 'rundeck-nodes', 'resources.yaml'), 'utf8'));
    await page.getByRole('button', { name: 'Import' }).click();
    await report.getByText(/^Nodes created \(3\): /).waitFor(WAIT);
    await page.getByTestId('node-bartholemew').waitFor(WAIT);
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

  it('lists file and API freezes; an admin creates (a field error shown at its field), edits and deletes an API freeze', async () => {
    const { page } = admin;
    await page.goto('/freezes');
    const file = page.getByTestId('freeze-year-end');
    await file.getByText('file', { exact: true }).waitFor(WAIT);
    await file.getByText(/^read-only: in .*freezes\.yaml$/).waitFor(WAIT);
    expect(await file.getByRole('button').count()).toBe(0);
    await page.getByRole('button', { name: 'New freeze' }).click();
    const dialog = page.getByRole('dialog', { name: 'New change freeze' });
    await dialog.getByRole('textbox', { name: /^Freeze name/ }).fill('db-migration');
    await dialog.getByRole('textbox', { name: /^Reason/ }).fill('Schema change');
    await dialog.getByRole('textbox', { name: /^Start/ }).fill('2039-03-02T00:00:00Z');
    await dialog.getByRole('textbox', { name: /^End/ }).fill('2039-03-01T00:00:00Z');
    await dialog.getByRole('textbox', { name: /^Node attributes/ }).fill('environment=production');
    await dialog.getByRole('button', { name: 'Create freeze' }).click();
    // The server's problem, under the field it names; nothing was made.
    const end = dialog.getByRole('textbox', { name: /^End/ });
    await expect.poll(() => end.getAttribute('aria-invalid'), WAIT).toBe('true');
    await dialog.getByText('end (2039-03-01T00:00:00Z) must be after start').first().waitFor(WAIT);
    expect(
      (await t.http().get('/freezes').set('Authorization', t.adminAuth)).body.freezes,
    ).toHaveLength(1);
    await end.fill('2039-03-03T00:00:00Z');
    await dialog.getByRole('button', { name: 'Create freeze' }).click();
    await dialog.waitFor({ state: 'detached', ...WAIT });
    const row = page.getByTestId('freeze-db-migration');
    await row.getByText('api', { exact: true }).waitFor(WAIT);
    await row.getByText('environment=production').waitFor(WAIT);
    await shot(page, 'freezes');
    await page.getByRole('button', { name: 'Edit db-migration' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit freeze db-migration' });
    await edit.getByRole('textbox', { name: /^Reason/ }).fill('Schema change, part 2');
    await edit.getByRole('textbox', { name: /^Node attributes/ }).fill('');
    await edit.getByRole('button', { name: 'Save freeze' }).click();
    await edit.waitFor({ state: 'detached', ...WAIT });
    await row.getByText('Schema change, part 2').waitFor(WAIT);
    const listed = await t.http().get('/freezes').set('Authorization', t.adminAuth);
    const made = (listed.body.freezes as Array<Record<string, unknown>>).find(
      (f) => f.name === 'db-migration',
    );
    expect(made).toMatchObject({
      source: 'api',
      reason: 'Schema change, part 2',
      end: '2039-03-03T00:00:00Z',
    });
    expect(made?.scope).toBeUndefined();
    await page.getByRole('button', { name: 'Delete db-migration' }).click();
    await page
      .getByRole('dialog', { name: 'Delete the freeze db-migration?' })
      .getByRole('button', { name: 'Delete freeze' })
      .click();
    await row.waitFor({ state: 'detached', ...WAIT });
    const audit = await t
      .http()
      .get('/audit?action=freeze.delete')
      .set('Authorization', t.adminAuth);
    expect(JSON.stringify(audit.body)).toContain('db-migration');
  });

  it('imports a Rundeck job file: the dry-run report first, then written and synced', async () => {
    const { page } = admin;
    await page.goto('/admin/import');
    const [chooser] = await Promise.all([
      page.waitForEvent('filechooser', WAIT),
      page.getByLabel('Job file').click(),
    ]);
    await chooser.setFiles(join(FIXTURES, 'rundeck', 'test-copyfile-job1.yaml'));
    await expect
      .poll(() => page.getByRole('textbox', { name: /^File name/ }).inputValue(), WAIT)
      .toBe('test-copyfile-job1.yaml');
    await page.getByRole('button', { name: 'Check (dry run)' }).click();
    const report = page.getByTestId('import-report');
    await report.getByText('1 runbook to write').waitFor(WAIT);
    const findings = report.getByRole('table', { name: 'Import findings' });
    await findings.getByText('converted').first().waitFor(WAIT);
    await findings
      .getByText(/^test-copyfile-job1\.yaml:\d+$/)
      .first()
      .waitFor(WAIT);
    await report.getByText(/^Files: test\/copy-multi\.yaml/).waitFor(WAIT);
    // A dry run writes nothing.
    const before = await t.http().get('/runbooks').set('Authorization', t.adminAuth);
    expect(before.body.map((r: { name: string }) => r.name)).not.toContain('copy-multi');
    await shot(page, 'import-report');
    await report.getByRole('button', { name: 'Write 1 runbook' }).click();
    await report.getByText('Written: test/copy-multi.yaml').waitFor(WAIT);
    const after = await t.http().get('/runbooks').set('Authorization', t.adminAuth);
    expect(after.body.map((r: { name: string }) => r.name)).toContain('copy-multi');
    // Written again without "replace": refused by the server, the message shown, nothing changed.
    await page.getByRole('button', { name: 'Check (dry run)' }).click();
    await report.getByRole('button', { name: 'Write 1 runbook' }).click();
    await page
      .getByRole('alert')
      .getByText(/files exist in RUNBOOKS_DIR/)
      .waitFor(WAIT);
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
