import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { startTestApp, type TestApp } from './support/app.js';
import { waitFinished } from './support/fleet.js';

/** Who local commands run as: the run user when the service is root, else the service's user. */
const EXPECTED_USER = process.getuid?.() === 0 ? 'firebreak-run' : userInfo().username;

const RUNBOOKS: Record<string, string> = {
  who: `name: who
description: Who commands run as, by a command and by an uploaded script
kind: diagnostic
steps:
  - name: whoami
    run: id -un
  - name: script
    script: |
      echo "script as $(id -un) in $PWD"
`,
  'staging-only': `name: staging-only
description: Runs only on staging nodes
kind: diagnostic
targets:
  nodes:
    attributes: { environment: staging }
steps:
  - name: host
    run: hostname
`,
  everywhere: `name: everywhere
description: Every node, by a glob
kind: diagnostic
targets:
  nodes:
    names: ['*']
steps:
  - name: host
    run: hostname
`,
  'by-tag': `name: by-tag
description: The nodes tagged local
kind: diagnostic
targets:
  nodes:
    tags: [local]
steps:
  - name: host
    run: hostname
`,
};

describe('local-connection nodes (the built-in localhost, ansible_connection=local)', () => {
  let t: TestApp;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-local-conn-'));
    for (const [name, text] of Object.entries(RUNBOOKS))
      writeFileSync(join(dir, `${name}.yaml`), text);
    t = await startTestApp({ RUNBOOKS_DIR: dir, LOCAL_NODE: 'true' });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const logsOf = async (id: string) =>
    (await t.http().get(`/executions/${id}/logs`).set('Authorization', t.adminAuth)).body
      .items as Array<{ node: string | null; step: string | null; stream: string; line: string }>;

  it('an Ansible host with ansible_connection=local becomes a local node, not SSH to root@localhost:22', async () => {
    const ini = `[control]
control ansible_connection=local
localhost ansible_connection=local

[web]
web-9 ansible_host=10.0.0.9 ansible_connection=ssh
box-1 ansible_connection=docker
`;
    const res = await t
      .http()
      .post('/nodes/import/ansible')
      .set('Authorization', t.adminAuth)
      .send({ format: 'ini', content: ini });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      created: ['box-1', 'control', 'web-9'],
      // The built-in node already is the Firebreak host.
      skipped: [{ name: 'localhost', reason: 'the built-in local node' }],
      // Only `local` is understood; other connection plugins are named, not silently mapped.
      ignoredVars: ['ansible_connection'],
    });
    const node = async (name: string) =>
      (await t.http().get(`/nodes/${name}`).set('Authorization', t.adminAuth)).body as Record<
        string,
        unknown
      >;
    expect(await node('control')).toMatchObject({ connection: 'local', source: 'ansible' });
    expect(await node('web-9')).toMatchObject({ connection: 'ssh', hostname: '10.0.0.9' });
    expect(await node('localhost')).toMatchObject({ connection: 'local', source: 'builtin' });
  });

  it('runs commands and uploaded scripts on local nodes through the local executor, as the run user', async () => {
    const res = await t
      .http()
      .post('/executions')
      .set('Authorization', t.adminAuth)
      .send({ runbook: 'who', nodes: ['control', 'localhost'] });
    expect(res.status).toBe(201);
    const done = await waitFinished(t, res.body.id as string);
    expect(done.status).toBe('succeeded');
    const lines = await logsOf(res.body.id as string);
    for (const name of ['control', 'localhost']) {
      const out = (step: string) =>
        lines
          .filter((l) => l.node === name && l.step === step && l.stream === 'stdout')
          .map((l) => l.line);
      expect(out('whoami')).toEqual([EXPECTED_USER]);
      expect(out('script')[0]).toMatch(new RegExp(`^script as ${EXPECTED_USER} in /`));
    }
  });

  it('localhost is a node like any other: a runbook for staging nodes does not run on it', async () => {
    const res = await t
      .http()
      .post('/executions')
      .set('Authorization', t.adminAuth)
      .send({ runbook: 'staging-only', nodes: ['localhost'] });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain("not among this runbook's targets: localhost");
  });

  it('the built-in localhost is a target only when named or picked by its tag, never by a wildcard', async () => {
    const targets = async (runbook: string) => {
      const res = await t
        .http()
        .post(`/runbooks/${runbook}/plan`)
        .set('Authorization', t.adminAuth)
        .send({});
      expect(res.status).toBe(200);
      return (res.body.plan.targets as Array<{ name: string }>).map((n) => n.name);
    };
    // No filter at all, and a `*` glob: every node but the Firebreak host itself.
    for (const runbook of ['who', 'everywhere']) {
      const names = await targets(runbook);
      expect(names).toContain('control');
      expect(names).not.toContain('localhost');
    }
    // Its own tag picks it (and the other node tagged local, if any, alike).
    expect(await targets('by-tag')).toContain('localhost');
    // Named exactly, it runs there; a glob given as the node list does not reach it.
    const named = await t
      .http()
      .post('/executions')
      .set('Authorization', t.adminAuth)
      .send({ runbook: 'everywhere', nodes: ['localhost'] });
    expect(named.status).toBe(201);
    expect((await waitFinished(t, named.body.id as string)).status).toBe('succeeded');
    const globbed = await t
      .http()
      .post('/executions')
      .set('Authorization', t.adminAuth)
      .send({ runbook: 'everywhere', nodes: ['local*'] });
    expect(globbed.status).toBe(400);
  });
});
