import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lintPaths } from '../src/cli/lint.js';
import { runCli } from '../src/cli/firebreak-cli.js';
import { startTestApp, type TestApp } from './support/app.js';

const FIXTURES = join(import.meta.dirname, 'fixtures/import/rundeck');
const fixture = (name: string) => join(FIXTURES, name);

/** Runs `firebreak …` in this process (the same code as the bin), capturing its output. */
async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const out = vi
    .spyOn(process.stdout, 'write')
    .mockImplementation((s) => ((stdout += String(s)), true));
  const err = vi
    .spyOn(process.stderr, 'write')
    .mockImplementation((s) => ((stderr += String(s)), true));
  try {
    const status = await runCli(args, {});
    return { status, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/** Every file under a directory, relative to it. */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe('firebreak import rundeck', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-import-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes one runbook per job into -o, and the directory lints clean', async () => {
    const r = await cli(
      'import',
      'rundeck',
      fixture('test.jobs.xml'),
      fixture('test-copyfile-job1.yaml'),
      '-o',
      dir,
    );
    expect(r.status).toBe(0);
    expect(tree(dir)).toEqual([
      'test/copy-multi.yaml',
      'test/simple-exec-test.yaml',
      'test/simple-job-test.yaml',
      'test/simple-script-test.yaml',
    ]);
    expect(r.stdout).toContain(
      'test-copyfile-job1.yaml:28: skipped job "test/copy multi": step 3 not converted',
    );
    expect(r.stdout).toContain('test.jobs.xml:35: skipped job "test/simple file test"');
    expect(r.stderr).toMatch(/^4 runbooks; .* 0 errors; written to /);
    const lint = await lintPaths([dir]);
    expect(lint.problems).toEqual([]);
    expect(lint.files).toBe(4);
  });

  it('--dry-run prints the report and writes nothing; --json is for scripts', async () => {
    const r = await cli(
      'import',
      'rundeck',
      fixture('scheduledJob.yaml'),
      '-o',
      dir,
      '--dry-run',
      '--json',
    );
    expect(r.status).toBe(0);
    expect(tree(dir)).toEqual([]);
    const report = JSON.parse(r.stdout) as {
      dryRun: boolean;
      files: Array<{ path: string }>;
      findings: Array<{ level: string; source: { line: number } }>;
    };
    expect(report.dryRun).toBe(true);
    expect(report.files).toEqual([{ path: 'scheduled-job.yaml', name: 'scheduled-job' }]);
    expect(report.findings).toContainEqual(
      expect.objectContaining({
        level: 'converted',
        source: expect.objectContaining({ line: 11 }),
      }),
    );
  });

  it('writes nothing when any input is bad, naming file and line', async () => {
    const bad = join(dir, 'broken.xml');
    writeFileSync(bad, '<joblist>\n  <job>\n    <name>x</nam>\n</joblist>\n');
    const out = join(dir, 'out');
    const r = await cli('import', 'rundeck', fixture('scheduledJob.yaml'), bad, '-o', out);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/broken\.xml:3: error file: does not parse: XML/);
    expect(r.stderr).toContain('nothing written');
    expect(existsSync(out)).toBe(false);
  });

  it('never replaces an existing file without --force, and then writes none of the others', async () => {
    mkdirSync(join(dir, 'test'));
    writeFileSync(join(dir, 'test/simple-exec-test.yaml'), 'mine\n');
    const r = await cli('import', 'rundeck', fixture('test.jobs.xml'), '-o', dir);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(
      'test/simple-exec-test.yaml: error output: exists; nothing was written',
    );
    expect(tree(dir)).toEqual(['test/simple-exec-test.yaml']);
    expect(readFileSync(join(dir, 'test/simple-exec-test.yaml'), 'utf8')).toBe('mine\n');
    const forced = await cli('import', 'rundeck', fixture('test.jobs.xml'), '-o', dir, '--force');
    expect(forced.status).toBe(0);
    expect(tree(dir)).toHaveLength(3);
    expect(readFileSync(join(dir, 'test/simple-exec-test.yaml'), 'utf8')).toContain(
      'name: simple-exec-test',
    );
  });

  it('exits 2 on usage errors', async () => {
    expect((await cli('import', 'nosuchkind', fixture('scheduledJob.yaml'))).status).toBe(2);
    expect((await cli('import', 'rundeck')).status).toBe(2);
    expect((await cli('import', 'rundeck', join(dir, 'missing.yaml'))).stderr).toContain(
      'no such file',
    );
  });
});

describe('POST /runbooks/import', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());
  const body = (names: string[], extra: Record<string, unknown> = {}) => ({
    kind: 'rundeck',
    files: names.map((n) => ({ name: n, content: readFileSync(fixture(n), 'utf8') })),
    ...extra,
  });

  it('is for admins: an operator is refused', async () => {
    const op = await t.userWithRoles(['operator']);
    const res = await t
      .http()
      .post('/runbooks/import')
      .set('Authorization', op.auth)
      .send(body(['scheduledJob.yaml'], { write: true }));
    expect(res.status).toBe(403);
    expect(tree(t.config.runbooksDir)).toEqual([]);
    expect(
      (
        await t
          .http()
          .post('/runbooks/import')
          .send(body(['scheduledJob.yaml']))
      ).status,
    ).toBe(401);
  });

  it('reports without writing, then writes, syncs and audits with write: true', async () => {
    const dry = await t
      .http()
      .post('/runbooks/import')
      .set('Authorization', t.adminAuth)
      .send(body(['test-copyfile-job1.yaml']));
    expect(dry.status).toBe(200);
    expect(dry.body.files.map((f: { path: string }) => f.path)).toEqual(['test/copy-multi.yaml']);
    expect(dry.body.written).toEqual([]);
    expect(tree(t.config.runbooksDir)).toEqual([]);

    const res = await t
      .http()
      .post('/runbooks/import')
      .set('Authorization', t.adminAuth)
      .send(body(['test-copyfile-job1.yaml'], { write: true }));
    expect(res.status).toBe(200);
    expect(res.body.written).toEqual(['test/copy-multi.yaml']);
    expect(res.body.sync.created).toEqual([
      expect.objectContaining({ name: 'copy-multi', version: 1 }),
    ]);
    const list = await t.http().get('/runbooks').set('Authorization', t.adminAuth);
    expect(list.body.map((r: { name: string }) => r.name)).toContain('copy-multi');
    const audit = await t
      .http()
      .get('/audit')
      .query({ action: 'runbook.import' })
      .set('Authorization', t.adminAuth);
    const entries = (audit.body.items ?? audit.body) as Array<{
      outcome: string;
      details: { write?: boolean; written?: string[] };
    }>;
    expect(
      entries.map((e) => e.details.written ?? `report only: ${String(e.details.write)}`),
    ).toEqual(expect.arrayContaining([['test/copy-multi.yaml'], 'report only: false']));

    const again = await t
      .http()
      .post('/runbooks/import')
      .set('Authorization', t.adminAuth)
      .send(body(['test-copyfile-job1.yaml'], { write: true }));
    expect(again.status).toBe(409);
    expect(again.body.message).toContain('test/copy-multi.yaml');
    const over = await t
      .http()
      .post('/runbooks/import')
      .set('Authorization', t.adminAuth)
      .send(body(['test-copyfile-job1.yaml'], { write: true, overwrite: true }));
    expect(over.status).toBe(200);

    // Another file defining the same runbook: the next sync would refuse both, so nothing is written.
    const other = join(t.config.runbooksDir, 'mine.yaml');
    writeFileSync(other, readFileSync(join(t.config.runbooksDir, 'test', 'copy-multi.yaml')));
    try {
      const clash = await t
        .http()
        .post('/runbooks/import')
        .set('Authorization', t.adminAuth)
        .send(body(['test-copyfile-job1.yaml'], { write: true, overwrite: true }));
      expect(clash.status).toBe(409);
      expect(clash.body.message).toContain('copy-multi (in mine.yaml)');
    } finally {
      rmSync(other);
    }
  });

  it("sends a node kind to the server with the CLI's URL and token, printing its report", async () => {
    const token = await t
      .http()
      .post('/auth/tokens')
      .set('Authorization', t.adminAuth)
      .send({ name: 'import-cli' });
    expect(token.status).toBe(201);
    const dir = mkdtempSync(join(tmpdir(), 'firebreak-import-nodes-'));
    try {
      const inventory = join(dir, 'hosts.ini');
      writeFileSync(inventory, '[web]\nweb-imp-1 ansible_host=10.0.0.1\n');
      const { port } = t.app.getHttpServer().address() as { port: number };
      const args = ['import', 'ansible', inventory, '--url', `http://127.0.0.1:${port}`];
      expect((await cli(...args, '--dry-run')).status).toBe(2);
      const r = await cli(...args, '--token', token.body.token as string);
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ format: 'ini', created: ['web-imp-1'] });
      const refused = await cli(...args, '--token', 'fbk_not-a-token');
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain('401');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps every file inside RUNBOOKS_DIR and writes nothing for bad input', async () => {
    const traversal = await t
      .http()
      .post('/runbooks/import')
      .set('Authorization', t.adminAuth)
      .send({
        kind: 'rundeck',
        files: [{ name: '../../escape.yaml', content: '- name: x\n' }],
        write: true,
      });
    expect(traversal.status).toBe(400);
    expect(JSON.stringify(traversal.body.details)).toContain('"path":"files[0].name"');
    // A group is a folder: "../../etc" cannot climb out.
    const group = await t
      .http()
      .post('/runbooks/import')
      .set('Authorization', t.adminAuth)
      .send({
        kind: 'rundeck',
        files: [
          {
            name: 'g.yaml',
            content:
              '- name: Escape Attempt\n  group: ../../etc\n  sequence: { commands: [{ exec: "true" }] }\n',
          },
        ],
        write: true,
      });
    expect(group.status).toBe(200);
    expect(group.body.written).toEqual(['etc/escape-attempt.yaml']);
    expect(existsSync(join(t.config.runbooksDir, 'etc/escape-attempt.yaml'))).toBe(true);

    const before = tree(t.config.runbooksDir);
    const bad = await t
      .http()
      .post('/runbooks/import')
      .set('Authorization', t.adminAuth)
      .send({
        kind: 'rundeck',
        files: [
          { name: 'ok.yaml', content: readFileSync(fixture('scheduledJob.yaml'), 'utf8') },
          { name: 'bad.yaml', content: 'name: not a list\n' },
        ],
        write: true,
      });
    expect(bad.status).toBe(200);
    expect(bad.body.written).toEqual([]);
    expect(bad.body.findings).toContainEqual(
      expect.objectContaining({ level: 'error', source: { file: 'bad.yaml', line: 1 } }),
    );
    expect(tree(t.config.runbooksDir)).toEqual(before);
    expect(
      (
        await t
          .http()
          .post('/runbooks/import')
          .set('Authorization', t.adminAuth)
          .send({ kind: 'nope', files: [{ name: 'a.yaml', content: '' }] })
      ).status,
    ).toBe(400);
  });
});
