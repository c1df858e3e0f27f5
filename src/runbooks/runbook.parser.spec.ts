import { checkReferences, type ParsedRunbook } from './runbook-references.js';
import { stepRetry } from './runbook.schema.js';
import {
  MAX_RUNBOOK_BYTES,
  parseRunbook,
  type ParseResult,
  type RunbookProblem,
} from './runbook.parser.js';

const FILE = 'runbooks/restart-service.yaml';

interface Parts {
  name?: string;
  /** diagnostic or remediation (anything else, to test the schema). */
  kind?: string;
  /** Extra top-level lines after kind. */
  head?: string[];
  /** Lines under `options:` (indented by the caller). */
  options?: string[];
  /** Lines under `steps:`; a single `restart` step by default. */
  steps?: string[];
  /** Extra top-level lines after the steps. */
  tail?: string[];
}

/** A runbook's YAML text, line by line, so that tests can say where things are. */
const runbook = (p: Parts = {}): string =>
  [
    `name: ${p.name ?? 'restart-service'}`,
    'description: Restart a systemd service',
    `kind: ${p.kind ?? 'remediation'}`,
    ...(p.head ?? []),
    ...(p.options ? ['options:', ...p.options] : []),
    'steps:',
    ...(p.steps ?? ['  - name: restart', '    run: systemctl restart nginx']),
    ...(p.tail ?? []),
  ].join('\n') + '\n';

/** 1-based line and column of the first occurrence of `needle` (after `from`, if given). */
const where = (text: string, needle: string, from?: string): { line: number; col: number } => {
  const start = from === undefined ? 0 : text.indexOf(from);
  const at = text.indexOf(needle, start);
  if (start < 0 || at < 0) throw new Error(`${needle} not in text`);
  const before = text.slice(0, at).split('\n');
  return { line: before.length, col: before[before.length - 1].length + 1 };
};

const ok = (text: string) => {
  const r = parseRunbook(FILE, text);
  if (!r.ok) throw new Error(`expected a valid runbook, got ${JSON.stringify(r.problems)}`);
  return r.definition;
};

const problems = (text: string): RunbookProblem[] => {
  const r: ParseResult = parseRunbook(FILE, text);
  if (r.ok) throw new Error('expected problems, the runbook parsed');
  expect(r.definition).toBeUndefined();
  return r.problems;
};

/** The one problem of a runbook. */
const problem = (text: string): RunbookProblem => {
  const p = problems(text);
  expect(p).toHaveLength(1);
  return p[0];
};

const messages = (text: string) => problems(text).map((p) => p.message);
/** `text` has one problem: at `path`, saying `message`, at the line and column of `near`. */
const expectProblem = (text: string, path: string, message: string, near: string, from?: string) =>
  expect(problem(text)).toMatchObject({ path, message, ...where(text, near, from) });

describe('parseRunbook', () => {
  describe('a valid runbook', () => {
    const text = runbook({
      head: [
        'tags: [web, nginx]',
        'access:',
        '  run: [operator, sre-team]',
        '  approve: [user:alice]',
        'targets:',
        '  nodes:',
        '    tags: [web]',
        '    exclude: [web-canary-*]',
        '  strategy: rolling',
        '  batchSize: 2',
        'approval:',
        '  when: node.attributes.environment == "production"',
        '  approvers: [admin]',
      ],
      options: [
        '  - name: service',
        '    type: string',
        '    pattern: "[a-z0-9@._-]+"',
        '    required: true',
        '  - name: count',
        '    type: integer',
        '    default: 3',
        '    min: 1',
        '    max: 10',
        '  - name: token',
        '    type: secure',
        '  - name: hosts',
        '    type: list',
        '    default: [a, b]',
      ],
      steps: [
        '  - name: version',
        '    run: nginx -v {{ options.service }} {{ options.hosts }}',
        '    capture:',
        '      version:',
        '        regex: "nginx/([0-9.]+)"',
        '  - name: notify',
        '    http:',
        '      method: POST',
        '      url: https://hooks.example/{{ options.service }}',
        '      headers:',
        '        Authorization: Bearer {{ options.token }}',
        '      json:',
        '        version: "{{ steps.version.captures.version }}"',
        '        count: "{{ options.count }}"',
        '  - name: restart',
        '    run: systemctl restart {{ options.service }} # on {{ node.name }}',
        '    when: steps.version.captures.version != "" and options.count > 1',
        '    timeout: 30s',
        '    retry: { attempts: 3, delay: 5s }',
        '  - name: health',
        '    check:',
        '      http:',
        '        url: https://{{ options.service }}.example/health',
        '      expect:',
        '        status: [200]',
        '        stdout: "ok|healthy"',
      ],
      tail: [
        'onError:',
        '  - name: rollback',
        '    run: systemctl start {{ options.service }} --from {{ steps.version.captures.version }}',
      ],
    });

    it('parses, with the typed definition', () => {
      const def = ok(text);
      expect(def.name).toBe('restart-service');
      expect(def.kind).toBe('remediation');
      expect(def.options?.map((o) => [o.name, o.type])).toEqual([
        ['service', 'string'],
        ['count', 'integer'],
        ['token', 'secure'],
        ['hosts', 'list'],
      ]);
      expect(def.steps.map((s) => s.name)).toEqual(['version', 'notify', 'restart', 'health']);
      expect(def.steps[2].retry).toEqual({ attempts: 3, delay: '5s' });
      expect(def.onError?.[0].name).toBe('rollback');
      expect(def.targets?.nodes).toEqual({ tags: ['web'], exclude: ['web-canary-*'] });
    });

    it('returns no problems', () => {
      expect(parseRunbook(FILE, text)).toMatchObject({ ok: true, problems: [] });
    });

    it('parses the smallest runbook', () => {
      expect(ok(runbook()).steps).toEqual([{ name: 'restart', run: 'systemctl restart nginx' }]);
    });

    it('accepts a diagnostic runbook with a trigger', () => {
      const def = ok(
        runbook({
          kind: 'diagnostic',
          options: ['  - name: instance', '    type: string'],
          tail: [
            'triggers:',
            '  - alert:',
            '      match:',
            '        alertname: HighLatency',
            '        severity: /^(critical|page)$/',
            '    options:',
            '      instance: "{{ alert.labels.instance }}"',
          ],
        }),
      );
      expect(def.triggers).toHaveLength(1);
    });
  });

  describe('YAML', () => {
    it('reports a syntax error with its line and column', () => {
      const text = runbook({ steps: ['  - name: restart', '    run: @reboot'] });
      expect(problem(text)).toEqual({
        file: FILE,
        path: '',
        ...where(text, '@reboot'),
        message: 'YAML: Plain value cannot start with reserved character @',
      });
      expect(where(text, '@reboot')).toEqual({ line: 6, col: 10 });
    });

    it('reports a nested compact mapping where it is, not at 1:1', () => {
      const text = runbook({ steps: ['  - name: restart', '    run: echo: hi'] });
      expect(problem(text)).toMatchObject({
        line: 6,
        col: 10,
        message: 'YAML: Nested mappings are not allowed in compact mappings',
      });
    });

    it('reports an unterminated quote after the line it opens on', () => {
      const text = runbook({ steps: ['  - name: restart', '    run: "unterminated'] });
      const p = problems(text);
      expect(p[0].message).toMatch(/^YAML: /);
      expect(p[0].line).toBeGreaterThanOrEqual(where(text, '"unterminated').line);
    });

    it('reports a duplicate key at the duplicate', () => {
      const text = runbook({ head: ['name: again'] });
      expect(problem(text)).toEqual({
        file: FILE,
        path: '',
        ...where(text, 'name: again'),
        message: 'YAML: Map keys must be unique',
      });
    });

    it('reports duplicate keys inside a step', () => {
      const text = runbook({ steps: ['  - name: a', '    run: x', '    run: y'] });
      expect(problem(text)).toMatchObject({
        message: 'YAML: Map keys must be unique',
        ...where(text, 'run: y'),
      });
    });

    it.each([
      ['a list', '- a\n- b\n'],
      ['a scalar', 'just text\n'],
      ['an empty file', ''],
      ['a comment only', '# nothing\n'],
      ['null', 'null\n'],
    ])('rejects %s as the document', (_label, text) => {
      expect(problem(text)).toEqual({
        file: FILE,
        path: '',
        line: 1,
        col: 1,
        message: 'a runbook is a YAML mapping with name, description, kind and steps',
      });
    });

    it('reports an alias bomb as a problem instead of throwing', () => {
      const text = [
        'a: &a [x, x, x, x, x, x, x, x, x, x]',
        'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
        'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
        'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
      ].join('\n');
      expect(() => parseRunbook(FILE, text)).not.toThrow();
      expect(problem(text).message).toMatch(/^YAML: .*alias/i);
    });

    it('reports an undefined alias', () => {
      expect(problems(runbook({ head: ['tags: *nope'] }))[0].message).toMatch(/^YAML: /);
    });

    it('rejects a file over 256 KiB without parsing it', () => {
      const big = runbook({ tail: [`# ${'x'.repeat(MAX_RUNBOOK_BYTES)}`] });
      expect(problem(big)).toEqual({
        file: FILE,
        path: '',
        line: 1,
        col: 1,
        message: 'file is larger than 256 KiB',
      });
    });

    it('counts bytes, not characters, against the limit', () => {
      const chars = Math.ceil(MAX_RUNBOOK_BYTES / 3);
      const text = runbook({ head: [`# ${'€'.repeat(chars)}`] });
      expect(text.length).toBeLessThan(MAX_RUNBOOK_BYTES);
      expect(problem(text).message).toBe('file is larger than 256 KiB');
    });

    it('accepts a file just under the limit', () => {
      const small = runbook();
      const pad = MAX_RUNBOOK_BYTES - Buffer.byteLength(small) - 3;
      expect(ok(`${small}# ${'x'.repeat(pad)}\n`).name).toBe('restart-service');
    });
  });

  describe('schema', () => {
    it('reports an unknown top-level key with a suggestion, at the key', () => {
      const text = runbook({ head: ['descripton: typo'] });
      expect(problem(text)).toEqual({
        file: FILE,
        path: 'descripton',
        ...where(text, 'descripton'),
        message: 'unknown key "descripton" (did you mean "description"?)',
      });
      expect(where(text, 'descripton')).toEqual({ line: 4, col: 1 });
    });

    it('reports an unknown step key with a suggestion, at the key', () => {
      const text = runbook({
        steps: ['  - name: restart', '    run: systemctl restart nginx', '    timeot: 30s'],
      });
      expect(problem(text)).toEqual({
        file: FILE,
        path: 'steps[0].timeot',
        line: 7,
        col: 5,
        message: 'unknown key "timeot" (did you mean "timeout"?)',
      });
    });

    it('explains what a step needs when an unknown key is nothing like a known one', () => {
      const text = runbook({ steps: ['  - name: restart', '    execute_this_command: x'] });
      expect(problem(text).message).toBe(
        'unknown key "execute_this_command" (a step has a name and one of run, script, http, check, approval, runbook, sleep)',
      );
    });

    it('reports unknown keys in targets and node filters with suggestions', () => {
      const text = runbook({
        head: ['targets:', '  stratgy: rolling', '  nodes:', '    tag: [web]'],
      });
      expect(messages(text)).toEqual([
        'unknown key "stratgy" (did you mean "strategy"?)',
        'unknown key "tag" (did you mean "tags"?)',
      ]);
    });

    it('reports a missing required field', () => {
      const text = [
        'name: restart-service',
        'kind: remediation',
        'steps:',
        '  - name: a',
        '    run: x',
      ].join('\n');
      expect(problem(text)).toMatchObject({ path: 'description', message: 'is required' });
    });

    it('reports missing steps and a missing step name', () => {
      expect(messages('name: restart-service\ndescription: d\nkind: remediation\n')).toEqual([
        'is required',
      ]);
      const text = runbook({ steps: ['  - run: x'] });
      expect(problem(text)).toMatchObject({ path: 'steps[0].name', message: 'is required' });
    });

    it('suggests the option type for a misspelled one, at the value', () => {
      const text = runbook({ options: ['  - name: count', '    type: integr'] });
      expect(problem(text)).toEqual({
        file: FILE,
        path: 'options[0].type',
        ...where(text, 'integr'),
        message:
          'unknown option type "integr" (did you mean "integer"?); expected one of string, integer, number, boolean, enum, list, secure',
      });
    });

    it('reports an option type that is not a string', () => {
      const text = runbook({ options: ['  - name: count', '    type: 5'] });
      expect(problem(text).message).toBe(
        'expected an option type: string, integer, number, boolean, enum, list, secure',
      );
    });

    it('reports a key that exists but not for the option type, without a silly suggestion', () => {
      const text = runbook({
        options: ['  - name: count', '    type: integer', '    pattern: "[0-9]+"'],
      });
      expectProblem(
        text,
        'options[0].pattern',
        '"pattern" is not allowed for options of type integer',
        'pattern',
      );
    });

    it('rejects a secure option with a default (no secret in the runbook)', () => {
      const text = runbook({
        options: ['  - name: token', '    type: secure', '    default: hunter2'],
      });
      const p = problem(text);
      expect(p).toMatchObject({ path: 'options[0].default', ...where(text, 'default') });
      expect(p.message).toBe('"default" is not allowed for options of type secure');
      expect(p.message).not.toContain('hunter2');
    });

    it.each([
      ['a bad runbook name', { name: 'Restart_Service' }, 'name'],
      ['a bad kind', { kind: 'destructive' }, 'kind'],
      [
        'a bad duration',
        { steps: ['  - name: a', '    run: x', '    timeout: 5 minutes'] },
        'steps[0].timeout',
      ],
      ['a bad step name', { steps: ['  - name: Restart Now', '    run: x'] }, 'steps[0].name'],
      ['no steps', { steps: ['  []'] }, 'steps'],
    ] as Array<[string, Parts, string]>)('reports %s at its path', (_label, parts, path) => {
      expect(problem(runbook(parts)).path).toBe(path);
    });
  });

  describe('meaning', () => {
    it('reports a duplicate step name at the second one', () => {
      const text = runbook({
        steps: ['  - name: restart', '    run: a', '  - name: restart', '    run: b'],
      });
      expect(problem(text)).toEqual({
        file: FILE,
        path: 'steps[1].name',
        ...where(text, 'restart', 'run: a'),
        message: 'duplicate step name "restart"',
      });
    });

    it('reports an onError step named like a main step', () => {
      const text = runbook({ tail: ['onError:', '  - name: restart', '    run: x'] });
      expect(problem(text)).toMatchObject({
        path: 'onError[0].name',
        message: 'duplicate step name "restart"',
      });
    });

    it('reports a duplicate option name at the second one', () => {
      const text = runbook({
        options: ['  - name: svc', '    type: string', '  - name: svc', '    type: integer'],
      });
      expectProblem(text, 'options[1].name', 'duplicate option name "svc"', 'svc', 'type: string');
    });

    it('reports a step with two kinds', () => {
      const text = runbook({ steps: ['  - name: both', '    run: x', '    sleep: 5s'] });
      expectProblem(text, 'steps[0]', 'step has run and sleep: choose one', 'name: both');
    });

    it('reports a step with no kind', () => {
      const text = runbook({ steps: ['  - name: nothing', '    timeout: 5s'] });
      expect(problem(text)).toMatchObject({
        path: 'steps[0]',
        message: 'step needs one of run, script, http, check, approval, runbook, sleep',
      });
    });

    it('lets later steps read the choice of an approval step, and nothing else as a choice', () => {
      const gate = [
        '  - name: gate',
        '    approval:',
        '      message: Roll back?',
        '      choices: [continue, rollback]',
      ];
      const ok = parseRunbook(
        FILE,
        runbook({
          steps: [
            ...gate,
            '  - name: undo',
            '    when: steps.gate.choice == "rollback"',
            '    run: x',
          ],
        }),
      );
      expect(ok.ok, JSON.stringify(ok)).toBe(true);
      const early = runbook({
        steps: [
          '  - name: undo',
          '    when: steps.gate.choice == "rollback"',
          '    run: x',
          ...gate,
        ],
      });
      expect(problem(early)).toMatchObject({
        path: 'steps[0].when',
        message: 'steps.gate.choice: no earlier approval step named "gate" with choices',
      });
      const twice = runbook({
        steps: ['  - name: gate', '    approval:', '      message: m', '      choices: [a, a]'],
      });
      expect(problem(twice)).toMatchObject({
        path: 'steps[0].approval.choices',
        message: 'choices must be different from each other',
      });
      const inOnError = runbook({
        tail: ['onError:', '  - name: ask', '    approval:', '      message: m'],
      });
      expect(problem(inOnError)).toMatchObject({
        path: 'onError[0].approval',
        message: 'an approval step cannot run in onError: the run has already failed',
      });
    });

    it('reports a reference to an undefined option, on its line', () => {
      const text = runbook({
        options: ['  - name: service', '    type: string'],
        steps: [
          '  - name: a',
          '    run: echo {{ options.service }}',
          '  - name: b',
          '    run: echo {{ options.nope }}',
        ],
      });
      expect(problem(text)).toEqual({
        file: FILE,
        path: 'steps[1].run',
        ...where(text, 'echo {{ options.nope'),
        message: 'options.nope: no option named "nope"',
      });
    });

    it('reports a capture referenced before the step that defines it', () => {
      const text = runbook({
        steps: [
          '  - name: use',
          '    run: deploy {{ steps.probe.captures.version }}',
          '  - name: probe',
          '    run: cat VERSION',
          '    capture:',
          '      version: { line: 1 }',
        ],
      });
      expect(problem(text)).toMatchObject({
        path: 'steps[0].run',
        line: where(text, 'deploy').line,
        message: 'steps.probe.captures.version: no earlier step named "probe"',
      });
    });

    it('reports a step referencing its own capture', () => {
      const text = runbook({
        steps: [
          '  - name: probe',
          '    run: x {{ steps.probe.captures.v }}',
          '    capture:',
          '      v: { line: 1 }',
        ],
      });
      expect(problem(text).message).toBe('steps.probe.captures.v: no earlier step named "probe"');
    });

    it('reports a capture the earlier step does not declare', () => {
      const text = runbook({
        steps: [
          '  - name: probe',
          '    run: cat VERSION',
          '    capture:',
          '      version: { line: 1 }',
          '  - name: use',
          '    run: deploy {{ steps.probe.captures.sha }}',
        ],
      });
      expect(problem(text)).toMatchObject({
        path: 'steps[1].run',
        message: 'steps.probe.captures.sha: step "probe" captures no "sha"',
      });
    });

    it('lets onError steps use captures of the main steps', () => {
      ok(
        runbook({
          steps: ['  - name: probe', '    run: x', '    capture:', '      v: { line: 1 }'],
          tail: ['onError:', '  - name: undo', '    run: y {{ steps.probe.captures.v }}'],
        }),
      );
    });

    it('reports node.* in an on: local step', () => {
      const text = runbook({
        steps: ['  - name: a', '    on: local', '    run: echo {{ node.name }}'],
      });
      expect(problem(text)).toMatchObject({
        path: 'steps[0].run',
        message: 'node.name: node.* is only available in steps that run on target nodes',
      });
    });

    it('reports node.* in http steps and http checks, which run locally by default', () => {
      const text = runbook({
        steps: [
          '  - name: a',
          '    http:',
          '      url: https://x.example/{{ node.name }}',
          '  - name: b',
          '    check:',
          '      http:',
          '        url: https://{{ node.hostname }}/health',
          '      expect:',
          '        status: [200]',
        ],
      });
      expect(problems(text).map((p) => p.path)).toEqual([
        'steps[0].http.url',
        'steps[1].check.http.url',
      ]);
    });

    it('allows node.* in a check that runs a command on the targets', () => {
      ok(
        runbook({
          steps: [
            '  - name: a',
            '    check:',
            '      run: curl -fsS http://{{ node.hostname }}:8080/health',
            '      expect:',
            '        exitCode: 0',
          ],
        }),
      );
    });

    it.each([
      ["'{{ options.service }}'", 'single'],
      ['"{{ options.service }}"', 'double'],
    ])('reports a template inside %s quotes in a run command', (quoted) => {
      const text = runbook({
        options: ['  - name: service', '    type: string'],
        steps: ['  - name: a', `    run: systemctl restart ${quoted}`],
      });
      expect(problem(text)).toMatchObject({
        path: 'steps[0].run',
        message:
          '{{ options.service }} is inside quotes: Firebreak quotes every value as one word itself, remove the quotes around it',
      });
    });

    it('reports a template inside quotes in a script and in a check command', () => {
      const text = runbook({
        options: ['  - name: service', '    type: string'],
        steps: [
          '  - name: a',
          '    script: |',
          '      echo "service: {{ options.service }}"',
          '  - name: b',
          '    check:',
          "      run: test '{{ options.service }}' = x",
          '      expect: { exitCode: 0 }',
        ],
      });
      expect(problems(text).map((p) => p.path)).toEqual(['steps[0].script', 'steps[1].check.run']);
    });

    it('reports a template escaped with a backslash in a run command', () => {
      const text = runbook({
        options: ['  - name: service', '    type: string'],
        steps: ['  - name: a', '    run: echo \\{{ options.service }}'],
      });
      expect(problem(text)).toMatchObject({
        path: 'steps[0].run',
        message: expect.stringMatching(
          /^\\\{\{ options\.service \}\}: a backslash before a template/,
        ),
      });
    });

    it('allows quotes in http URLs and messages, which are not shell', () => {
      ok(
        runbook({
          options: ['  - name: service', '    type: string'],
          steps: [
            '  - name: a',
            `    approval:`,
            `      message: Restart '{{ options.service }}'?`,
          ],
        }),
      );
    });

    it('reports a template that is code, not a reference', () => {
      const text = runbook({ steps: ['  - name: a', '    run: echo {{ process.exit() }}'] });
      expect(problem(text).message).toBe(
        '{{ process.exit() }} is not a value reference: templates hold a path such as options.name, never code',
      );
    });

    it('reports an unclosed template', () => {
      expect(messages(runbook({ steps: ['  - name: a', '    run: echo {{ options.x'] }))).toEqual([
        'unclosed {{ (expected }})',
      ]);
    });

    it('reports an invalid when condition with its character', () => {
      const text = runbook({
        options: ['  - name: force', '    type: boolean'],
        steps: ['  - name: a', '    run: x', '    when: options.force == true ; reboot'],
      });
      expectProblem(
        text,
        'steps[0].when',
        'condition: unexpected character ";" at character 23',
        'options.force ==',
      );
    });

    it('reports undefined names in a when condition', () => {
      const text = runbook({ steps: ['  - name: a', '    run: x', '    when: options.nope'] });
      expect(problem(text).message).toBe('options.nope: no option named "nope"');
    });

    it('checks approval.when: node and options yes, steps no', () => {
      const text = runbook({
        head: ['approval:', '  when: node.attributes.env == "prod" or steps.a.captures.b == "x"'],
      });
      expect(problem(text)).toMatchObject({
        path: 'approval.when',
        message: 'steps.a.captures.b: no earlier step named "a"',
      });
      expect(problem(runbook({ head: ['approval:', '  when: "(("'] })).message).toMatch(
        /^condition: /,
      );
    });

    it('rejects node.* in targets.nodes.names (chosen before any node)', () => {
      const text = runbook({ head: ['targets:', '  nodes:', '    names: ["{{ node.name }}"]'] });
      expect(problem(text)).toMatchObject({
        path: 'targets.nodes.names[0]',
        message: 'node.name: node.* is only available in steps that run on target nodes',
      });
    });

    it('reports a bad regular expression in an option pattern', () => {
      const text = runbook({
        options: ['  - name: s', '    type: string', '    pattern: "([a-z"'],
      });
      expectProblem(
        text,
        'options[0].pattern',
        expect.stringMatching(/^invalid regular expression: /),
        '"([a-z"',
      );
    });

    it('reports a bad regular expression in a capture and in check.expect.stdout', () => {
      const text = runbook({
        steps: [
          '  - name: a',
          '    run: x',
          '    capture:',
          '      v: { regex: "(unclosed" }',
          '  - name: b',
          '    check:',
          '      run: y',
          '      expect: { stdout: "[z-a]" }',
        ],
      });
      expect(problems(text).map((p) => [p.path, p.message.split(':')[0]])).toEqual([
        ['steps[0].capture.v.regex', 'invalid regular expression'],
        ['steps[1].check.expect.stdout', 'invalid regular expression'],
      ]);
    });

    it('reports a default that violates the option pattern', () => {
      const text = runbook({
        options: [
          '  - name: s',
          '    type: string',
          '    pattern: "[a-z]+"',
          '    default: "Nginx;x"',
        ],
      });
      expectProblem(text, 'options[0].default', 'default must match [a-z]+', '"Nginx;x"');
    });

    it('reports a default outside min and max, and min greater than max', () => {
      expect(
        messages(
          runbook({
            options: ['  - name: n', '    type: integer', '    max: 5', '    default: 9'],
          }),
        ),
      ).toEqual(['default must be at most 5']);
      expect(
        messages(
          runbook({ options: ['  - name: n', '    type: integer', '    min: 5', '    max: 1'] }),
        ),
      ).toEqual(['min (5) is greater than max (1)']);
    });

    it('reports an enum default that is not a value', () => {
      const text = runbook({
        options: ['  - name: e', '    type: enum', '    values: [a, b]', '    default: c'],
      });
      expect(problem(text).message).toBe('default must be one of a, b');
    });

    it.each([
      'Authorization',
      'authorization',
      'X-Api-Key',
      'Cookie',
      'X-Auth-Token',
      'Client-Secret',
    ])('rejects a literal %s header (a secret in the runbook)', (header) => {
      const text = runbook({
        steps: [
          '  - name: a',
          '    http:',
          '      url: https://x.example',
          '      headers:',
          `        ${header}: Bearer abc123`,
        ],
      });
      expectProblem(
        text,
        `steps[0].http.headers.${header}`,
        `a literal ${header} header puts a secret in the runbook: take it from a secure option instead`,
        'Bearer abc123',
      );
    });

    it('rejects a literal Authorization header in an http check', () => {
      const text = runbook({
        steps: [
          '  - name: a',
          '    check:',
          '      http:',
          '        url: https://x.example',
          '        headers: { Authorization: Basic dXNlcjpwYXNz }',
          '      expect: { status: [200] }',
        ],
      });
      expect(problem(text).path).toBe('steps[0].check.http.headers.Authorization');
    });

    it('accepts a templated Authorization header and ordinary literal headers', () => {
      ok(
        runbook({
          options: ['  - name: token', '    type: secure'],
          steps: [
            '  - name: a',
            '    http:',
            '      url: https://x.example',
            '      headers:',
            '        Authorization: Bearer {{ options.token }}',
            '        Accept: application/json',
          ],
        }),
      );
    });

    it('rejects triggers on a remediation runbook unless the trigger opts in', () => {
      const text = runbook({
        tail: ['triggers:', '  - alert:', '      match: { alertname: Down }'],
      });
      expect(problem(text)).toMatchObject({
        path: 'triggers[0]',
        message:
          'only diagnostic runbooks run automatically from alerts; a remediation opts in with autoRun: true (still held for its approval)',
      });
      const optedIn = runbook({
        tail: ['triggers:', '  - alert:', '      match: { alertname: Down }', '    autoRun: true'],
      });
      expect(ok(optedIn).triggers?.[0].autoRun).toBe(true);
    });

    it("parses a trigger's own storm limit and names a bad one's field", () => {
      const storm = (lines: string[]) =>
        runbook({
          kind: 'diagnostic',
          tail: [
            'triggers:',
            '  - alert:',
            '      match: { alertname: Down }',
            '    storm:',
            ...lines,
          ],
        });
      expect(ok(storm(['      runs: 5', '      window: 15m'])).triggers?.[0].storm).toEqual({
        runs: 5,
        window: '15m',
      });
      expect(problem(storm(['      runs: 5', '      window: 2s'])).path).toBe(
        'triggers[0].storm.window',
      );
      expect(problem(storm(['      runs: 5', '      window: 1500ms'])).message).toMatch(
        /whole seconds from 10s to 24h/,
      );
      expect(problem(storm(['      runs: 0', '      window: 15m'])).path).toBe(
        'triggers[0].storm.runs',
      );
      // A misspelt field: named, and the missing one too.
      const typo = problems(storm(['      runs: 5', '      windows: 15m']));
      expect(typo.length).toBeGreaterThan(0);
      for (const p of typo) expect(p.path).toMatch(/^triggers\[0\]\.storm/);
    });

    it('checks trigger options, templates and label regexes', () => {
      const text = runbook({
        kind: 'diagnostic',
        options: ['  - name: instance', '    type: string'],
        tail: [
          'triggers:',
          '  - alert:',
          '      match: { severity: "/(crit/" }',
          '    options:',
          '      instanse: x',
          '      instance: "{{ options.instance }}"',
        ],
      });
      expect(messages(text)).toEqual([
        expect.stringMatching(/^invalid regular expression: /),
        'no option named "instanse" (did you mean "instance"?)',
        'options.instance: no option named "instance"',
      ]);
    });

    it('reports interpreter, capture and on: where they do not apply', () => {
      const text = runbook({
        steps: [
          '  - name: a',
          '    run: x',
          '    interpreter: /bin/bash',
          '  - name: b',
          '    sleep: 5s',
          '    on: local',
          '    capture:',
          '      v: { line: 1 }',
        ],
      });
      expect(messages(text)).toEqual([
        'interpreter applies only to script steps',
        'on: applies to run, script, http and check steps',
        'a sleep step has no output to capture',
      ]);
    });

    it('accepts rolling health gates: percentage batch size, maxFailures and a between check', () => {
      const def = ok(
        runbook({
          head: [
            'targets:',
            '  strategy: rolling',
            "  batchSize: '25%'",
            "  maxFailures: '10%'",
            '  between:',
            '    name: healthy',
            '    retry: { attempts: 3, delay: 1s }',
            '    check:',
            '      run: systemctl is-active nginx',
            '      expect: { exitCode: 0 }',
          ],
        }),
      );
      expect(def.targets).toMatchObject({ batchSize: '25%', maxFailures: '10%' });
      expect(def.targets?.between?.check?.run).toBe('systemctl is-active nginx');
    });

    it('refuses a between gate that is not a check or runbook step, at its line', () => {
      const text = runbook({
        head: [
          'targets:',
          '  strategy: rolling',
          '  between:',
          '    name: gate',
          '    run: echo ok',
        ],
      });
      expectProblem(
        text,
        'targets.between',
        'between is a gate: a check or runbook step, not a run step',
        'name: gate',
      );
    });

    it('refuses between and maxFailures without batches, and a malformed batch size', () => {
      const text = runbook({
        head: [
          'targets:',
          "  batchSize: '0%'",
          '  maxFailures: 1',
          '  between:',
          '    name: gate',
          '    check: { run: echo ok, expect: { exitCode: 0 } }',
        ],
      });
      expect(messages(text)).toEqual([
        'expected a percentage from 1% to 100%, such as 25%',
        'maxFailures counts between batches: set strategy rolling or sequential',
        'between runs between batches: set strategy rolling or sequential',
      ]);
      expect(messages(runbook({ head: ['targets:', "  maxFailures: 'many'"] }))).toEqual([
        'expected a count or a percentage such as 10%',
      ]);
    });

    it('checks the templates of a between gate like a step', () => {
      const text = runbook({
        head: [
          'targets:',
          '  strategy: rolling',
          '  between:',
          '    name: gate',
          '    check:',
          "      run: 'echo {{ options.nope }}'",
          '      expect: { exitCode: 0 }',
        ],
      });
      expect(problem(text)).toMatchObject({ path: 'targets.between.check.run' });
    });

    it('reports a check with both run and http', () => {
      const text = runbook({
        steps: [
          '  - name: a',
          '    check:',
          '      run: x',
          '      http: { url: https://x.example }',
          '      expect: {}',
        ],
      });
      expect(problem(text).message).toBe('a check has exactly one of run or http');
    });

    it('reports every problem, sorted by line', () => {
      const text = runbook({
        options: ['  - name: a', '    type: string', '  - name: a', '    type: string'],
        steps: [
          '  - name: s1',
          '    run: echo {{ options.zz }}',
          '  - name: s1',
          "    run: echo '{{ options.a }}'",
          '    when: options.a ==',
        ],
        tail: ['triggers:', '  - alert: { match: { a: b } }'],
      });
      const p = problems(text);
      expect(p.map((x) => x.path)).toEqual([
        'options[1].name',
        'steps[0].run',
        'steps[1].name',
        'steps[1].run',
        'steps[1].when',
        'triggers[0]',
      ]);
      const lines = p.map((x) => x.line);
      expect(lines).toEqual([...lines].sort((a, b) => a - b));
      expect(new Set(p.map((x) => x.file))).toEqual(new Set([FILE]));
    });

    it('sorts schema problems by line too', () => {
      const text = runbook({
        head: ['descripton: x'],
        steps: ['  - name: a', '    run: x', '    timeot: 5s'],
        tail: ['onEror: []'],
      });
      expect(problems(text).map((p) => p.path)).toEqual([
        'descripton',
        'steps[0].timeot',
        'onEror',
      ]);
    });
  });
});

describe('checkReferences', () => {
  const parsed = (file: string, name: string, calls: string[] = [], onError: string[] = []) => {
    const steps = (list: string[], prefix: string) =>
      list.length
        ? list.flatMap((target, i) => [
            `  - name: ${prefix}${i}`,
            '    runbook:',
            `      name: ${target}`,
          ])
        : [];
    const text = runbook({
      name,
      steps: calls.length ? steps(calls, 'call') : undefined,
      tail: onError.length ? ['onError:', ...steps(onError, 'undo')] : [],
    });
    const definition = ok(text);
    return { file, text, definition } satisfies ParsedRunbook;
  };

  it('accepts runbooks that call existing ones', () => {
    const problems = checkReferences(
      [parsed('a.yaml', 'rb-a', ['rb-b']), parsed('b.yaml', 'rb-b')],
      new Set(),
    );
    expect(problems.size).toBe(0);
  });

  it('accepts a call to a runbook that exists only in the stored set', () => {
    expect(
      checkReferences([parsed('a.yaml', 'rb-a', ['rb-stored'])], new Set(['rb-stored'])).size,
    ).toBe(0);
  });

  it('reports a call to an unknown runbook, at the name', () => {
    const rb = parsed('a.yaml', 'rb-a', ['rb-gone']);
    const problems = checkReferences([rb], new Set(['rb-other']));
    expect([...problems.keys()]).toEqual(['rb-a']);
    expect(problems.get('rb-a')).toEqual([
      {
        file: 'a.yaml',
        path: 'steps[0].runbook.name',
        ...where(rb.text, 'rb-gone'),
        message: 'no runbook named "rb-gone"',
      },
    ]);
  });

  it('checks calls in onError too', () => {
    const problems = checkReferences([parsed('a.yaml', 'rb-a', [], ['rb-gone'])], new Set());
    expect(problems.get('rb-a')?.[0]).toMatchObject({
      path: 'onError[0].runbook.name',
      message: 'no runbook named "rb-gone"',
    });
  });

  it('reports a runbook that calls itself', () => {
    const rb = parsed('a.yaml', 'rb-a', ['rb-a']);
    expect(checkReferences([rb], new Set(['rb-a'])).get('rb-a')).toEqual([
      {
        file: 'a.yaml',
        path: 'steps[0].runbook.name',
        ...where(rb.text, 'rb-a', 'runbook:'),
        message: 'a runbook cannot call itself',
      },
    ]);
  });

  it('reports a two-runbook cycle', () => {
    const a = parsed('a.yaml', 'rb-a', ['rb-b']);
    const b = parsed('b.yaml', 'rb-b', ['rb-a']);
    const problems = checkReferences([a, b], new Set());
    const all = [...problems.values()].flat();
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({
      file: 'a.yaml',
      path: 'steps[0].runbook.name',
      message: 'runbooks call each other in a cycle: rb-a → rb-b → rb-a',
    });
  });

  it('reports a longer cycle once, and not the runbooks that only lead into it', () => {
    const problems = checkReferences(
      [
        parsed('entry.yaml', 'rb-entry', ['rb-a']),
        parsed('a.yaml', 'rb-a', ['rb-b']),
        parsed('b.yaml', 'rb-b', ['rb-c']),
        parsed('c.yaml', 'rb-c', ['rb-a']),
      ],
      new Set(),
    );
    const all = [...problems.values()].flat();
    expect(all.map((p) => p.message)).toEqual([
      'runbooks call each other in a cycle: rb-a → rb-b → rb-c → rb-a',
    ]);
  });

  it('does not report a diamond (two paths to one runbook) as a cycle', () => {
    const problems = checkReferences(
      [
        parsed('a.yaml', 'rb-a', ['rb-b', 'rb-c']),
        parsed('b.yaml', 'rb-b', ['rb-d']),
        parsed('c.yaml', 'rb-c', ['rb-d']),
        parsed('d.yaml', 'rb-d'),
      ],
      new Set(),
    );
    expect(problems.size).toBe(0);
  });

  it('reports the same name in two files, on both', () => {
    const one = parsed('one.yaml', 'rb-a');
    const two = parsed('two.yaml', 'rb-a');
    const list = checkReferences([one, two], new Set()).get('rb-a');
    expect(list).toEqual([
      {
        file: 'two.yaml',
        path: 'name',
        ...where(two.text, 'rb-a'),
        message: 'runbook "rb-a" is also defined in one.yaml',
      },
      {
        file: 'one.yaml',
        path: 'name',
        ...where(one.text, 'rb-a'),
        message: 'runbook "rb-a" is also defined in two.yaml',
      },
    ]);
  });
});

describe('literal secrets in credential headers', () => {
  const withHeader = (value: string) =>
    [
      'name: call-api',
      'description: x',
      'kind: diagnostic',
      'options:',
      '  - { name: token, type: secure }',
      'steps:',
      '  - name: call',
      '    http:',
      '      url: https://api.example',
      '      headers:',
      `        Authorization: ${JSON.stringify(value)}`,
      '',
    ].join('\n');

  it.each(['Bearer abc123', 'Bearer abc123 {{ options.token }}', 'abc123'])(
    'refuses %j',
    (value) => {
      const r = parseRunbook('f.yaml', withHeader(value));
      expect(r.ok).toBe(false);
      expect(r.problems[0].message).toMatch(/puts a secret in the runbook/);
    },
  );

  it.each(['Bearer {{ options.token }}', '{{ options.token }}', 'Basic {{ options.token }}'])(
    'accepts %j',
    (value) => {
      expect(parseRunbook('f.yaml', withHeader(value)).ok).toBe(true);
    },
  );
});

describe('retry from options', () => {
  const withRetry = (options: string[], retry: string) =>
    runbook({
      options: options.length ? options : undefined,
      steps: [
        '  - name: gate',
        '    run: curl -fsS http://127.0.0.1/health',
        `    retry: ${retry}`,
      ],
    });

  it('accepts attempts from an integer option and a delay from a duration-patterned one', () => {
    const def = ok(
      withRetry(
        [
          '  - { name: checks, type: integer, default: 3 }',
          "  - { name: every, type: string, default: 5s, pattern: '[0-9]+s' }",
        ],
        "{ attempts: '{{ options.checks }}', delay: '{{ options.every }}' }",
      ),
    );
    expect(def.steps[0].retry).toEqual({
      attempts: '{{ options.checks }}',
      delay: '{{ options.every }}',
    });
  });

  it('refuses an unknown option, a string option for attempts and an unconstrained one for delay', () => {
    expect(
      messages(
        withRetry(
          ['  - { name: free, type: string }'],
          "{ attempts: '{{ options.free }}', delay: '{{ options.free }}' }",
        ),
      ),
    ).toEqual([
      'option free is string: attempts need an integer option',
      expect.stringMatching(/^option free must be an enum of durations or a string with a pattern/),
    ]);
    expect(messages(withRetry([], "{ attempts: '{{ options.nope }}' }"))).toEqual([
      'no option named "nope"',
    ]);
  });

  it('refuses any other template in retry', () => {
    expect(messages(withRetry([], "{ attempts: 3, delay: '{{ node.name }}' }"))[0]).toMatch(
      /duration|options\.NAME/,
    );
  });
});

describe('stepRetry', () => {
  const step = (retry: { attempts: number | string; delay?: string }) => ({ name: 'gate', retry });
  it('resolves option references and literal values', () => {
    expect(
      stepRetry(step({ attempts: '{{ options.n }}', delay: '{{ options.d }}' }), {
        n: 4,
        d: '250ms',
      }),
    ).toEqual({ attempts: 4, delayMs: 250 });
    expect(stepRetry(step({ attempts: 2, delay: '1m' }), {})).toEqual({
      attempts: 2,
      delayMs: 60_000,
    });
    expect(stepRetry({ name: 'once' }, {})).toEqual({ attempts: 1, delayMs: 1000 });
  });
  it('names the step and the bad value', () => {
    expect(() => stepRetry(step({ attempts: '{{ options.n }}' }), { n: 0 })).toThrow(
      /step gate: retry.attempts .* is 0, expected an integer from 1 to 100/,
    );
    expect(() =>
      stepRetry(step({ attempts: 1, delay: '{{ options.d }}' }), { d: '5 min' }),
    ).toThrow(/retry.delay .* is "5 min", expected a duration/);
  });
});
