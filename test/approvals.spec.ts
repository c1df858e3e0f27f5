import { ExecutionRepository } from '../src/executions/execution.repository.js';
import type { TestApp } from './support/app.js';
import { executionCalls, restartOnSameDatabase, useRunbookApp } from './support/runbook-app.js';
import { FINAL_STATUSES } from '../src/executions/execution-state.js';

/**
 * Approvals (#13 item 1) through the real app on a real Postgres; steps run on the Firebreak
 * host (`on: local`), so no sshd is needed. Each run-level hold waits with no worker and no
 * connection: nothing is logged or recorded for it until the decision.
 */
const RUNBOOKS: Record<string, string> = {
  'held-change': `name: held-change
description: Needs two approvals from sre-lead before anything runs
kind: remediation
access: { run: [operator] }
options:
  - { name: token, type: secure, required: true }
approval:
  approvers: [sre-lead]
  required: 2
  reason: production change
steps:
  - name: use-secret
    on: local
    run: test {{ options.token }} = s3cr3t-held && echo secret-survived
`,
  'held-reject': `name: held-reject
description: One approval from sre-lead
kind: remediation
approval: { approvers: [sre-lead] }
steps:
  - name: never
    on: local
    run: echo must-not-run
`,
  'held-timeout': `name: held-timeout
description: Times out quickly and reminds meanwhile
kind: remediation
approval: { approvers: [sre-lead], timeout: 2500ms, remindEvery: 700ms }
steps:
  - name: never
    on: local
    run: echo must-not-run
`,
  'held-timeout-fail': `name: held-timeout-fail
description: Times out quickly and fails
kind: remediation
approval: { approvers: [sre-lead], timeout: 500ms, onTimeout: fail }
steps:
  - name: never
    on: local
    run: echo must-not-run
`,
  judged: `name: judged
description: Pauses for a judgment with choices that later steps read
kind: remediation
options:
  - { name: token, type: secure, required: true }
steps:
  - name: before
    on: local
    run: echo before-gate
    capture:
      v: { regex: '^(\\S+)' }
  - name: gate
    approval:
      message: 'Roll back {{ steps.before.captures.v }}?'
      approvers: [sre-lead]
      choices: [continue, rollback]
  - name: rollback
    on: local
    when: steps.gate.choice == "rollback"
    run: test {{ options.token }} = s3cr3t-step && echo rolled-back {{ steps.before.captures.v }}
  - name: proceed
    on: local
    when: steps.gate.choice == "continue"
    run: echo continued {{ steps.before.captures.v }}
onError:
  - name: cleanup
    on: local
    run: echo cleanup-ran
`,
};

const FINAL = FINAL_STATUSES;

describe('approvals (real app, Postgres)', () => {
  const app = useRunbookApp('approvals', RUNBOOKS);
  let t: TestApp;
  let requester: { id: string; username: string; auth: string };
  let lead1: { id: string; username: string; auth: string };
  let lead2: { id: string; username: string; auth: string };
  let outsider: { id: string; username: string; auth: string };

  beforeAll(async () => {
    t = app.t;
    // The requester is an admin and an sre-lead too: four eyes holds whatever their roles.
    requester = await t.userWithRoles(['admin'], ['sre-lead']);
    lead1 = await t.userWithRoles(['operator'], ['sre-lead']);
    lead2 = await t.userWithRoles(['viewer'], ['sre-lead']);
    outsider = await t.userWithRoles(['operator']);
  });

  const { get, post, decide, waitStatus, resultsOf, logLines } = executionCalls(app);
  const audited = async (subjectId: string) =>
    (
      (await get(`/audit?subjectId=${subjectId}&limit=100`)).body.items as Array<{
        action: string;
        outcome: string;
        actorName: string;
        details: Record<string, unknown>;
      }>
    ).reverse();

  it('holds the run before anything executes; four eyes, approvers only, once each, N approvals', async () => {
    const started = await post(
      '/executions',
      { runbook: 'held-change', options: { token: 's3cr3t-held' } },
      requester.auth,
    );
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    expect(started.body.status).toBe('awaiting_approval');
    const id = started.body.id as string;

    // The request: who asked, why, who decides, the exact plan with the secret masked.
    const held = await get(`/executions/${id}`);
    expect(held.body.status).toBe('awaiting_approval');
    expect(held.body.results).toEqual([]);
    const [request] = held.body.approvals;
    expect(request).toMatchObject({
      state: 'pending',
      step: null,
      requestedBy: requester.username,
      reason: 'production change',
      approvers: ['sre-lead'],
      required: 2,
      decisions: [],
    });
    expect(request.plan.steps[0].actions[0].command).toBe(
      'test **** = s3cr3t-held && echo secret-survived',
    );
    expect(JSON.stringify(held.body)).not.toContain("test 's3cr3t-held'");

    // Four eyes: the requester (admin and sre-lead) may not decide, nor list it as theirs.
    const own = await decide(id, requester.auth, { decision: 'approve' });
    expect(own.status).toBe(403);
    expect(own.body.message).toMatch(/four eyes/);
    expect((await get('/approvals?state=pending', requester.auth)).body).toEqual([]);
    // Someone not listed may not decide either, and does not see it as theirs to decide.
    const notListed = await decide(id, outsider.auth, { decision: 'approve' });
    expect(notListed.status).toBe(403);
    expect(notListed.body.message).toMatch(/not among the approvers.*sre-lead/);
    expect((await get('/approvals', outsider.auth)).body).toEqual([]);
    // Bad input names the field.
    const bad = await decide(id, lead1.auth, { decision: 'maybe' });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/decision/);

    // An approver sees it and approves: one of two.
    const pending = await get('/approvals?state=pending', lead1.auth);
    expect(pending.status).toBe(200);
    expect(pending.body.map((a: { executionId: string }) => a.executionId)).toEqual([id]);
    const first = await decide(id, lead1.auth, { decision: 'approve', comment: 'looks right' });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toMatchObject({ state: 'pending', decisions: [{ actor: lead1.username }] });
    const twice = await decide(id, lead1.auth, { decision: 'approve' });
    expect(twice.status).toBe(409);
    expect(twice.body.message).toMatch(/already decided/);
    expect((await get(`/executions/${id}`)).body.status).toBe('awaiting_approval');
    expect(await logLines(id)).toEqual([]);
    expect((await get('/approvals', lead1.auth)).body).toEqual([]); // decided: not theirs any more

    // The second approval releases it to the queue; it runs with its sealed secret intact.
    const second = await decide(id, lead2.auth, { decision: 'approve' });
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    expect(second.body.state).toBe('approved');
    const done = await waitStatus(id, FINAL);
    expect(done.status, done.error).toBe('succeeded');
    expect(await logLines(id)).toContain('secret-survived');

    // Not waiting any more: refused.
    const late = await decide(id, outsider.auth, { decision: 'approve' });
    expect(late.status).toBe(409);
    expect(late.body.message).toMatch(/execution is succeeded, not waiting for approval/);

    const trail = await audited(id);
    expect(trail.map((a) => [a.action, a.outcome])).toEqual([
      ['execution.start', 'success'],
      ['approval.request', 'success'],
      ['approval.approve', 'denied'],
      ['approval.approve', 'denied'],
      ['approval.approve', 'success'],
      ['approval.approve', 'denied'],
      ['approval.approve', 'success'],
      ['execution.finish', 'success'],
      ['approval.approve', 'denied'],
    ]);
    expect(trail[2].details.reason).toMatch(/four eyes/);
    expect(trail[5].details.reason).toMatch(/already decided/);
    expect(JSON.stringify(trail)).not.toContain('s3cr3t-held');
  });

  it('a rejection is final and nothing runs; on the incident timeline; a waiting run can be canceled', async () => {
    const inc = await post(
      '/incidents',
      { title: 'Checkout 502s', severity: 'SEV2' },
      requester.auth,
    );
    expect(inc.status).toBe(201);
    const started = await post(
      `/incidents/${inc.body.ref}/executions`,
      { runbook: 'held-reject' },
      requester.auth,
    );
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const id = started.body.id as string;
    expect(started.body.status).toBe('awaiting_approval');
    const rejected = await decide(id, lead1.auth, { decision: 'reject', comment: 'not now' });
    expect(rejected.status, JSON.stringify(rejected.body)).toBe(200);
    expect(rejected.body.state).toBe('rejected');
    const done = await get(`/executions/${id}`);
    expect(done.body.status).toBe('rejected');
    expect(done.body.error).toBe(`rejected by ${lead1.username}: not now`);
    expect(done.body.startedAt).toBeNull();
    expect(done.body.results).toEqual([]);
    expect(await logLines(id)).toEqual([]);
    const again = await decide(id, lead2.auth, { decision: 'approve' });
    expect(again.status).toBe(409);

    // The timeline shows the request, the decision and the end (written by the api process).
    const deadline = Date.now() + 30_000;
    let kinds: string[] = [];
    while (Date.now() < deadline) {
      const items = (await get(`/incidents/${inc.body.ref}/timeline?limit=100`)).body
        .items as Array<{
        kind: string;
        summary: string;
      }>;
      kinds = items.map((e) => e.kind);
      if (kinds.includes('approval.rejected') && kinds.includes('execution.finished')) {
        expect(items.find((e) => e.kind === 'approval.rejected')!.summary).toMatch(/not now/);
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(kinds).toEqual(
      expect.arrayContaining([
        'execution.started',
        'approval.requested',
        'approval.rejected',
        'execution.finished',
      ]),
    );

    // Cancel while waiting: canceled, nothing ran, and no decision is taken afterwards.
    const other = await post('/executions', { runbook: 'held-reject' }, requester.auth);
    const cancel = await post(`/executions/${other.body.id}/cancel`, {}, requester.auth);
    expect(cancel.status, JSON.stringify(cancel.body)).toBe(201);
    expect(cancel.body.status).toBe('canceled');
    expect(cancel.body.error).toBe('canceled while waiting for approval');
    expect(
      (await decide(other.body.id as string, lead1.auth, { decision: 'approve' })).status,
    ).toBe(409);
    expect((await get('/approvals', lead1.auth)).body).toEqual([]);
  });

  it('times out with its explicit outcome, reminds meanwhile, and refuses a late decision', async () => {
    const a = await post('/executions', { runbook: 'held-timeout' }, requester.auth);
    const b = await post('/executions', { runbook: 'held-timeout-fail' }, requester.auth);
    expect([a.status, b.status]).toEqual([201, 201]);
    const expired = await waitStatus(a.body.id as string, FINAL);
    expect(expired.status).toBe('expired');
    expect(expired.error).toMatch(/no decision before the approval timeout/);
    expect(expired.approvals[0].state).toBe('expired');
    expect(expired.approvals[0].reminders).toBeGreaterThanOrEqual(1);
    const failed = await waitStatus(b.body.id as string, FINAL);
    expect(failed.status).toBe('failed');
    expect(await logLines(a.body.id as string)).toEqual([]);

    const late = await decide(a.body.id as string, lead1.auth, { decision: 'approve' });
    expect(late.status).toBe(409);
    expect(late.body.message).toMatch(/the approval timed out at/);
    const trail = (await audited(a.body.id as string)).map((x) => x.action);
    expect(trail).toContain('approval.remind');
    expect(trail).toContain('approval.expire');
    expect(trail.at(-1)).toBe('approval.approve');
  });

  it('an approval step pauses the run (no worker, no reaping); its choice is read by when:', async () => {
    const started = await post(
      '/executions',
      { runbook: 'judged', options: { token: 's3cr3t-step' } },
      requester.auth,
    );
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    expect(started.body.status).toBe('queued');
    const id = started.body.id as string;
    const waiting = await waitStatus(id, ['awaiting_approval', ...FINAL]);
    expect(waiting.status).toBe('awaiting_approval');
    expect(waiting.approvals).toMatchObject([
      {
        step: 'gate',
        state: 'pending',
        reason: 'Roll back before-gate?',
        choices: ['continue', 'rollback'],
        approvers: ['sre-lead'],
      },
    ]);
    expect(await resultsOf(id)).toEqual(['before:succeeded']);
    expect(await logLines(id)).toContain('waiting for approval (sre-lead): Roll back before-gate?');
    // No worker holds it: the reaper, even with every heartbeat counted as silent, leaves it.
    await t.app.get(ExecutionRepository).interruptStale(new Date(Date.now() + 3_600_000));
    expect((await get(`/executions/${id}`)).body.status).toBe('awaiting_approval');

    expect(
      (await decide(id, requester.auth, { decision: 'approve', choice: 'rollback' })).status,
    ).toBe(403);
    const noChoice = await decide(id, lead1.auth, { decision: 'approve' });
    expect(noChoice.status).toBe(400);
    expect(noChoice.body.message).toMatch(/choice: required: one of continue, rollback/);
    const wrong = await decide(id, lead1.auth, { decision: 'approve', choice: 'maybe' });
    expect(wrong.status).toBe(400);
    expect(wrong.body.message).toMatch(/choice: must be one of continue, rollback/);
    const ok = await decide(id, lead1.auth, { decision: 'approve', choice: 'rollback' });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body).toMatchObject({ state: 'approved', choice: 'rollback' });

    const done = await waitStatus(id, FINAL);
    expect(done.status, done.error).toBe('succeeded');
    expect(await resultsOf(id)).toEqual([
      'before:succeeded',
      'gate:succeeded',
      'rollback:succeeded',
      'proceed:skipped',
    ]);
    const lines = await logLines(id);
    // Captures and the sealed secret survived the pause.
    expect(lines).toContain('rolled-back before-gate');
    expect(lines).not.toContain('continued before-gate');
    expect(lines.filter((l) => l.startsWith('started judged'))).toHaveLength(1);
    expect(lines.some((l) => l.startsWith('resumed judged v1 at step gate'))).toBe(true);
  });

  it('a run waiting at a step survives a restart: a new app on the same database resumes it', async () => {
    const a = await post(
      '/executions',
      { runbook: 'judged', options: { token: 'token-for-a' } },
      requester.auth,
    );
    const b = await post(
      '/executions',
      { runbook: 'judged', options: { token: 'token-for-b' } },
      requester.auth,
    );
    for (const r of [a, b])
      expect((await waitStatus(r.body.id as string, ['awaiting_approval', ...FINAL])).status).toBe(
        'awaiting_approval',
      );
    // The first app goes away (its database stays); a second one, same key, takes over.
    t = await restartOnSameDatabase(app);

    const go = await decide(a.body.id as string, lead2.auth, {
      decision: 'approve',
      choice: 'continue',
    });
    expect(go.status, JSON.stringify(go.body)).toBe(200);
    const no = await decide(b.body.id as string, lead1.auth, { decision: 'reject', comment: 'no' });
    expect(no.status, JSON.stringify(no.body)).toBe(200);

    const resumed = await waitStatus(a.body.id as string, FINAL);
    expect(resumed.status, resumed.error).toBe('succeeded');
    expect(await resultsOf(a.body.id as string)).toEqual([
      'before:succeeded',
      'gate:succeeded',
      'rollback:skipped',
      'proceed:succeeded',
    ]);
    expect(await logLines(a.body.id as string)).toContain('continued before-gate');

    // Rejected at the step: the step fails, onError runs, the run failed.
    const rejected = await waitStatus(b.body.id as string, FINAL);
    expect(rejected.status).toBe('failed');
    expect(await resultsOf(b.body.id as string)).toEqual([
      'before:succeeded',
      'gate:failed',
      'cleanup:succeeded',
    ]);
    const lines = await logLines(b.body.id as string);
    expect(lines).toContain(`failed: rejected by ${lead1.username} (no)`);
    expect(lines).toContain('cleanup-ran');
  });
});
