import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { startTestApp, type TestApp } from './support/app.js';
import { registerFleet, waitFinished } from './support/fleet.js';
import { slackHeaders, startSlackApi, type SlackApiStandIn } from './support/slack-api.js';
import { startSshd, type SshServer } from './support/sshd.js';

/**
 * Slack (#16) through the real app on a real Postgres, a real sshd node and local runs; Slack's
 * side is the stand-in of test/support/slack-api.ts (the only stand-in). Every request is signed
 * as Slack signs it; every follow-up is read from what the stand-in recorded.
 */
const SECRET = 'slack-signing-secret-for-tests';
const TEAM = 'T0001';

const RUNBOOKS: Record<string, string> = {
  'echo-msg': `name: echo-msg
description: Says a message on the node
kind: diagnostic
access: { run: [operator] }
options:
  - { name: msg, type: string, required: true }
steps:
  - name: say
    run: echo said {{ options.msg }}
`,
  held: `name: held
description: Needs an sre-lead's approval
kind: remediation
access: { run: [operator] }
approval: { approvers: [sre-lead], reason: production change }
steps:
  - name: go
    on: local
    run: echo approved-ran
`,
  'held-db': `name: held-db
description: Needs an sre-lead's approval, asked in the DBAs' channel
kind: remediation
access: { run: [operator] }
approval: { approvers: [sre-lead] }
steps:
  - name: go
    on: local
    run: echo db-ran
`,
  'with-secret': `name: with-secret
description: Takes a token
kind: remediation
access: { run: [operator] }
options:
  - { name: token, type: secure, required: true }
steps:
  - name: use
    on: local
    run: test -n {{ options.token }}
`,
};

type User = { id: string; username: string; auth: string };
type AuditItem = {
  actor: string;
  action: string;
  outcome: string;
  details: Record<string, unknown>;
};

describe('Slack (real app, Postgres, sshd; Slack API stand-in)', () => {
  let t: TestApp;
  let slack: SlackApiStandIn;
  let sshd: SshServer;
  let dir: string;
  let operator: User;
  let viewer: User;
  let lead: User;
  const env = () => ({
    RUNBOOKS_DIR: dir,
    PUBLIC_URL: 'https://firebreak.example.com',
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_BOT_TOKEN: slack.token,
    SLACK_API_URL: slack.apiUrl,
    SLACK_RESPONSE_URL_HOSTS: `hooks.slack.com,${slack.origin}`,
    SLACK_APPROVALS_CHANNEL: 'CAPPROVALS',
    SLACK_RUNBOOK_APPROVAL_CHANNELS: 'held-db=CDBA',
    SLACK_INCIDENT_CHANNEL: 'CINCIDENTS',
    SLACK_EMAIL_LINKING: 'true',
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-slack-'));
    for (const [name, text] of Object.entries(RUNBOOKS))
      writeFileSync(join(dir, `${name}.yaml`), text);
    [slack, sshd] = await Promise.all([startSlackApi(), startSshd()]);
    t = await startTestApp(env());
    await registerFleet(t, sshd, ['slack-1']);
    operator = await t.userWithRoles(['operator']);
    viewer = await t.userWithRoles(['viewer']);
    lead = await t.userWithRoles(['operator'], ['sre-lead']);
    await link(operator, 'UOPERATOR');
    await link(viewer, 'UVIEWER');
    await link(lead, 'ULEAD');
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all([slack?.stop(), sshd?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const post = (path: string, body: string, headers: Record<string, string>) =>
    t.http().post(path).set(headers).send(body);
  /** A signed slash command from a Slack user, with its own response_url. */
  const command = async (slackUser: string, text: string, cmd = '/runbook') => {
    const responseUrl = slack.responseUrl();
    const body = form({
      token: 'legacy-verification-token',
      team_id: TEAM,
      team_domain: 'example',
      channel_id: 'CINCIDENT',
      channel_name: 'incident',
      user_id: slackUser,
      user_name: slackUser.toLowerCase(),
      command: cmd,
      text,
      response_url: responseUrl,
      trigger_id: '123.456.abc',
    });
    const res = await post(`/slack/commands`, body, slackHeaders(SECRET, body));
    return { res, responseUrl, body };
  };
  /** The messages posted to a response_url, once there are `n`. */
  const responses = (url: string, n = 1) =>
    slack.waitFor((calls) => {
      const got = calls.filter((c) => c.method === 'response_url' && url.endsWith(c.path));
      return got.length >= n
        ? got.map((c) => c.body as { text: string; response_type?: string })
        : undefined;
    }, `${n} message(s) on ${url}`);
  async function link(user: User, slackUser: string) {
    const code = await t.http().post('/me/slack/link-codes').set('Authorization', user.auth);
    expect(code.status, JSON.stringify(code.body)).toBe(201);
    const { res } = await command(slackUser, `link ${code.body.code as string}`);
    expect(res.body.text).toContain(`run as *${user.username}*`);
  }
  const audit = async (actor: string) =>
    (
      (await t.http().get(`/audit?actor=${actor}&limit=100`).set('Authorization', t.adminAuth)).body
        .items as AuditItem[]
    ).reverse();

  it('refuses unsigned, tampered, stale and replayed requests with 401, audited; bad forms are 400', async () => {
    const body = form({
      team_id: TEAM,
      user_id: 'UOPERATOR',
      command: '/runbook',
      text: 'help',
      channel_id: 'C1',
      response_url: slack.responseUrl(),
    });
    const ok = await post('/slack/commands', body, slackHeaders(SECRET, body));
    expect(ok.status).toBe(200);
    expect(ok.body.text).toContain('/runbook list');

    // The very same signed request again (bytes and headers), inside the window: a replay.
    const ts = Math.floor(Date.now() / 1000) - 10;
    const once = slackHeaders(SECRET, body, ts);
    expect((await post('/slack/commands', body, once)).status).toBe(200);
    const again = await post('/slack/commands', body, once);
    expect(again.status).toBe(401);

    const unsigned = await t
      .http()
      .post('/slack/commands')
      .set('Content-Type', 'application/x-www-form-urlencoded')
      .send(body);
    expect(unsigned.status).toBe(401);
    const tampered = await post(
      '/slack/commands',
      body.replace('help', 'list'),
      slackHeaders(SECRET, body),
    );
    expect(tampered.status).toBe(401);
    const wrongSecret = await post(
      '/slack/commands',
      body,
      slackHeaders('another-secret-entirely', body),
    );
    expect(wrongSecret.status).toBe(401);
    const stale = await post(
      '/slack/commands',
      body,
      slackHeaders(SECRET, body, Math.floor(Date.now() / 1000) - 301),
    );
    expect(stale.status).toBe(401);
    for (const r of [again, unsigned, tampered, wrongSecret, stale]) {
      expect(r.body).toMatchObject({
        code: 'AUTH_REQUIRED',
        message: 'invalid or stale Slack request signature',
      });
      expect(JSON.stringify(r.body)).not.toContain(SECRET);
    }
    const denials = (await audit('slack')).filter((e) => e.action === 'slack.unauthenticated');
    expect(denials.map((d) => d.details.reason)).toEqual(
      expect.arrayContaining([
        'replayed request',
        'missing headers',
        'bad signature',
        'stale timestamp',
      ]),
    );

    // Signed but malformed: 400 naming the field.
    const noUser = form({
      team_id: TEAM,
      command: '/runbook',
      text: 'help',
      channel_id: 'C1',
      response_url: slack.responseUrl(),
    });
    const missing = await post('/slack/commands', noUser, slackHeaders(SECRET, noUser));
    expect(missing.status).toBe(400);
    expect(missing.body.details).toEqual([{ path: 'user_id', message: 'is required' }]);
    const json = JSON.stringify({ command: '/runbook' });
    const notForm = await post('/slack/commands', json, {
      ...slackHeaders(SECRET, json),
      'Content-Type': 'application/json',
    });
    expect(notForm.status).toBe(400);
    // response_url elsewhere than Slack: refused, nothing is called.
    const evil = form({
      team_id: TEAM,
      user_id: 'UOPERATOR',
      command: '/runbook',
      text: 'list',
      channel_id: 'C1',
      response_url: 'http://169.254.169.254/latest/meta-data',
    });
    const ssrf = await post('/slack/commands', evil, slackHeaders(SECRET, evil));
    expect(ssrf.status).toBe(400);
    expect(ssrf.body.details[0].path).toBe('response_url');
    // `%00` in the text decodes to a NUL Postgres cannot store: a 400 naming it, not a 500.
    const nul = form({
      team_id: TEAM,
      user_id: 'UOPERATOR',
      command: '/incident',
      text: 'declare db\u0000down',
      channel_id: 'C1',
      response_url: slack.responseUrl(),
    });
    expect(nul).toContain('%00');
    const nulRes = await post('/slack/commands', nul, slackHeaders(SECRET, nul));
    expect(nulRes.status).toBe(400);
    expect(nulRes.body.details).toEqual([
      { path: 'text', message: 'must not contain NUL characters or unpaired surrogates' },
    ]);
  });

  it("the operator's run executes on the sshd node and the result lands on response_url; the viewer is refused; both audited as themselves", async () => {
    const { res, responseUrl } = await command('UOPERATOR', 'run echo-msg msg="two words"');
    // Acknowledged at once, in the HTTP answer.
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ response_type: 'ephemeral', text: 'Working on `/runbook run`…' });
    const [started, finished] = await responses(responseUrl, 2);
    const id = /Id `([0-9a-f-]{36})`/.exec(started.text)![1];
    expect(started).toMatchObject({ response_type: 'in_channel' });
    expect(started.text).toContain(
      `${operator.username} started <https://firebreak.example.com/executions/${id}|echo-msg v1> on 1 node(s)`,
    );
    expect(finished.text).toMatch(
      new RegExp(
        `^:white_check_mark: <https://firebreak.example.com/executions/${id}\\|echo-msg v1> \\*succeeded\\* in \\d+\\.\\d s`,
      ),
    );
    expect(finished.text).toContain('slack-1: said two words');
    const e = await waitFinished(t, id);
    expect(e).toMatchObject({ status: 'succeeded', trigger: 'slack', actor: operator.username });

    const refused = await command('UVIEWER', 'run echo-msg msg=hi');
    const [no] = await responses(refused.responseUrl);
    expect(no.text).toBe(
      'not allowed: you may not run echo-msg: it runs for role:operator, role:admin',
    );

    const opAudit = await audit(operator.username);
    expect(opAudit).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'slack.link', outcome: 'success' }),
        expect.objectContaining({
          action: 'slack.command',
          details: expect.objectContaining({ subcommand: 'run', target: 'echo-msg' }),
        }),
        expect.objectContaining({ action: 'execution.start', outcome: 'success' }),
      ]),
    );
    const viewAudit = await audit(viewer.username);
    expect(viewAudit).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          action: 'slack.command',
          details: expect.objectContaining({ subcommand: 'run' }),
        }),
        expect.objectContaining({
          action: 'access.denied',
          outcome: 'denied',
          details: expect.objectContaining({ attempted: 'run' }),
        }),
      ]),
    );
  });

  it('usage, bad options, secure options and unlinked users get clear replies; nothing runs', async () => {
    const unknown = await command('UOPERATOR', 'frobnicate');
    expect(unknown.res.body.text).toMatch(/^unknown subcommand `frobnicate`\n\n\*\/runbook\*/);
    const badWord = await command('UOPERATOR', 'run echo-msg oops');
    expect(badWord.res.body.text).toMatch(/^oops: expected key=value/);
    const quotes = await command('UOPERATOR', 'run echo-msg msg="open');
    expect(quotes.res.body.text).toMatch(/^unbalanced quotes/);
    // A missing required option: the service's validation, naming the option, on response_url.
    const missing = await command('UOPERATOR', 'run echo-msg');
    const [m] = await responses(missing.responseUrl);
    expect(m.text).toMatch(/^invalid:\n• `options.msg`: is required\n\n\*\/runbook\*/);
    // Secure options are never typed into Slack: a link to the console's run form instead.
    const secret = await command('UOPERATOR', 'run with-secret token=hunter2-value for INC-9');
    const [s] = await responses(secret.responseUrl);
    expect(s.text).toContain('option `token` is secure');
    expect(s.text).toContain(
      '<https://firebreak.example.com/runbooks/with-secret/run?incident=INC-9|run form>',
    );
    const required = await command('UOPERATOR', 'run with-secret');
    const [r] = await responses(required.responseUrl);
    expect(r.text).toContain('needs secure option `token`');
    const runs = await t
      .http()
      .get('/executions?runbook=with-secret')
      .set('Authorization', t.adminAuth);
    expect(runs.body).toEqual([]);
    expect(JSON.stringify(await audit(operator.username))).not.toContain('hunter2-value');

    // An unlinked Slack user is told how to link, and it is audited.
    const stranger = await command('USTRANGER', 'list');
    expect(stranger.res.body.text).toContain('is not linked to a Firebreak user');
    expect(stranger.res.body.text).toContain(
      '<https://firebreak.example.com/settings/slack|Settings → Slack>',
    );
    expect(slack.responses(stranger.responseUrl)).toEqual([]);
  });

  it('list, show, plan and status answer on response_url as the user sees things', async () => {
    const list = await command('UVIEWER', 'list echo');
    const [l] = await responses(list.responseUrl);
    expect(l).toEqual({
      response_type: 'ephemeral',
      text: '• <https://firebreak.example.com/runbooks/echo-msg|echo-msg> — Says a message on the node',
    });
    const show = await command('UVIEWER', 'show echo-msg');
    const [sh] = await responses(show.responseUrl);
    expect(sh.text).toContain('• `msg` (string, required)');
    const plan = await command('UOPERATOR', 'plan echo-msg "msg=a b; rm -rf /" on slack-1');
    const [p] = await responses(plan.responseUrl);
    expect(p.text).toContain('*Plan of echo-msg* v1 on 1 node(s): slack-1');
    // The value stays one shell word in the plan, as in the API's.
    expect(p.text).toContain("• say: `echo said 'a b; rm -rf /'`");
    const offTarget = await command('UOPERATOR', 'plan echo-msg msg=x on elsewhere');
    expect((await responses(offTarget.responseUrl))[0].text).toBe(
      "on elsewhere: not among echo-msg's targets",
    );
    const status = await command('UOPERATOR', 'status 00000000-0000-4000-8000-000000000000');
    expect((await responses(status.responseUrl))[0].text).toMatch(/^not found: Execution/);
    expect((await command('UOPERATOR', 'status 42')).res.body.text).toMatch(
      /^usage: `\/runbook status ID`/,
    );
  });

  it('link codes are single use, need a session, and unlinking works from both sides', async () => {
    const user = await t.userWithRoles(['responder']);
    const code = (await t.http().post('/me/slack/link-codes').set('Authorization', user.auth)).body
      .code as string;
    expect(code).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/);
    const first = await command('URESP', `link ${code.toLowerCase()}`);
    expect(first.res.body.text).toContain(`run as *${user.username}*`);
    const reused = await command('UOTHER', `link ${code}`);
    expect(reused.res.body.text).toMatch(/unknown, used or expired/);
    expect((await t.http().get('/me/slack').set('Authorization', user.auth)).body).toMatchObject({
      linked: true,
      teamId: TEAM,
      slackUserId: 'URESP',
      via: 'code',
    });

    // An API token may not create codes (as it may not create tokens).
    const token = await t
      .http()
      .post('/auth/tokens')
      .set('Authorization', user.auth)
      .send({ name: 'x' });
    const byToken = await t
      .http()
      .post('/me/slack/link-codes')
      .set('Authorization', `Bearer ${token.body.token as string}`);
    expect(byToken.status).toBe(403);

    // From Slack.
    expect((await command('URESP', 'unlink')).res.body.text).toMatch(/^Unlinked/);
    expect((await command('URESP', 'list')).res.body.text).toContain('not linked');
    // From Firebreak: the user, and an admin.
    const again = (await t.http().post('/me/slack/link-codes').set('Authorization', user.auth)).body
      .code as string;
    await command('URESP', `link ${again}`);
    expect((await t.http().delete('/me/slack').set('Authorization', user.auth)).status).toBe(204);
    expect((await t.http().delete('/me/slack').set('Authorization', user.auth)).status).toBe(404);
    const third = (await t.http().post('/me/slack/link-codes').set('Authorization', user.auth)).body
      .code as string;
    await command('URESP', `link ${third}`);
    expect(
      (await t.http().delete(`/users/${user.id}/slack`).set('Authorization', operator.auth)).status,
    ).toBe(403);
    expect(
      (await t.http().delete(`/users/${user.id}/slack`).set('Authorization', t.adminAuth)).status,
    ).toBe(204);
    expect((await command('URESP', 'list')).res.body.text).toContain('not linked');
    const actions = (await audit(user.username)).map((e) => `${e.action}:${e.outcome}`);
    expect(actions.filter((a) => a === 'slack.unlink:success')).toHaveLength(2);
  });

  it('link attempts are throttled per Slack account: guesses stop, even a good code waits, others go on', async () => {
    // LOGIN_MAX_ATTEMPTS (5 by default) guesses per LOGIN_WINDOW, like logins.
    for (let i = 0; i < 5; i++)
      expect((await command('UGUESS', `link AAAA-AAA${i + 2}`)).res.body.text).toMatch(
        /unknown, used or expired/,
      );
    expect((await command('UGUESS', 'link AAAA-AAAA')).res.body.text).toMatch(
      /^Too many link attempts from your Slack account: try again in \d+ minute/,
    );
    const user = await t.userWithRoles(['responder']);
    const code = (await t.http().post('/me/slack/link-codes').set('Authorization', user.auth)).body
      .code as string;
    expect((await command('UGUESS', `link ${code}`)).res.body.text).toMatch(
      /^Too many link attempts/,
    );
    expect((await t.http().get('/me/slack').set('Authorization', user.auth)).body).toEqual({
      linked: false,
    });
    // Another Slack account is not held up by this one's guesses, and the code still works.
    expect((await command('UPATIENT', `link ${code}`)).res.body.text).toContain(
      `run as *${user.username}*`,
    );
  });

  it('links by verified e-mail (users.info) when enabled; an unconfirmed e-mail does not link', async () => {
    const user = await t.userWithRoles(['responder']);
    const email = `${user.username}@example.com`;
    const patched = await t
      .http()
      .patch(`/users/${user.id}`)
      .set('Authorization', t.adminAuth)
      .send({ email });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    slack.addUser({ id: 'UUNCONFIRMED', teamId: TEAM, name: 'u', email, emailConfirmed: false });
    expect((await command('UUNCONFIRMED', 'list')).res.body.text).toContain('not linked');
    slack.addUser({
      id: 'UMAIL',
      teamId: TEAM,
      name: 'm',
      email: email.toUpperCase(),
      emailConfirmed: true,
    });
    const { res } = await command('UMAIL', 'list');
    expect(res.body.text).toBe('Working on `/runbook list`…');
    const lookup = slack.calls.filter((c) => c.method === 'users.info' && c.body.user === 'UMAIL');
    expect(lookup).toHaveLength(1);
    expect(lookup[0]).toMatchObject({
      authorization: `Bearer ${slack.token}`,
      contentType: 'application/x-www-form-urlencoded',
      body: { user: 'UMAIL' },
    });
    expect((await t.http().get('/me/slack').set('Authorization', user.auth)).body).toMatchObject({
      linked: true,
      slackUserId: 'UMAIL',
      via: 'email',
    });
    expect(
      (await audit(user.username)).find((e) => e.action === 'slack.link')?.details,
    ).toMatchObject({ via: 'email', slackUser: 'UMAIL' });
  });

  it('/incident declare, ack, sev, note and status run as the user; a viewer is not allowed', async () => {
    const declared = await command('UOPERATOR', 'declare sev2 Checkout "is slow"', '/incident');
    const [d] = await responses(declared.responseUrl);
    const ref = /(INC-\d+)/.exec(d.text)![1];
    expect(d.text).toContain(
      `${operator.username} declared <https://firebreak.example.com/incidents/${ref}|${ref}> *SEV2*: Checkout is slow`,
    );
    for (const text of [`ack ${ref}`, `sev ${ref} SEV1`, `note ${ref} "rolled back" the deploy`]) {
      const c = await command('UOPERATOR', text, '/incident');
      const [reply] = await responses(c.responseUrl);
      expect(reply.text, text).toContain(operator.username);
    }
    const inc = (await t.http().get(`/incidents/${ref}`).set('Authorization', t.adminAuth)).body;
    expect(inc).toMatchObject({ severity: 'SEV1', status: 'investigating' });
    const status = await command('UVIEWER', `status ${ref}`, '/incident');
    const [st] = await responses(status.responseUrl);
    expect(st.text).toContain('*SEV1* investigating');
    const no = await command('UVIEWER', 'declare SEV3 nope', '/incident');
    const [n] = await responses(no.responseUrl);
    expect(n.text).toBe('not allowed: your roles (viewer) do not allow create on Incident');
    // A runbook run for the incident, from Slack: linked to it, on its timeline.
    const forInc = await command('UOPERATOR', `run echo-msg msg=fixing for ${ref.toLowerCase()}`);
    const [started, finished] = await responses(forInc.responseUrl, 2);
    expect(started.text).toContain(`for <https://firebreak.example.com/incidents/${ref}|${ref}>`);
    expect(finished.text).toContain('*succeeded*');
    const runId = /Id `([0-9a-f-]{36})`/.exec(started.text)![1];
    await waitFinished(t, runId);
    const run = await t.http().get(`/executions/${runId}`).set('Authorization', t.adminAuth);
    expect(run.body).toMatchObject({ incidentId: ref, trigger: 'slack' });

    // Every timeline entry reaches the incident channel, in order, with a link back, at most
    // about one message per second.
    // (The run's end is put on the timeline when the api process hears it: wait for it.)
    let timeline: Array<{ kind: string; summary: string }> = [];
    const deadline = Date.now() + 60_000;
    while (!timeline.some((e) => e.kind === 'execution.finished')) {
      if (Date.now() > deadline) throw new Error('no execution.finished on the timeline');
      await new Promise((r) => setTimeout(r, 100));
      timeline = (
        await t.http().get(`/incidents/${ref}/timeline?limit=100`).set('Authorization', t.adminAuth)
      ).body.items as typeof timeline;
    }
    const feed = await slack.waitFor((calls) => {
      const posts = calls.filter(
        (c) =>
          c.method === 'chat.postMessage' && c.body.channel === 'CINCIDENTS' && c.status === 200,
      );
      return posts.length >= timeline.length ? posts : undefined;
    }, `${timeline.length} incident channel messages`);
    expect(feed.map((c) => c.body.text)).toEqual(
      timeline.map((e) => expect.stringContaining(e.summary.replace(/&/g, '&amp;').slice(0, 40))),
    );
    expect(feed[0].body.text).toMatch(
      new RegExp(
        `^<https://firebreak.example.com/incidents/${ref}\\|${ref}> \\*SEV2\\* Checkout is slow — ${operator.username}: `,
      ),
    );
    for (let i = 1; i < feed.length; i++)
      expect(feed[i].at - feed[i - 1].at).toBeGreaterThanOrEqual(1000);

    const usage = await command('UOPERATOR', 'sev INC-1 SEV9', '/incident');
    expect(usage.res.body.text).toMatch(/^sev: expected one of SEV1, SEV2, SEV3, SEV4/);
  });

  it('approvals: a Block Kit message with buttons; the requester is refused (four eyes), another approves; console decisions update it too', async () => {
    const { responseUrl } = await command('UOPERATOR', 'run held');
    const [asked] = await responses(responseUrl);
    expect(asked.text).toContain('*waiting for approval*');
    const id = /Id `([0-9a-f-]{36})`/.exec(asked.text)![1];
    const posted = await slack.waitFor(
      (calls) =>
        calls.find((c) => c.method === 'chat.postMessage' && JSON.stringify(c.body).includes(id)),
      'approval message',
    );
    expect(posted.authorization).toBe(`Bearer ${slack.token}`);
    expect(posted.contentType).toMatch(/^application\/json/);
    const blocks = posted.body.blocks as Array<{
      type: string;
      elements?: Array<{ action_id: string; value: string }>;
      text?: { text: string };
    }>;
    expect(posted.body.channel).toBe('CAPPROVALS');
    expect(blocks[0].text!.text).toContain(
      `requested by *${operator.username}*: production change`,
    );
    const buttons = blocks.find((b) => b.type === 'actions')!.elements!;
    expect(buttons.map((b) => b.action_id)).toEqual(['firebreak.approve', 'firebreak.reject']);
    expect(JSON.parse(buttons[0].value)).toEqual({ execution: id });

    const click = async (slackUser: string, actionId: string) => {
      const actionUrl = slack.responseUrl();
      const payload = JSON.stringify({
        type: 'block_actions',
        user: { id: slackUser, team_id: TEAM },
        team: { id: TEAM },
        container: { type: 'message', channel_id: 'CAPPROVALS', message_ts: '1' },
        actions: [{ action_id: actionId, value: buttons[0].value, type: 'button' }],
        response_url: actionUrl,
      });
      const body = form({ payload });
      const res = await post('/slack/interactions', body, slackHeaders(SECRET, body));
      return { res, actionUrl };
    };
    // The requester may not approve their own run.
    const own = await click('UOPERATOR', 'firebreak.approve');
    expect(own.res.status).toBe(200);
    const [refusal] = await responses(own.actionUrl);
    expect(refusal.text).toMatch(/^not allowed: .*four eyes/);
    expect(
      (await t.http().get(`/executions/${id}`).set('Authorization', t.adminAuth)).body.status,
    ).toBe('awaiting_approval');
    // Another user, an sre-lead, approves; the message says who.
    await click('ULEAD', 'firebreak.approve');
    const e = await waitFinished(t, id);
    expect(e.status).toBe('succeeded');
    const updated = await slack.waitFor(
      (calls) =>
        calls.find(
          (c) =>
            c.method === 'chat.update' &&
            c.body.channel === 'CAPPROVALS' &&
            JSON.stringify(c.body).includes(`approved by *${lead.username}*`),
        ),
      'chat.update with the decision',
    );
    expect(JSON.stringify(updated.body)).toContain(`approved by *${lead.username}*`);
    expect(JSON.stringify(updated.body)).not.toContain('firebreak.approve');
    const leadAudit = await audit(lead.username);
    expect(leadAudit.map((a) => a.action)).toContain('approval.approve');

    // A decision made in the console updates the Slack message too.
    const second = await command('UOPERATOR', 'run held');
    const id2 = /Id `([0-9a-f-]{36})`/.exec((await responses(second.responseUrl))[0].text)![1];
    await slack.waitFor(
      (calls) =>
        calls.find((c) => c.method === 'chat.postMessage' && JSON.stringify(c.body).includes(id2)),
      'second approval message',
    );
    const decided = await t
      .http()
      .post(`/executions/${id2}/approvals`)
      .set('Authorization', lead.auth)
      .send({ decision: 'reject', comment: 'not now' });
    expect(decided.status, JSON.stringify(decided.body)).toBe(200);
    await slack.waitFor(
      (calls) =>
        calls.find(
          (c) =>
            c.method === 'chat.update' &&
            JSON.stringify(c.body).includes(id2) &&
            JSON.stringify(c.body).includes(`rejected by *${lead.username}*`),
        ),
      'chat.update after the console decision',
    );
  });

  it('interactions are verified and authorized like commands: 401 unsigned, 400 malformed, unlinked and non-approvers refused', async () => {
    const started = await t
      .http()
      .post('/executions')
      .set('Authorization', operator.auth)
      .send({ runbook: 'held' });
    expect(started.status).toBe(201);
    const id = started.body.id as string;
    const clickBody = (slackUser: string, actionUrl: string) =>
      form({
        payload: JSON.stringify({
          type: 'block_actions',
          user: { id: slackUser, team_id: TEAM },
          team: { id: TEAM },
          actions: [{ action_id: 'firebreak.approve', value: JSON.stringify({ execution: id }) }],
          response_url: actionUrl,
        }),
      });
    const unsigned = await t
      .http()
      .post('/slack/interactions')
      .set('Content-Type', 'application/x-www-form-urlencoded')
      .send(clickBody('ULEAD', slack.responseUrl()));
    expect(unsigned.status).toBe(401);
    const bad = form({ payload: JSON.stringify({ type: 'view_submission' }) });
    const malformed = await post('/slack/interactions', bad, slackHeaders(SECRET, bad));
    expect(malformed.status).toBe(400);
    expect(malformed.body.details).toEqual([
      { path: 'payload.type', message: 'expected block_actions' },
    ]);
    for (const [who, expected] of [
      ['USTRANGER', /is not linked to a Firebreak user/],
      ['UVIEWER', /^not allowed: .*not among the approvers/],
    ] as const) {
      const url = slack.responseUrl();
      const body = clickBody(who, url);
      expect((await post('/slack/interactions', body, slackHeaders(SECRET, body))).status).toBe(
        200,
      );
      const [reply] = await responses(url);
      expect(reply.text).toMatch(expected);
    }
    const e = await t.http().get(`/executions/${id}`).set('Authorization', t.adminAuth);
    expect(e.body.status).toBe('awaiting_approval');
    expect(e.body.approvals[0].decisions).toEqual([]);
    await t
      .http()
      .post(`/executions/${id}/approvals`)
      .set('Authorization', lead.auth)
      .send({ decision: 'reject' });
    // Its message was posted and is updated with the rejection (before the next test counts).
    await slack.waitFor(
      (calls) =>
        calls.find(
          (c) =>
            c.method === 'chat.update' &&
            JSON.stringify(c.body).includes(id) &&
            JSON.stringify(c.body).includes('rejected by'),
        ),
      'the rejected request message',
    );
  });

  it('honours Retry-After on 429 from the Web API', async () => {
    slack.rateLimitNext('chat.postMessage', 1);
    // A runbook with its own approvals channel (SLACK_RUNBOOK_APPROVAL_CHANNELS).
    const { responseUrl } = await command('UOPERATOR', 'run held-db');
    const id = /Id `([0-9a-f-]{36})`/.exec((await responses(responseUrl))[0].text)![1];
    const tries = await slack.waitFor((calls) => {
      const mine = calls.filter(
        (c) =>
          c.method === 'chat.postMessage' &&
          (c.status === 429 || JSON.stringify(c.body).includes(id)),
      );
      return mine.some((c) => c.status === 200) ? mine : undefined;
    }, 'the retried chat.postMessage');
    expect(tries.map((c) => c.status)).toEqual([429, 200]);
    expect(tries[1].body.channel).toBe('CDBA');
    expect(tries[1].at - tries[0].at).toBeGreaterThanOrEqual(1000);
  });

  it('a run from Slack in scope of a change freeze is refused with the freeze and its end', async () => {
    const admin = t.http().post('/freezes').set('Authorization', t.adminAuth);
    const made = await admin.send({
      name: 'slack-freeze',
      start: '2020-01-01T00:00:00Z',
      end: '2099-01-01T00:00:00Z',
      includeDiagnostics: true,
      scope: { runbooks: ['echo-msg'] },
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    try {
      const { responseUrl } = await command('UOPERATOR', 'run echo-msg msg=frozen');
      const [no] = await responses(responseUrl);
      expect(no.text).toMatch(
        /echo-msg is frozen until 2099-01-01T00:00:00.000Z by freeze slack-freeze/,
      );
      const runs = (
        await t
          .http()
          .get('/executions?runbook=echo-msg&limit=50')
          .set('Authorization', t.adminAuth)
      ).body as Array<{ options: Record<string, unknown> }>;
      expect(runs.filter((r) => r.options.msg === 'frozen')).toEqual([]);
    } finally {
      await t.http().delete('/freezes/slack-freeze').set('Authorization', t.adminAuth);
    }
  });
  // Last in the file: it restarts the app on the same database.
  it("a run's finish is posted after the api restarted while the run waited (once)", async () => {
    const { responseUrl } = await command('UOPERATOR', 'run held');
    const [asked] = await responses(responseUrl);
    const id = /Id `([0-9a-f-]{36})`/.exec(asked.text)![1];
    const first = t;
    await first.app.close();
    rmSync(first.config.dataDir, { recursive: true, force: true });
    t = await startTestApp({ ...env(), SECRET_KEY: first.config.secretKey }, first.db);
    const decided = await t
      .http()
      .post(`/executions/${id}/approvals`)
      .set('Authorization', lead.auth)
      .send({ decision: 'approve', comment: 'after the restart' });
    expect(decided.status, JSON.stringify(decided.body)).toBe(200);
    const [, finished] = await responses(responseUrl, 2);
    expect(finished.text).toContain('*succeeded*');
    expect(finished.text).toContain('approved-ran');
    // Posted once: the follow is gone, and nothing more arrives on that response_url.
    await new Promise((r) => setTimeout(r, 300));
    expect(
      slack.calls.filter((c) => c.method === 'response_url' && responseUrl.endsWith(c.path)),
    ).toHaveLength(2);
    const [{ n }] = await t.app
      .get(DataSource)
      .query<Array<{ n: number }>>(
        'SELECT count(*)::int AS n FROM slack_follows WHERE execution_id = $1',
        [id],
      );
    expect(n).toBe(0);
  });
});
