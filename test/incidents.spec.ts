import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinary } from './support/binaries.js';
import { readSse, registerFleet, waitFinished } from './support/fleet.js';
import { startSshd, type SshServer } from './support/sshd.js';
import { startTestApp, type TestApp } from './support/app.js';

const SHIPPED = join(import.meta.dirname, '..', 'runbooks');

interface Entry {
  id: string;
  seq: number;
  at: string;
  kind: string;
  actor: string;
  summary: string;
  details: Record<string, unknown>;
  link: string | null;
}

/** Reads a timeline stream until `done` says so (with the entries so far), then leaves. */
async function readSseUntil(
  url: string,
  auth: string,
  done: (events: Entry[]) => boolean,
  opts: { lastEventId?: string } = {},
): Promise<Array<{ id?: string; data: Entry }>> {
  const events = await readSse(url, auth, {
    ...opts,
    until: (es) => done(es.map((e) => e.data as Entry)),
  });
  return events.map(({ id, data }) => ({ id, data: data as Entry }));
}

describe('incidents (real app, Postgres, OpenSSH sshd)', () => {
  let t: TestApp;
  let sshd: SshServer;
  let dir: string;
  let alice: { id: string; username: string; auth: string };
  let bob: { id: string; username: string; auth: string };
  let carol: { id: string; username: string; auth: string };
  let dave: { id: string; username: string; auth: string };
  let viewer: { id: string; username: string; auth: string };

  beforeAll(async () => {
    await ensureBinary('free', 'procps');
    sshd = await startSshd();
    dir = mkdtempSync(join(tmpdir(), 'firebreak-incident-runbooks-'));
    cpSync(join(SHIPPED, 'diagnose-host.yaml'), join(dir, 'diagnose-host.yaml'));
    t = await startTestApp({ RUNBOOKS_DIR: dir });
    await registerFleet(t, sshd, ['db-1']);
    alice = await t.userWithRoles(['responder']);
    bob = await t.userWithRoles(['operator']);
    carol = await t.userWithRoles(['responder']);
    dave = await t.userWithRoles(['responder']);
    viewer = await t.userWithRoles(['viewer']);
  });
  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const post = (path: string, body: object, auth: string) =>
    t.http().post(path).set('Authorization', auth).send(body);
  const get = (path: string, auth = t.adminAuth) => t.http().get(path).set('Authorization', auth);
  const timelineOf = async (ref: string) => {
    const res = await get(`/incidents/${ref}/timeline?limit=1000`);
    expect(res.status).toBe(200);
    return res.body.items as Entry[];
  };
  /** Every incident (fewer than the route's 500 at most, in these tests). */
  const incidents = async () => {
    const res = await get('/incidents?limit=500');
    expect(res.status).toBe(200);
    return res.body as Array<{ title: string }>;
  };
  const declare = async (auth: string, body: object = {}) => {
    const res = await post(
      '/incidents',
      { title: 'Database latency', severity: 'SEV2', ...body },
      auth,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: string; ref: string; status: string; severity: string };
  };

  it('declare → roles → diagnose-host → note → resolved: timeline in order and postmortem', async () => {
    const inc = await declare(alice.auth, { summary: 'p99 over 2s', services: ['postgres'] });
    expect(inc.ref).toMatch(/^INC-\d+$/);
    expect(inc.status).toBe('triggered');
    const ref = inc.ref;

    const assign = (role: string, username: string, auth: string) =>
      post(`/incidents/${ref}/roles`, { role, username }, auth);
    expect((await assign('operations_lead', bob.username, alice.auth)).status).toBe(200);
    expect((await assign('scribe', carol.username, alice.auth)).status).toBe(200);
    const handoff = await assign('commander', bob.username, alice.auth);
    expect(handoff.status).toBe(200);
    expect(
      (handoff.body.roles as Array<{ role: string; username: string }>).find(
        (r) => r.role === 'commander',
      )?.username,
    ).toBe(bob.username);

    // alice is no longer commander: severity changes are bob's now (denied and audited).
    const denied = await post(`/incidents/${ref}/severity`, { severity: 'SEV1' }, alice.auth);
    expect(denied.status).toBe(403);
    expect(denied.body.message).toMatch(/commander/);
    const audit = await get('/audit?action=access.denied&limit=10');
    expect(
      (audit.body.items as Array<{ actor: string; subjectType: string }>).some(
        (e: { actor: string; subjectType: string }) =>
          e.actor === alice.username && e.subjectType === 'Incident',
      ),
    ).toBe(true);
    expect((await get(`/incidents/${ref}`)).body.severity).toBe('SEV2');

    const run = await post(
      `/incidents/${ref}/executions`,
      { runbook: 'diagnose-host', options: { top_processes: 5 } },
      bob.auth,
    );
    expect(run.status, JSON.stringify(run.body)).toBe(201);
    expect(run.body.incidentId).toBe(ref);
    const finished = await waitFinished(t, run.body.id as string);
    expect(finished.status).toBe('succeeded');
    await vi.waitFor(
      async () => {
        const kinds = (await timelineOf(ref)).map((e) => e.kind);
        expect(kinds).toContain('execution.finished');
      },
      { timeout: 10_000, interval: 100 },
    );

    expect(
      (await post(`/incidents/${ref}/notes`, { text: 'disk full on db-1' }, carol.auth)).status,
    ).toBe(201);
    for (const status of ['investigating', 'identified', 'monitoring', 'resolved']) {
      const res = await post(`/incidents/${ref}/status`, { status }, bob.auth);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.status).toBe(status);
    }

    const entries = await timelineOf(ref);
    expect(entries.map((e) => [e.kind, e.actor])).toEqual([
      ['incident.declared', alice.username],
      ['role.assigned', alice.username],
      ['role.assigned', alice.username],
      ['role.assigned', alice.username],
      ['role.handoff', alice.username],
      ['execution.started', bob.username],
      ['execution.finished', bob.username],
      ['note', carol.username],
      ['status.changed', bob.username],
      ['status.changed', bob.username],
      ['status.changed', bob.username],
      ['status.changed', bob.username],
    ]);
    expect(entries[1].summary).toBe(`commander: ${alice.username}`);
    expect(entries[4].summary).toBe(`commander: ${alice.username} → ${bob.username}`);
    expect(entries[6].details.status).toBe('succeeded');
    expect(entries[6].details.logs).toBe(`/executions/${run.body.id}/logs`);
    expect(entries[5].link).toBe(`/executions/${run.body.id}`);
    expect(entries.slice(8).map((e) => e.details.to)).toEqual([
      'investigating',
      'identified',
      'monitoring',
      'resolved',
    ]);
    expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => i + 1));

    // Paging.
    const page = await get(`/incidents/${ref}/timeline?limit=5`);
    expect(page.body.items).toHaveLength(5);
    const rest = await get(`/incidents/${ref}/timeline?after=${page.body.nextAfter}&limit=100`);
    expect(rest.body.items).toHaveLength(entries.length - 5);

    const detail = (await get(`/incidents/${ref}`)).body;
    expect(detail.acknowledgedAt).not.toBeNull();
    expect(detail.mitigatedAt).not.toBeNull();
    expect(detail.resolvedAt).not.toBeNull();

    const pm = await get(`/incidents/${ref}/postmortem`);
    expect(pm.status).toBe(200);
    expect(pm.headers['content-type']).toMatch(/text\/markdown/);
    const md = pm.text;
    expect(md).toContain(`# Postmortem: ${ref} — Database latency`);
    expect(md).toContain(`**Incident commander:** ${bob.username}`);
    expect(md).toContain(`**Operations lead:** ${bob.username}`);
    expect(md).toContain(`**Scribe:** ${carol.username}`);
    expect(md).toMatch(/\| Time to acknowledge \(TTA\) \| \d+s \|/);
    expect(md).toMatch(/\| Time to mitigate \(TTM\) \| \d+s \|/);
    expect(md).toMatch(/\| Time to resolve \(TTR\) \| \d+s \|/);
    expect(md).toContain('disk full on db-1');
    expect(md).toContain(
      `| diagnose-host | ${bob.username} | succeeded | [logs](/executions/${run.body.id}/logs) |`,
    );

    // Resolved: no runbooks until reopened; reopen is recorded.
    const late = await post(`/incidents/${ref}/executions`, { runbook: 'diagnose-host' }, bob.auth);
    expect(late.status).toBe(409);
    const reopened = await post(`/incidents/${ref}/status`, { status: 'investigating' }, bob.auth);
    expect(reopened.status).toBe(200);
    expect((await timelineOf(ref)).at(-1)!.kind).toBe('incident.reopened');
  });

  it('refuses bad input with a 4xx naming the problem and leaves the incident as it was', async () => {
    const inc = await declare(alice.auth);
    const ref = inc.ref;
    const before = (await get(`/incidents/${ref}`)).body;
    const countBefore = (await timelineOf(ref)).length;

    const resolve = await post(`/incidents/${ref}/status`, { status: 'resolved' }, alice.auth);
    expect(resolve.status).toBe(200); // resolving directly is allowed
    const back = await post(`/incidents/${ref}/status`, { status: 'identified' }, alice.auth);
    expect(back.status).toBe(409);
    expect(back.body.message).toMatch(/resolved.*identified.*reopen/);
    const same = await post(`/incidents/${ref}/status`, { status: 'resolved' }, alice.auth);
    expect(same.status).toBe(409);
    expect(same.body.message).toMatch(/already resolved/);

    const inc2 = await declare(alice.auth);
    const r2 = inc2.ref;
    const unknown = await post(
      `/incidents/${r2}/roles`,
      { role: 'janitor', username: bob.username },
      alice.auth,
    );
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toMatch(/role: unknown role/);
    const noUser = await post(
      `/incidents/${r2}/roles`,
      { role: 'scribe', username: 'nobody-here' },
      alice.auth,
    );
    expect(noUser.status).toBe(400);
    expect(noUser.body.message).toMatch(/no user named "nobody-here"/);

    const disabled = await t.userWithRoles(['responder']);
    await t
      .http()
      .patch(`/users/${disabled.id}`)
      .set('Authorization', t.adminAuth)
      .send({ disabled: true });
    const dis = await post(
      `/incidents/${r2}/roles`,
      { role: 'scribe', username: disabled.username },
      alice.auth,
    );
    expect(dis.status).toBe(400);
    expect(dis.body.message).toMatch(new RegExp(`${disabled.username} is disabled`));

    const big = await post(`/incidents/${r2}/notes`, { text: 'x'.repeat(10_001) }, alice.auth);
    expect(big.status).toBe(400);
    expect(big.body.message).toMatch(/text: a note must be 1 to 10000 characters/);
    expect(
      (await post(`/incidents/${r2}/notes`, { text: 'x'.repeat(10_000) }, alice.auth)).status,
    ).toBe(201);

    const badSev = await post(`/incidents/${r2}/severity`, { severity: 'SEV0' }, alice.auth);
    expect(badSev.status).toBe(400);
    expect(badSev.body.message).toMatch(/severity: must be one of SEV1/);

    // Text Postgres cannot store (NUL, an unpaired surrogate) is refused by its field before
    // anything is written; a NUL in a title was a 500 from the database.
    for (const title of ['db\u0000down', 'db \ud800 down']) {
      const res = await post('/incidents', { title, severity: 'SEV3' }, alice.auth);
      expect(res.status).toBe(400);
      expect(res.body.details).toEqual([
        { path: 'title', message: 'must not contain NUL characters or unpaired surrogates' },
      ]);
    }
    const nulNote = await post(`/incidents/${r2}/notes`, { text: 'a\u0000b' }, alice.auth);
    expect(nulNote.status).toBe(400);
    expect(nulNote.body.details[0].path).toBe('text');
    expect((await incidents()).filter((i) => i.title.startsWith('db'))).toEqual([]);

    const after2 = (await get(`/incidents/${r2}`)).body;
    expect(after2.roles).toHaveLength(1);
    expect(after2.severity).toBe('SEV2');
    expect(after2.status).toBe('triggered');
    // The first incident: only the one successful move happened.
    expect((await timelineOf(ref)).length).toBe(countBefore + 1);
    expect(before.status).toBe('triggered');

    expect((await get('/incidents/INC-999999')).status).toBe(404);
  });

  it('RBAC: viewers read but do not declare; responders may not command others’ incidents', async () => {
    const inc = await declare(alice.auth, { commander: dave.username });
    expect((await get(`/incidents/${inc.ref}`, viewer.auth)).status).toBe(200);
    expect((await get(`/incidents/${inc.ref}/timeline`, viewer.auth)).status).toBe(200);
    const v = await post('/incidents', { title: 'x', severity: 'SEV4' }, viewer.auth);
    expect(v.status).toBe(403);
    expect((await post(`/incidents/${inc.ref}/notes`, { text: 'hi' }, viewer.auth)).status).toBe(
      403,
    );

    // Alice declared but named dave commander: she may note, not change status.
    expect((await post(`/incidents/${inc.ref}/notes`, { text: 'hi' }, alice.auth)).status).toBe(
      201,
    );
    const s = await post(`/incidents/${inc.ref}/status`, { status: 'investigating' }, alice.auth);
    expect(s.status).toBe(403);
    expect(s.body.message).toContain(dave.username);
    expect(
      (await post(`/incidents/${inc.ref}/status`, { status: 'investigating' }, dave.auth)).status,
    ).toBe(200);
    // Admins may always.
    expect(
      (await post(`/incidents/${inc.ref}/severity`, { severity: 'SEV1' }, t.adminAuth)).status,
    ).toBe(200);

    // SMEs: several, and removable.
    await post(
      `/incidents/${inc.ref}/roles`,
      { role: 'subject_matter_expert', username: alice.username },
      dave.auth,
    );
    const two = await post(
      `/incidents/${inc.ref}/roles`,
      { role: 'subject_matter_expert', username: carol.username },
      dave.auth,
    );
    expect(
      (two.body.roles as Array<{ role: string }>).filter((r) => r.role === 'subject_matter_expert'),
    ).toHaveLength(2);
    const del = await t
      .http()
      .delete(`/incidents/${inc.ref}/roles/subject_matter_expert/${carol.username}`)
      .set('Authorization', dave.auth);
    expect(del.status).toBe(200);
    expect(
      (del.body.roles as Array<{ role: string }>).filter((r) => r.role === 'subject_matter_expert'),
    ).toHaveLength(1);

    // Editable fields and action items.
    const patched = await t
      .http()
      .patch(`/incidents/${inc.ref}`)
      .set('Authorization', dave.auth)
      .send({
        impact: 'EU checkout',
        actionItems: [{ text: 'Add disk alert', owner: dave.username }],
      });
    expect(patched.status).toBe(200);
    expect(patched.body.actionItems).toEqual([
      { text: 'Add disk alert', owner: dave.username, done: false },
    ]);
    expect((await get(`/incidents/${inc.ref}/postmortem`)).text).toContain(
      `- [ ] Add disk alert (owner: ${dave.username})`,
    );
  });

  it('an incident role goes only to a user who may act in it: a viewer is refused by name, audited', async () => {
    const auditedFor = async (actor: string) =>
      (
        (await get(`/audit?action=access.denied&actor=${actor}&limit=50`)).body.items as Array<{
          details: { username?: string; role?: string };
        }>
      ).filter((e) => e.details.username === viewer.username);

    // Declared with a viewer as commander: refused, nothing declared.
    // (limit=1000 is over the route's 500: its 400 body had no length, and this compared
    // undefined with undefined.)
    const before = (await incidents()).length;
    const declared = await post(
      '/incidents',
      { title: 'Viewer in command', severity: 'SEV3', commander: viewer.username },
      carol.auth,
    );
    expect(declared.status).toBe(400);
    expect(declared.body.message).toContain(`commander: user ${viewer.username} cannot hold`);
    expect(declared.body.message).toMatch(/commander role/);
    expect((await incidents()).length).toBe(before);
    expect((await auditedFor(carol.username)).map((e) => e.details.role)).toEqual(['commander']);

    // Handed the commander role (or any other) on an existing incident: refused, still carol's.
    const inc = await declare(carol.auth);
    for (const role of ['commander', 'scribe']) {
      const res = await post(
        `/incidents/${inc.ref}/roles`,
        { role, username: viewer.username },
        carol.auth,
      );
      expect(res.status, role).toBe(400);
      expect(res.body.message).toContain(`username: user ${viewer.username} cannot hold`);
      expect(res.body.message).toContain(`the ${role} role`);
    }
    const after = (await get(`/incidents/${inc.ref}`)).body as {
      roles: Array<{ role: string; username: string }>;
    };
    expect(after.roles).toEqual([
      expect.objectContaining({ role: 'commander', username: carol.username }),
    ]);
    expect((await auditedFor(carol.username)).map((e) => e.details.role).sort()).toEqual([
      'commander',
      'commander',
      'scribe',
    ]);
  });

  it('streams the timeline live over SSE', async () => {
    const inc = await declare(alice.auth);
    const port = (t.app.getHttpServer().address() as { port: number }).port;
    const reading = readSse(
      `http://127.0.0.1:${port}/incidents/${inc.ref}/timeline/stream`,
      viewer.auth,
      {
        stopAfter: 3,
      },
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(
      (await post(`/incidents/${inc.ref}/notes`, { text: 'live note' }, alice.auth)).status,
    ).toBe(201);
    const events = await reading;
    expect(events.map((e) => (e.data as Entry).kind)).toEqual([
      'incident.declared',
      'role.assigned',
      'note',
    ]);
    expect((events[2].data as Entry).summary).toBe('live note');
    expect(events[2].id).toBe(String((events[2].data as Entry).seq));
    expect(events.map((e) => (e.data as Entry).seq)).toEqual([1, 2, 3]);
  });

  it('live streams never skip: bursts of parallel notes reach an open stream and a resumed one, each once, in order', async () => {
    const inc = await declare(alice.auth);
    const port = (t.app.getHttpServer().address() as { port: number }).port;
    const url = `http://127.0.0.1:${port}/incidents/${inc.ref}/timeline/stream`;
    const LAST = 'last note';
    const isLast = (e: Entry) => e.kind === 'note' && e.summary === LAST;
    // Stays open from before the first burst to the note posted after the last one.
    const open = readSseUntil(url, viewer.auth, (es) => isLast(es[es.length - 1]));
    // Leaves in the middle of the bursts and comes back with Last-Event-ID.
    const resumed = (async () => {
      const first = await readSseUntil(url, viewer.auth, (es) => es.length >= 25);
      const rest = await readSseUntil(url, viewer.auth, (es) => isLast(es[es.length - 1]), {
        lastEventId: first[first.length - 1].id,
      });
      return [...first, ...rest];
    })();
    await new Promise((r) => setTimeout(r, 300));
    for (let burst = 0; burst < 3; burst++) {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          post(
            `/incidents/${inc.ref}/notes`,
            { text: `burst ${burst} note ${i}` },
            i % 2 ? carol.auth : alice.auth,
          ),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(Array(20).fill(201));
    }
    expect((await post(`/incidents/${inc.ref}/notes`, { text: LAST }, alice.auth)).status).toBe(
      201,
    );

    const stored = await timelineOf(inc.ref);
    expect(stored).toHaveLength(2 + 60 + 1);
    // The stored order is 1, 2, 3, … with times that never go backwards.
    expect(stored.map((e) => e.seq)).toEqual(stored.map((_, i) => i + 1));
    const times = stored.map((e) => Date.parse(e.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(new Set(stored.filter((e) => e.kind === 'note').map((e) => e.actor))).toEqual(
      new Set([alice.username, carol.username]),
    );

    const asStored = stored.map((e) => `${e.seq} ${e.id} ${e.summary}`);
    for (const events of [await open, await resumed]) {
      expect(events.map((e) => e.id)).toEqual(events.map((e) => String((e.data as Entry).seq)));
      const got = events.map((e) => e.data as Entry).map((e) => `${e.seq} ${e.id} ${e.summary}`);
      expect(got).toEqual(asStored);
    }
  });

  it('reports response metrics per severity in the API and to Prometheus', async () => {
    const from = new Date().toISOString();
    const a = await declare(t.adminAuth, { severity: 'SEV3' });
    const b = await declare(t.adminAuth, { severity: 'SEV3' });
    for (const s of ['investigating', 'monitoring', 'resolved'])
      await post(`/incidents/${a.ref}/status`, { status: s }, t.adminAuth);
    await post(`/incidents/${b.ref}/status`, { status: 'investigating' }, t.adminAuth);
    const res = await get(`/incidents/metrics?from=${encodeURIComponent(from)}`, viewer.auth);
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(2);
    expect(res.body.byStatus).toMatchObject({ resolved: 1, investigating: 1 });
    const sev3 = (res.body.bySeverity as Array<Record<string, unknown>>).find(
      (s) => s.severity === 'SEV3',
    )!;
    expect(sev3.count).toBe(2);
    expect(typeof sev3.mttaSeconds).toBe('number');
    expect(typeof sev3.mttmSeconds).toBe('number');
    expect(typeof sev3.mttrSeconds).toBe('number');
    expect((res.body.bySeverity as Array<{ count: number }>)[0].count).toBe(0);

    const metrics = await t.http().get('/metrics');
    expect(metrics.text).toMatch(/firebreak_incidents_open\{severity="SEV3"\} 1/);
    expect(metrics.text).toMatch(
      /firebreak_incident_time_to_resolve_seconds_count\{severity="SEV3"\} 1/,
    );
  });
});
