import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { checkReferences, type ParsedRunbook } from '../../runbooks/runbook-references.js';
import { parseRunbook } from '../../runbooks/runbook.parser.js';
import type { RunbookDefinition } from '../../runbooks/runbook.schema.js';
import { renderShell } from '../../runbooks/template.js';
import { hasErrors, type ImportResult } from '../report.js';
import { convertRundeckJobs } from './convert.js';
import { convertFilter } from './nodefilter.js';
import { quartzToCron } from './schedule.js';
import { convertShell, type Resolve } from './shell.js';

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures/import/rundeck');

const convert = (file: string, text: string) => convertRundeckJobs([{ file, text }]);
const runbook = (r: ImportResult, name: string) => {
  const f = r.files.find((x) => x.name === name);
  if (!f) throw new Error(`no runbook ${name}: ${JSON.stringify(r.findings, null, 1)}`);
  return parse(f.content) as RunbookDefinition;
};
const job = (body: string) => `- name: j\n  description: d\n${body}`;
const messages = (r: ImportResult, level: string) =>
  r.findings.filter((f) => f.level === level).map((f) => `${f.source.line}: ${f.message}`);

/** What a POSIX shell receives as arguments for a command, one per line (`printf` per word). */
function argv(command: string): string[] {
  const out = execFileSync('/bin/sh', ['-c', `set -- ${command}\nprintf '%s\\n' "$@"`], {
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin' },
  });
  return out.split('\n').slice(0, -1);
}

describe('Rundeck job exports (test/fixtures/import/rundeck, sources in its README)', () => {
  const files = readdirSync(FIXTURES).filter((f) => /\.(ya?ml|xml)$/.test(f));
  const result = convertRundeckJobs(
    files.map((f) => ({ file: f, text: readFileSync(join(FIXTURES, f), 'utf8') })),
  );

  it('imports every file without errors, each produced runbook linting clean', () => {
    expect(files.length).toBeGreaterThanOrEqual(6);
    expect(messages(result, 'error')).toEqual([]);
    const parsed: ParsedRunbook[] = result.files.map((f) => {
      const r = parseRunbook(f.path, f.content);
      expect(r.problems).toEqual([]);
      return { file: f.path, text: f.content, definition: r.definition! };
    });
    expect([...checkReferences(parsed, new Set()).values()]).toEqual([]);
    expect(result.files.length).toBe(12);
  });

  it('reports what it did not convert with the file and line', () => {
    for (const f of result.findings.filter((x) => x.level !== 'converted')) {
      expect(f.source.file).toMatch(/\.(ya?ml|xml)$/);
      expect(f.source.line).toBeGreaterThan(0);
    }
    const at = (file: string, line: number) =>
      result.findings
        .filter((f) => f.source.file === file && f.source.line === line && f.level === 'skipped')
        .map((f) => f.message);
    expect(at('test-copyfile-job1.yaml', 28)).toEqual([
      'step 3 not converted: node step plugin "copyfile" has no Firebreak equivalent',
    ]);
    expect(at('test.jobs.xml', 35)[0]).toMatch(/script file @DIRNAME@\/uptime.sh/);
    expect(at('job-v20-examples.xml', 60)[0]).toMatch(/"test\/other tests" is not among/);
    expect(at('job-v20-examples.xml', 95)[0]).toMatch(/a year \(2010\) cannot be kept/);
    expect(at('job-yaml-v12-examples.yaml', 45)[0]).toMatch(/step plugin "jenkins-build"/);
    expect(at('job-yaml-v12-examples.yaml', 69)[0]).toMatch(/notification onfailure/);
    expect(at('job-yaml-v12-examples.yaml', 56)[0]).toMatch(/!os-family: windows/);
  });

  it('maps options, targets, schedules, retries and job references', () => {
    const copy = runbook(result, 'copy-multi');
    expect(copy.targets).toEqual({ nodes: { names: ['ssh-node'] }, strategy: 'sequential' });
    expect(copy.steps.map((s) => s.run)).toEqual([
      'mkdir -p {{ options.destdir }}',
      'echo copy from {{ options.sourcedir }} to  {{ options.destdir }}',
    ]);
    const iffy = runbook(result, 'iffy-job');
    expect(iffy.options?.[0]).toEqual({
      name: 'port',
      type: 'enum',
      values: ['80', '8080', '8888'],
      default: '80',
    });
    expect(iffy.timeout).toBe('30h');
    expect(iffy.logLimit).toEqual({ bytes: '1kb', action: 'fail' });
    expect(iffy.concurrency).toBeUndefined();
    const doc = runbook(result, 'job-name');
    expect(doc.options?.[0]).toMatchObject({
      name: 'test',
      type: 'list',
      pattern: '^[abcd]value$',
      default: ['dvalue'],
    });
    expect(doc.steps[0].retry).toEqual({ attempts: 4, delay: '3661s' });
    expect(doc.schedules).toEqual([{ name: 'rundeck', cron: '0 01 05 * APR,MAR,MAY FRI,MON,TUE' }]);
    expect(doc.steps[1].script).toContain('set -- arguments passed to the script\n');
    expect(doc.steps[1].script).toContain('echo this is option value: {{ options.test }}');
    expect(doc.concurrency).toEqual({ policy: 'reject' });
    // Two jobs named "simple job test" in group test (two files): one keeps the name.
    const caller = runbook(result, 'simple-job-test');
    expect(caller.steps[0].runbook).toEqual({ name: 'job-name', options: { test: 'avalue' } });
    expect(caller.onError?.[0].run).toBe('echo the job reference failed');
    expect(caller.targets).toMatchObject({ strategy: 'rolling', batchSize: 2, keepGoing: true });
    expect(runbook(result, 'test-simple-job-test').steps[0].runbook).toEqual({
      name: 'simple-exec-test',
      targets: 'own',
    });
    expect(runbook(result, 'scheduled-job').schedules?.[0].cron).toBe('*/5 * * * * *');
    expect(result.files.find((f) => f.name === 'who-s-logged-in')?.path).toBe(
      'sysadm/users/who-s-logged-in.yaml',
    );
  });
});

describe('references in commands', () => {
  const options = new Map([
    ['name', 'name'],
    ['x', 'x'],
    ['multi', 'multi'],
  ]);
  const resolve: Resolve = (context, name, form) => {
    if (context === 'option') {
      const key = form === 'env' ? name.toLowerCase() : name;
      return options.has(key) ? { ref: `options.${key}` } : { error: `no option ${name}` };
    }
    if (context === 'node' && (name === 'name' || name === 'NAME')) return { ref: 'node.name' };
    if (context === 'job') return { literal: "it's a job" };
    return { error: `${context} not converted` };
  };
  /** What Rundeck runs: its references replaced by the values as text, before the shell. */
  const rundeck = (cmd: string, v: Record<string, string>, env: Record<string, string>) =>
    execFileSync(
      '/bin/sh',
      [
        '-c',
        `set -- ${cmd.replace(/\$\{option\.(\w+)\}|@option\.(\w+)@/g, (_, a: string, b: string) => v[a ?? b])}\nprintf '%s\\n' "$@"`,
      ],
      {
        encoding: 'utf8',
        env: { PATH: '/usr/bin:/bin', ...env },
      },
    )
      .split('\n')
      .slice(0, -1);
  const firebreak = (cmd: string, v: Record<string, string>) => {
    const c = convertShell(cmd, resolve);
    expect(c.errors).toEqual([]);
    expect(
      parseRunbook(
        't.yaml',
        `name: t1\ndescription: d\nkind: remediation\noptions: [{ name: name, type: string }, { name: x, type: string }]\nsteps:\n  - name: a\n    run: ${JSON.stringify(c.text)}\n`,
      ).problems,
    ).toEqual([]);
    return { text: c.text, argv: argv(renderShell(c.text, { options: v }).text) };
  };
  const cases = [
    'echo ${option.name}',
    'echo "hello ${option.name}" and "${option.x}"',
    "echo 'quoted ${option.name} here' '${option.x}'",
    'echo "${option.name}${option.x}" --flag=${option.x}',
    'echo "$RD_OPTION_NAME" pre-$RD_OPTION_X "${RD_OPTION_NAME} tail"',
    'echo "@option.name@ is @option.x@"',
  ];
  it.each(cases)('runs as Rundeck would for plain values: %s', (cmd) => {
    const v = { name: 'world', x: 'v1' };
    const fb = firebreak(cmd, v);
    expect(fb.text).not.toMatch(/option\.|RD_OPTION/);
    expect(fb.argv).toEqual(rundeck(cmd, v, { RD_OPTION_NAME: 'world', RD_OPTION_X: 'v1' }));
  });

  it('turns a quoted reference into a template outside the quotes', () => {
    expect(convertShell('echo "hello ${option.name}!"', resolve).text).toBe(
      'echo "hello "{{ options.name }}"!"',
    );
    expect(convertShell('echo "${option.name}"', resolve).text).toBe('echo {{ options.name }}');
    expect(convertShell("echo '$RD_OPTION_NAME' ${job.name}", resolve).text).toBe(
      "echo '$RD_OPTION_NAME' 'it'\\''s a job'",
    );
  });

  it.each(cases)('keeps a hostile value one literal argument: %s', (cmd) => {
    const hostile = `$(touch /tmp/firebreak-pwned) "; rm -rf / #' \`id\``;
    const fb = firebreak(cmd, { name: hostile, x: 'v1' });
    const carrying = fb.argv.filter((a) => a.includes('touch'));
    expect(carrying.length).toBeGreaterThan(0);
    // Each argument holding the value holds all of it, as literal text: nothing ran or split.
    for (const a of carrying) expect(a).toContain(hostile);
    expect(fb.argv.some((a) => a.includes('uid='))).toBe(false);
    expect(existsSync('/tmp/firebreak-pwned')).toBe(false);
  });

  it('converts a job as docs/coming-from-rundeck.md shows, leaving out what lint refuses', () => {
    const r = convert(
      'deploy.yaml',
      job(
        [
          '  options: [{ name: version, required: true }]',
          "  nodefilters: { filter: 'tags: web' }",
          '  sequence:',
          '    commands:',
          '      - exec: echo "deploying ${option.version} to $RD_NODE_NAME"',
          '      - exec: sh -c "echo ${option.version}"',
        ].join('\n') + '\n',
      ),
    );
    expect(runbook(r, 'job-j').steps.map((s) => s.run)).toEqual([
      'echo "deploying "{{ options.version }}" to "{{ node.name }}',
    ]);
    expect(messages(r, 'skipped')).toEqual([
      expect.stringMatching(/^8: step 2 not converted: .*options\.version/),
    ]);
  });

  it('refuses what it cannot convert, saying why', () => {
    expect(convertShell('echo ${globals.region}', resolve).errors[0]).toMatch(
      /globals not converted/,
    );
    expect(convertShell('echo ${data.out}', resolve).errors[0]).toMatch(/data not converted/);
    expect(convertShell('cat <<EOF\n${option.name}\nEOF\n', resolve).errors[0]).toMatch(
      /here-document/,
    );
    expect(convertShell('echo ${option.nope}', resolve).errors[0]).toMatch(/no option nope/);
    // In a comment the reference is text, and stays text.
    expect(convertShell('true # ${option.name}', resolve)).toMatchObject({
      errors: [],
      text: 'true # ${option.name}',
    });
  });
});

describe('names, node filters, schedules', () => {
  it('slugs job names, resolves collisions and maps jobrefs by uuid', () => {
    const r = convert(
      'jobs.yaml',
      [
        '- name: Restart Web Servers',
        '  uuid: u-1',
        '  sequence: { commands: [{ exec: "true" }] }',
        '- name: restart web servers',
        '  group: Ops Team',
        '  sequence: { commands: [{ exec: "true" }] }',
        '- name: Caller',
        '  options: [{ name: serviceName, value: nginx }]',
        '  sequence:',
        '    commands:',
        '      - jobref: { uuid: u-1, args: "-x y" }',
        '      - jobref: { name: restart web servers, group: Ops Team, nodeStep: true }',
        '      - exec: systemctl restart ${option.serviceName}',
      ].join('\n'),
    );
    expect(r.files.map((f) => f.path)).toEqual([
      'restart-web-servers.yaml',
      'ops-team/ops-team-restart-web-servers.yaml',
      'caller.yaml',
    ]);
    const caller = runbook(r, 'caller');
    expect(caller.steps.map((s) => s.runbook?.name ?? s.run)).toEqual([
      'restart-web-servers',
      'ops-team-restart-web-servers',
      'systemctl restart {{ options.service_name }}',
    ]);
    expect(messages(r, 'skipped')).toContainEqual(
      '11: step 1: job restart-web-servers has no option x; argument left out',
    );
    expect(messages(r, 'changed')).toContainEqual(
      expect.stringMatching(/^8: option serviceName named service_name/),
    );
  });

  it('converts filter strings and include/exclude maps, reporting the rest', () => {
    expect(convertFilter({ filter: 'tags: web+prod name: web.* !name: web-9' })).toEqual({
      filter: { tags: ['web', 'prod'], names: ['web*'], exclude: ['web-9'] },
      skipped: [],
    });
    expect(convertFilter({ filter: 'tags: a,b environment: production' }).filter).toEqual({
      tagsAny: ['a', 'b'],
      attributes: { environment: 'production' },
    });
    expect(
      convertFilter({ include: { name: 'db1,db2' }, exclude: { name: 'db2' } }).filter,
    ).toEqual({
      names: ['db1', 'db2'],
      exclude: ['db2'],
    });
    expect(convertFilter({ filter: 'tags: a+b,c !tags: x name: (a|b)' }).skipped).toHaveLength(3);
  });

  it('turns Quartz schedules into cron, or says why not', () => {
    expect(quartzToCron({ crontab: '0 30 */6 ? Jan Mon *' })).toEqual({
      cron: '0 30 */6 * Jan Mon',
    });
    expect(quartzToCron('0 0 12 ? * 2-6')).toMatchObject({ cron: '0 0 12 * * 1-5' });
    expect(quartzToCron({ time: { hour: '3' }, weekday: { day: '1' } })).toMatchObject({
      cron: '0 0 3 * * 0',
    });
    expect(quartzToCron('0 0 12 L * ?')).toHaveProperty('error');
    expect(quartzToCron('0 0 12 * * ? 2030')).toEqual({ error: 'a year (2030) cannot be kept' });
  });
});

describe('bad input: an error naming file, line and key; no files', () => {
  it.each([
    [
      'broken.yaml',
      '- name: a\n  sequence: [\n',
      /^broken\.yaml:\d+: error file: does not parse: YAML/,
    ],
    [
      'broken.xml',
      '<joblist>\n  <job>\n    <name>x</nam>\n</joblist>',
      /^broken\.xml:3: error file: does not parse: XML/,
    ],
    [
      'map.yaml',
      'name: a\nsequence: {}\n',
      /^map\.yaml:1: error file: a Rundeck job file is a list/,
    ],
    [
      'other.xml',
      '<jobs><job/></jobs>',
      /^other\.xml:1: error file: does not parse: expected a <joblist> root element, found <jobs>/,
    ],
    [
      'keys.yaml',
      job('  sequence: { commands: [{ exec: "true" }] }\n  sheduled: true\n'),
      /^keys\.yaml:4: error job j: unknown key "sheduled"/,
    ],
    [
      'keys.xml',
      '<joblist><job><name>j</name>\n<sequence><command><exec>true</exec></command></sequence>\n<bogus/></job></joblist>',
      /^keys\.xml:3: error job j: unknown key "bogus"/,
    ],
  ])('%s', (file, text, expected) => {
    const r = convert(file, text);
    expect(hasErrors(r)).toBe(true);
    const e = r.findings.find((f) => f.level === 'error')!;
    expect(`${e.source.file}:${e.source.line}: ${e.level} ${e.subject}: ${e.message}`).toMatch(
      expected,
    );
  });
});
