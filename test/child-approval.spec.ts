import { executionCalls, restartOnSameDatabase, useRunbookApp } from './support/runbook-app.js';
import { FINAL_STATUSES } from '../src/executions/execution-state.js';

/**
 * A `runbook` step whose child needs approval (#13): the parent checkpoints at the step and
 * waits (`awaiting_child`, no worker); the child is held through the one start path as the
 * parent's user, so four eyes applies to it; once decided it runs like any run, and its end
 * releases the parent, whose step reads the child's outcome. Steps run on the Firebreak host.
 */
const RUNBOOKS: Record<string, string> = {
  'held-child': `name: held-child
description: Needs an sre-lead before it runs
kind: remediation
approval: { approvers: [sre-lead], reason: child change }
steps:
  - name: work
    on: local
    run: echo held-child-ran
`,
  'parent-of-held': `name: parent-of-held
description: Calls a child that needs approval
kind: remediation
steps:
  - name: before
    on: local
    run: echo parent-before
  - name: call
    runbook: { name: held-child }
  - name: after
    on: local
    run: echo parent-after
onError:
  - name: cleanup
    on: local
    run: echo cleanup-ran
`,
  'step-child': `name: step-child
description: Pauses at an approval step
kind: remediation
steps:
  - name: gate
    approval: { message: go on?, approvers: [sre-lead] }
  - name: work
    on: local
    run: echo step-child-ran
`,
  'parent-of-step': `name: parent-of-step
description: Calls a child that pauses at an approval step
kind: remediation
steps:
  - name: call
    runbook: { name: step-child }
  - name: after
    on: local
    run: echo parent-after
`,
  'timed-across-pause': `name: timed-across-pause
description: Runs 2.5 s, waits for approval, runs 2.5 s more, within a 4 s timeout
kind: remediation
timeout: 4s
steps:
  - name: first
    sleep: 2500ms
  - name: gate
    approval: { message: go on?, approvers: [sre-lead] }
  - name: second
    sleep: 2500ms
`,
};

const FINAL = FINAL_STATUSES;

describe('runbook steps whose child waits for approval (real app, Postgres)', () => {
  const app = useRunbookApp('child-approval', RUNBOOKS);
  let requester: { id: string; username: string; auth: string };
  let lead: { id: string; username: string; auth: string };

  beforeAll(async () => {
    // An sre-lead too: four eyes keeps them from approving the child they started.
    requester = await app.t.userWithRoles(['operator'], ['sre-lead']);
    lead = await app.t.userWithRoles(['operator'], ['sre-lead']);
  });

  const { post, decide, waitStatus, resultsOf, logLines } = executionCalls(app);
  const start = async (runbook: string) => {
    const res = await post('/executions', { runbook }, requester.auth);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id as string;
  };
  /** The parent waiting for its child, and that child (held), once both say so. */
  const waiting = async (parentId: string) => {
    const parent = await waitStatus(parentId, ['awaiting_child', ...FINAL]);
    expect(parent.status, parent.error).toBe('awaiting_child');
    expect(parent.children).toHaveLength(1);
    const childId = parent.children[0].id as string;
    const child = await waitStatus(childId, ['awaiting_approval', ...FINAL]);
    expect(child.status).toBe('awaiting_approval');
    return { parent, childId, child };
  };

  it('the parent waits while its child is held; four eyes applies to the child; approved, the child runs and the parent resumes', async () => {
    const id = await start('parent-of-held');
    const { childId, child } = await waiting(id);
    // Held through the start path as the parent's user, nothing run yet.
    expect(child).toMatchObject({ actor: requester.username, parentExecutionId: id });
    expect(child.results).toEqual([]);
    expect(child.approvals[0]).toMatchObject({ state: 'pending', requestedBy: requester.username });
    // Its step is still running; the rest waits for the child.
    expect(await resultsOf(id)).toEqual(['before:succeeded', 'call:running']);
    // The one who started the parent may not approve its child.
    const own = await decide(childId, requester.auth, { decision: 'approve' });
    expect(own.status).toBe(403);
    expect(own.body.message).toMatch(/four eyes/);
    // The parent itself is not waiting for a decision.
    expect((await decide(id, lead.auth, { decision: 'approve' })).status).toBe(409);

    const ok = await decide(childId, lead.auth, { decision: 'approve', comment: 'fine' });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect((await waitStatus(childId, FINAL)).status).toBe('succeeded');
    expect(await logLines(childId)).toContain('held-child-ran');
    const done = await waitStatus(id, FINAL);
    expect(done.status, done.error).toBe('succeeded');
    // The step's one result row, finished with the child's outcome; the rest ran after it.
    expect(await resultsOf(id)).toEqual(['before:succeeded', 'call:succeeded', 'after:succeeded']);
    const lines = await logLines(id);
    expect(lines.filter((l) => l === 'parent-before')).toHaveLength(1);
    expect(lines).toContain('parent-after');
    expect(lines).toContain(
      `resumed parent-of-held v1 at step call after child execution ${childId} ended`,
    );
  });

  it("a rejected child fails the parent's step, naming it; onError runs", async () => {
    const id = await start('parent-of-held');
    const { childId } = await waiting(id);
    const no = await decide(childId, lead.auth, { decision: 'reject', comment: 'not now' });
    expect(no.status, JSON.stringify(no.body)).toBe(200);
    const done = await waitStatus(id, FINAL);
    expect(done.status).toBe('failed');
    expect(await resultsOf(id)).toEqual(['before:succeeded', 'call:failed', 'cleanup:succeeded']);
    expect(done.results.find((r: { step: string }) => r.step === 'call').error).toBe(
      `child execution ${childId} (held-child) rejected: rejected by ${lead.username}: not now`,
    );
    const lines = await logLines(id);
    expect(lines).toContain('cleanup-ran');
    expect(lines).not.toContain('parent-after');
  });

  it('canceling the waiting parent cancels its held child', async () => {
    const id = await start('parent-of-held');
    const { childId } = await waiting(id);
    const cancel = await app.t
      .http()
      .post(`/executions/${id}/cancel`)
      .set('Authorization', requester.auth);
    expect(cancel.status, JSON.stringify(cancel.body)).toBe(201);
    expect((await waitStatus(id, FINAL)).status).toBe('canceled');
    expect((await waitStatus(childId, FINAL)).status).toBe('canceled');
  });

  it('the runbook timeout counts running time across a pause, not from each resume', async () => {
    const id = await start('timed-across-pause');
    expect((await waitStatus(id, ['awaiting_approval', ...FINAL])).status).toBe(
      'awaiting_approval',
    );
    expect((await decide(id, lead.auth, { decision: 'approve' })).status).toBe(200);
    // 2.5 s before the pause and 2.5 s after it: past the 4 s, however fast the machine.
    const done = await waitStatus(id, FINAL);
    expect(done.status).toBe('timed_out');
    expect(done.error).toBe('runbook timeout of 4s reached');
  });

  it('a child paused at an approval step: the parent waits, and a new app on the same database finishes both', async () => {
    const id = await start('parent-of-step');
    const { childId, child } = await waiting(id);
    expect(child.approvals[0]).toMatchObject({ state: 'pending', step: 'gate' });

    await restartOnSameDatabase(app);

    const ok = await decide(childId, lead.auth, { decision: 'approve' });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect((await waitStatus(childId, FINAL)).status).toBe('succeeded');
    expect(await logLines(childId)).toContain('step-child-ran');
    const done = await waitStatus(id, FINAL);
    expect(done.status, done.error).toBe('succeeded');
    expect(await resultsOf(id)).toEqual(['call:succeeded', 'after:succeeded']);
  });
});
