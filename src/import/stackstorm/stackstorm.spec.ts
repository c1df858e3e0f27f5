import { readFileSync } from 'node:fs';
import { parseRunbook } from '../../runbooks/runbook.parser.js';
import { planRunbook } from '../../runbooks/runbook.plan.js';
import { validateOptions } from '../../runbooks/options.js';
import { hasErrors, type Finding, type ImportResult } from '../report.js';
import { RUNBOOK_IMPORTERS } from '../kinds.js';
import { convertStackstorm } from './stackstorm.js';

const DIR = 'test/fixtures/import/stackstorm/';
const fixture = (f: string) => ({ file: DIR + f, text: readFileSync(DIR + f, 'utf8') });
const run = (...files: string[]) => convertStackstorm(files.map(fixture));
const inline = (file: string, text: string, ...more: Array<{ file: string; text: string }>) =>
  convertStackstorm([{ file, text }, ...more]);

/** Each written file parses with the runbook parser `firebreak lint` uses. */
function definitions(r: ImportResult) {
  return r.files.map((f) => {
    const p = parseRunbook(f.path, f.content);
    if (!p.ok) throw new Error(`${f.path} does not lint: ${JSON.stringify(p.problems)}`);
    return p.definition;
  });
}

const find = (r: ImportResult, level: Finding['level'], text: string | RegExp) =>
  r.findings.find(
    (f) =>
      f.level === level &&
      (typeof text === 'string' ? f.message.includes(text) : text.test(f.message)),
  );

/** The command a local or single-node plan runs for the first step, with these option values. */
function command(r: ImportResult, options: Record<string, unknown>, node = 'web-1'): string {
  const def = definitions(r)[0];
  const v = validateOptions(def.options ?? [], options);
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  const plan = planRunbook(def, v.options, [
    { name: node, hostname: node, port: 22, user: 'root', attributes: {}, tags: [] } as never,
  ]);
  return plan.steps[0].actions[0].command!;
}

describe('StackStorm action import', () => {
  it('is registered as the stackstorm runbook importer', () => {
    expect(RUNBOOK_IMPORTERS.stackstorm.convert).toBe(convertStackstorm);
  });

  it('core.echo (local-shell-cmd): a quoted {{ message }} becomes one quoted word; a hostile value stays one literal argument', () => {
    const r = run('core/actions/echo.yaml');
    expect(hasErrors(r)).toBe(false);
    const [def] = definitions(r);
    expect(def.name).toBe('core-echo');
    expect(def.steps[0]).toMatchObject({ on: 'local', run: 'echo {{ options.message }}' });
    expect(def.options).toEqual([
      expect.objectContaining({ name: 'message', type: 'string', required: true }),
    ]);
    expect(command(r, { message: 'x"; rm -rf / #' })).toBe(`echo 'x"; rm -rf / #'`);
    expect(command(r, { message: "it's $(id)" })).toBe(`echo 'it'\\''s $(id)'`);
    const moved = find(r, 'changed', 'moved out of them');
    expect(moved?.source).toMatchObject({ file: DIR + 'core/actions/echo.yaml', line: 16 });
    expect(find(r, 'changed', 'core.echo is runbook core-echo')?.source.line).toBe(6);
  });

  it('linux.rm (remote-shell-cmd): options with types and defaults, the Jinja default of args reported with its line, hosts an option', () => {
    const r = run('linux/actions/rm.yaml');
    expect(hasErrors(r)).toBe(false);
    const [def] = definitions(r);
    expect(def.name).toBe('linux-rm');
    expect(
      def.options?.map((o) => [o.name, o.type, 'default' in o ? o.default : undefined]),
    ).toEqual([
      ['hosts', 'string', undefined],
      ['target', 'string', undefined],
      ['recursive', 'boolean', false],
      ['force', 'boolean', false],
      ['verbose', 'boolean', true],
      ['args', 'string', undefined],
    ]);
    expect(def.targets?.nodes?.names).toEqual(['{{ options.hosts }}']);
    expect(def.steps[0].run).toBe('rm {{ options.args }} {{ options.target }}');
    const jinja = find(r, 'skipped', /default ".*\{% if verbose.*is Jinja/);
    expect(jinja?.source).toMatchObject({ line: 29, path: 'parameters.args.default' });
    expect(command(r, { hosts: 'web-1', target: '/tmp/a b; reboot', args: '' })).toBe(
      `rm '' '/tmp/a b; reboot'`,
    );
  });

  it('linux.traceroute (remote-shell-script): the entry point is a script step given its positional arguments; hosts fixed targets', () => {
    const r = run('linux/actions/traceroute.yaml', 'linux/actions/traceroute.sh');
    expect(hasErrors(r)).toBe(false);
    const [def] = definitions(r);
    expect(def.targets?.nodes?.names).toEqual(['localhost']);
    expect(def.steps[0].interpreter).toBe('/bin/bash');
    const lines = def.steps[0].script!.split('\n');
    expect(lines[0]).toBe('#!/usr/bin/env bash');
    expect(lines[1]).toBe(
      'set -- {{ options.host }} {{ options.hops }} {{ options.queries_to_hop }}',
    );
    expect(def.steps[0].script).toContain(
      readFileSync(DIR + 'linux/actions/traceroute.sh', 'utf8')
        .split('\n')
        .slice(1)
        .join('\n'),
    );
    expect(def.options?.find((o) => o.name === 'hops')).toMatchObject({
      type: 'integer',
      default: 30,
    });
    expect(find(r, 'changed', 'hosts could be changed at run time')?.source.line).toBe(23);
  });

  it('a script whose entry point is not among the inputs is reported by name; nothing is written for it', () => {
    const r = run('linux/actions/check_processes.yaml');
    expect(r.files).toEqual([]);
    const f = find(r, 'skipped', 'checks/check_processes.py was not given');
    expect(f?.source).toMatchObject({ line: 6, path: 'entry_point' });
    // Its enum parameter without a type is still read and reported.
    expect(find(r, 'changed', 'no type: taken as string')?.subject).toBe('search');
  });

  it('remote_sudo (cmd given at run time) is not converted, and says why; sudo is reported', () => {
    const r = run('core/actions/remote_sudo.yaml');
    expect(r.files).toEqual([]);
    expect(find(r, 'skipped', 'the command (cmd) is given when the action runs')?.source.line).toBe(
      7,
    );
    expect(find(r, 'skipped', 'sudo is not converted')?.source.line).toBe(12);
  });

  it('netstat_grep and file_touch (run-remote alias) import and lint', () => {
    const r = run('linux/actions/netstat_grep.yaml', 'linux/actions/file_touch.yaml');
    expect(hasErrors(r)).toBe(false);
    expect(definitions(r).map((d) => d.steps[0].run)).toEqual([
      'for pid in {{ options.pids }}; do netstat -pant | grep $pid; done; exit 0',
      'echo $(date +%s) > {{ options.file }}',
    ]);
    expect(find(r, 'skipped', 'position of the runner parameter cmd: ignored')?.source.line).toBe(
      11,
    );
  });

  it('workflows (action-chain, orquesta, mistral) are reported as not converted, each task named with its line', () => {
    const r = run(
      'linux/actions/diag_loadavg.yaml',
      'linux/actions/workflows/diag_loadavg.yaml',
      'examples/actions/orquesta-sequential.yaml',
      'examples/actions/workflows/orquesta-sequential.yaml',
      'backups/actions/postgres_backup.yaml',
      'backups/actions/workflows/postgres_backup.yaml',
    );
    expect(r.files).toEqual([]);
    expect(hasErrors(r)).toBe(false);
    const tasks = r.findings.filter((f) => / task /.test(f.subject));
    expect(
      tasks.map((t) => `${t.source.file.replace(DIR, '')}:${t.source.line} ${t.message}`),
    ).toEqual([
      'linux/actions/workflows/diag_loadavg.yaml:4 task check_load (linux.check_loadavg) is not converted',
      'linux/actions/workflows/diag_loadavg.yaml:12 task d_state_processes (linux.check_processes) is not converted',
      'linux/actions/workflows/diag_loadavg.yaml:22 task r_state_processes (linux.check_processes) is not converted',
      'linux/actions/workflows/diag_loadavg.yaml:32 task netstat (linux.netstat_grep) is not converted',
      'linux/actions/workflows/diag_loadavg.yaml:40 task lsof (linux.lsof_pids) is not converted',
      'linux/actions/workflows/diag_loadavg.yaml:47 task dump_results (core.local) is not converted',
      'examples/actions/workflows/orquesta-sequential.yaml:15 task task1 (core.echo) is not converted',
      'examples/actions/workflows/orquesta-sequential.yaml:21 task task2 (core.echo) is not converted',
      'examples/actions/workflows/orquesta-sequential.yaml:31 task task3 (core.echo) is not converted',
      'backups/actions/workflows/postgres_backup.yaml:18 task backups.postgres_backup.main (std.noop) is not converted',
      'backups/actions/workflows/postgres_backup.yaml:24 task backups.postgres_backup.date (core.local) is not converted',
      'backups/actions/workflows/postgres_backup.yaml:33 task backups.postgres_backup.read_connection (core.local) is not converted',
      'backups/actions/workflows/postgres_backup.yaml:44 task backups.postgres_backup.mkdir_path (core.local_sudo) is not converted',
      'backups/actions/workflows/postgres_backup.yaml:51 task backups.postgres_backup.postgres_backup (core.local_sudo) is not converted',
      'backups/actions/workflows/postgres_backup.yaml:59 task backups.postgres_backup.postgres_compress (core.local_sudo) is not converted',
      'backups/actions/workflows/postgres_backup.yaml:67 task backups.postgres_backup.postgres_delete_old_files (core.local_sudo) is not converted',
    ]);
    expect(find(r, 'skipped', 'an orquesta workflow is not converted')?.source.line).toBe(5);
  });

  describe('parameters and runner settings', () => {
    const action = (body: string, runner = 'local-shell-cmd') =>
      `name: Restart_Web\npack: ops\nrunner_type: ${runner}\ndescription: restart\n${body}`;

    it('immutable defaults are fixed values (quoted literals, not options); secret → secure; array → list; cwd, env, timeout', () => {
      const r = inline(
        'ops/actions/restart.yaml',
        action(
          [
            'parameters:',
            '  unit:',
            '    type: string',
            '    immutable: true',
            '    default: "nginx; reboot"',
            '  token:',
            '    type: string',
            '    secret: true',
            '    default: abc',
            '  peers:',
            '    type: array',
            '  count:',
            '    type: integer',
            '    minimum: 1',
            '    maximum: 9',
            '  cmd:',
            '    immutable: true',
            '    default: "restart {{ unit }} --peers {{peers}} -n {{count}} -t {{token}}"',
            '  cwd:',
            '    default: /srv/app',
            '  env:',
            '    default: { MODE: "safe mode" }',
            '  timeout:',
            '    default: 120',
          ].join('\n'),
        ),
      );
      expect(hasErrors(r)).toBe(false);
      const [def] = definitions(r);
      expect(def.name).toBe('ops-restart-web');
      expect(def.options?.map((o) => o.name)).toEqual(['token', 'peers', 'count']);
      expect(def.options?.[0]).toMatchObject({ type: 'secure' });
      expect(def.options?.[0]).not.toHaveProperty('default');
      expect(def.options?.[1]).toMatchObject({ type: 'list' });
      expect(def.options?.[2]).toMatchObject({ type: 'integer', min: 1, max: 9 });
      expect(def.timeout).toBe('120s');
      expect(def.steps[0].run).toBe(
        "cd -- '/srv/app' || exit 1\nexport MODE='safe mode'\nrestart 'nginx; reboot' --peers {{ options.peers }} -n {{ options.count }} -t {{ options.token }}",
      );
      expect(find(r, 'skipped', 'a secure option has no default')?.source.line).toBe(13);
      expect(find(r, 'converted', 'unit is a fixed value')).toBeDefined();
      const def2 = command(r, { token: 's3cret', peers: ['a b', 'c'], count: 2 });
      expect(def2).toContain("--peers 'a b' c -n 2 -t ****");
    });

    it('Jinja blocks and filters in cmd: not converted, each piece with its line; no file', () => {
      const r = inline(
        'ops/actions/x.yaml',
        action(
          [
            'parameters:',
            '  force: { type: boolean }',
            '  cmd:',
            '    immutable: true',
            '    default: "run{% if force %} -f{% endif %} {{ name | upper }} {{ st2kv.system.key }}"',
          ].join('\n'),
        ),
      );
      expect(r.files).toEqual([]);
      const pieces = r.findings.filter((f) => f.subject === 'cmd' && f.level === 'skipped');
      expect(pieces.map((p) => [p.source.line, p.message])).toEqual([
        [9, '{% if force %}: a Jinja block: not converted'],
        [9, '{% endif %}: a Jinja block: not converted'],
        [9, '{{ name | upper }}: a Jinja filter: not converted'],
        [
          9,
          '{{ st2kv.system.key }}: a datastore value (st2kv): use a secure option or a credential: not converted',
        ],
      ]);
    });

    it('unknown keys are reported, never dropped; object and unknown types are reported', () => {
      const r = inline(
        'ops/actions/x.yaml',
        action(
          [
            'paramters: {}',
            'parameters:',
            '  data: { type: object, defualt: 1 }',
            '  cmd: { immutable: true, default: "echo {{ data }}" }',
          ].join('\n'),
        ),
      );
      expect(
        find(r, 'skipped', 'unknown key "paramters" (did you mean "parameters"?)')?.source.line,
      ).toBe(5);
      expect(
        find(r, 'skipped', 'unknown key "defualt" (did you mean "default"?)')?.source,
      ).toMatchObject({ line: 7, path: 'parameters.data.defualt' });
      expect(
        find(r, 'changed', 'an object parameter is a string option holding JSON'),
      ).toBeDefined();
      expect(definitions(r)).toHaveLength(1);
    });

    it('a python entry point is fed to python3 on stdin with its arguments, so it still reads sys.argv', () => {
      const py = '#!/usr/bin/env python\nimport sys\nprint(sys.argv[1:])\n';
      const r = inline(
        'ops/actions/x.yaml',
        action(
          [
            'entry_point: x.py',
            'parameters:',
            '  a: { type: string, position: 0 }',
            '  b: { type: string }',
          ].join('\n'),
          'local-shell-script',
        ),
        { file: 'ops/actions/x.py', text: py },
      );
      expect(hasErrors(r)).toBe(false);
      const [def] = definitions(r);
      expect(def.steps[0].script).toBe(
        `set -- {{ options.a }} --b={{ options.b }}\nexec python3 - "$@" <<'FIREBREAK_SCRIPT'\n${py}FIREBREAK_SCRIPT\n`,
      );
      expect(command(r, { a: '$(reboot)', b: 'x y' })).toContain(`set -- '$(reboot)' --b='x y'`);
      expect(find(r, 'changed', 'no position, passed as --NAME=VALUE')).toBeDefined();
    });

    it('bad input: YAML that does not parse, a file that is not an action: errors naming file and line', () => {
      const r = convertStackstorm([
        { file: 'a.yaml', text: 'name: x\nrunner_type: [\n' },
        { file: 'b.yaml', text: 'just: data\n' },
      ]);
      expect(hasErrors(r)).toBe(true);
      expect(r.files).toEqual([]);
      expect(
        r.findings
          .filter((f) => f.level === 'error')
          .map((f) => `${f.source.file}:${f.source.line}`),
      ).toEqual([expect.stringMatching(/^a\.yaml:\d+$/), 'b.yaml:1']);
      expect(find(r, 'error', 'not StackStorm action metadata')?.source.file).toBe('b.yaml');
    });

    it('other runners are reported by name', () => {
      const r = inline(
        'p/actions/x.yaml',
        'name: x\nrunner_type: python-script\nentry_point: x.py\n',
      );
      expect(r.files).toEqual([]);
      expect(find(r, 'skipped', 'runner "python-script" is not converted')?.source.line).toBe(2);
    });
  });
});
