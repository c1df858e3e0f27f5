import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runbookJsonSchema } from '../src/runbooks/runbook.schema.js';

const ROOT = join(import.meta.dirname, '..');

describe('firebreak lint (the bin, as a user runs it)', () => {
  let dir: string;
  beforeAll(() => {
    execFileSync(
      process.execPath,
      ['-e', "import('./scripts/build-if-needed.mjs').then((m) => m.buildIfNeeded())"],
      {
        cwd: ROOT,
        stdio: 'inherit',
      },
    );
    dir = mkdtempSync(join(tmpdir(), 'firebreak-lint-'));
  }, 180_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const lint = (...args: string[]) =>
    spawnSync(process.execPath, [join(ROOT, 'bin', 'firebreak.js'), 'lint', ...args], {
      cwd: ROOT,
      encoding: 'utf8',
    });

  it('passes on the shipped runbooks', () => {
    const r = lint('runbooks/');
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('4 files, 0 problems');
    expect(r.status).toBe(0);
  });

  it('prints file:line:col per problem and exits non-zero', () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(
      file,
      [
        'name: broken',
        'description: demo',
        'kind: remediation',
        'optons: []',
        'steps:',
        '  - name: a',
        '    run: echo "{{ options.x }}"',
        '  - name: a',
        '    sleep: 5 seconds',
        '',
      ].join('\n'),
    );
    const r = lint(file, 'runbooks/restart-service.yaml');
    expect(r.status).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      /broken\.yaml:4:1 optons: unknown key "optons" \(did you mean "options"\?\)$/,
    );
    expect(lines[1]).toMatch(
      /broken\.yaml:9:12 steps\[1\]\.sleep: expected a duration such as 500ms, 30s, 15m or 2h$/,
    );
    expect(r.stderr).toContain('2 files, 2 problems');
  });

  it('reports meaning errors once the schema holds: quoting, undefined options, duplicates', () => {
    const file = join(dir, 'meaning.yaml');
    writeFileSync(
      file,
      [
        'name: meaning',
        'description: demo',
        'kind: diagnostic',
        'steps:',
        '  - name: a',
        '    run: echo "{{ options.x }}"',
        '  - name: a',
        '    run: "true"',
        '',
      ].join('\n'),
    );
    const r = lint(file);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('meaning.yaml:6:10 steps[0].run: options.x: no option named "x"');
    expect(r.stdout).toContain('steps[0].run: {{ options.x }} is inside quotes');
    expect(r.stdout).toContain('meaning.yaml:7:11 steps[1].name: duplicate step name "a"');
  });

  it('refuses a value passed to a command that evaluates it, with file:line:col, step and option', () => {
    const file = join(dir, 'evaluates.yaml');
    writeFileSync(
      file,
      [
        'name: evaluates',
        'description: demo',
        'kind: diagnostic',
        'options:',
        '  - { name: msg, type: string }',
        "  - { name: unit, type: string, pattern: '[a-z0-9@._-]+' }",
        'steps:',
        '  - name: shout',
        '    run: sudo -u app bash -c {{ options.msg }}',
        '  - name: safe',
        '    run: sh -c {{ options.unit }}',
        '',
      ].join('\n'),
    );
    const r = lint(file);
    expect(r.status).toBe(1);
    expect(r.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(
        /evaluates\.yaml:9:10 steps\[0\]\.run: step "shout": \{\{ options\.msg \}\} \(option msg\) is an argument of `bash -c`, which runs it as code/,
      ),
    ]);
  });

  it('names a missing path', () => {
    const r = lint('no/such/dir');
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('no/such/dir:1:1 no such file or directory');
  });
});

describe('docs/runbook.schema.json', () => {
  it('is generated from the schema in src/ (run `npm run schema` when this fails)', () => {
    const committed = JSON.parse(
      readFileSync(join(ROOT, 'docs', 'runbook.schema.json'), 'utf8'),
    ) as unknown;
    expect(committed).toEqual(JSON.parse(JSON.stringify(runbookJsonSchema())));
  });
});
