import { parseRunbook, type RunbookProblem } from './runbook.parser.js';
import { scriptEnvironment } from './script-env.js';
import { evaluatedTemplateRefs, patternRulesOutShell } from './shell-eval.js';

/**
 * Commands that evaluate their argument (issue #12, item 5): quoting keeps a value one word, but
 * `sh -c WORD` then parses that word as code, so the linter refuses a template there unless the
 * value cannot hold shell syntax. Scripts for other interpreters get values as environment
 * variables, never quoted into their text.
 */
const yaml = (steps: string, options = '  - { name: msg, type: string }') => `name: eval-check
description: x
kind: diagnostic
options:
${options}
steps:
${steps}
`;
const lint = (text: string): RunbookProblem[] => {
  const r = parseRunbook('runbooks/eval-check.yaml', text);
  return r.ok ? [] : r.problems;
};
const run = (command: string) => `  - name: go\n    run: ${JSON.stringify(command)}`;

describe('templates as the argument of a command that evaluates it', () => {
  it.each([
    ['sh -c {{ options.msg }}', 'sh -c'],
    ['bash -c {{ options.msg }}', 'bash -c'],
    ['/bin/bash -lc {{ options.msg }}', 'bash -c'],
    ['sudo -u app sh -c {{ options.msg }}', 'sh -c'],
    ['eval {{ options.msg }}', 'eval'],
    ['eval echo {{ options.msg }}', 'eval'],
    ['su -c {{ options.msg }} app', 'su -c'],
    ['su app --command {{ options.msg }}', 'su -c'],
    ['ssh -p 2222 bastion {{ options.msg }}', 'ssh HOST'],
    ['ssh bastion uptime {{ options.msg }}', 'ssh HOST'],
    ['echo a | xargs {{ options.msg }}', 'xargs'],
    ['find /tmp -name x | xargs -0 rm {{ options.msg }}', 'xargs'],
    ['env FOO=1 sh -c {{ options.msg }}', 'sh -c'],
    ['env -i PATH=/bin bash -c {{ options.msg }}', 'bash -c'],
    ['env {{ options.msg }}', 'env'],
    ['true && timeout 5 sh -c {{ options.msg }}', 'sh -c'],
    ['echo $(sh -c {{ options.msg }})', 'sh -c'],
    ['python3 -c {{ options.msg }}', 'python3 -c'],
    ['perl -e {{ options.msg }}', 'perl -e'],
    ['watch {{ options.msg }}', 'watch'],
  ])('refuses %j, naming the step, its YAML line, the option and the command', (cmd, command) => {
    const text = yaml(run(cmd));
    const p = lint(text);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatchObject({ path: 'steps[0].run', line: 8 });
    expect(p[0].message).toContain(
      `step "go": {{ options.msg }} (option msg) is an argument of \`${command}\``,
    );
    expect(p[0].message).toMatch(/runs it as code.*pattern that rules out shell syntax/);
  });

  it.each([
    'echo {{ options.msg }}',
    'sh -c \'echo "$1"\' _ {{ options.msg }}',
    'bash ./script.sh {{ options.msg }}',
    'ssh {{ options.msg }} uptime',
    'sudo systemctl restart -- {{ options.msg }}',
    'grep -e {{ options.msg }} /var/log/syslog',
    'printf %s {{ options.msg }} | xargs -0 echo',
    'env FOO=1 printenv {{ options.msg }}',
  ])('accepts %j: the value is an argument, not code', (cmd) => {
    expect(lint(yaml(run(cmd)))).toEqual([]);
  });

  it('accepts a value that cannot hold shell syntax: a safe pattern, a number, an enum, node.name', () => {
    const opts = [
      "  - { name: unit, type: string, pattern: '[A-Za-z0-9@._-]+' }",
      '  - { name: n, type: integer }',
      '  - { name: mode, type: enum, values: [fast, slow] }',
      "  - { name: hosts, type: list, pattern: '^[a-z0-9-]+$' }",
    ].join('\n');
    const steps = [
      run('sh -c {{ options.unit }}'),
      "  - name: b\n    run: 'eval {{ options.n }} {{ options.mode }}'",
      "  - name: c\n    run: 'ssh bastion {{ node.name }} {{ options.hosts }}'",
    ].join('\n');
    expect(lint(yaml(steps, opts))).toEqual([]);
  });

  it('refuses values that can hold anything there: captures, attributes, secure, loose patterns', () => {
    const opts = [
      "  - { name: loose, type: string, pattern: '.+' }",
      "  - { name: spaced, type: string, pattern: '[a-z ]+' }",
      '  - { name: pw, type: secure }',
    ].join('\n');
    const steps = [
      "  - name: a\n    run: echo v=1\n    capture: { v: { regex: 'v=(.*)' } }",
      "  - name: b\n    run: 'sh -c {{ steps.a.captures.v }}'",
      "  - name: c\n    run: 'bash -c {{ node.attributes.region }}'",
      "  - name: d\n    run: 'eval {{ options.loose }} {{ options.spaced }} {{ options.pw }}'",
      "  - name: e\n    check:\n      run: 'sh -c {{ options.loose }}'\n      expect: { exitCode: 0 }",
      '  - name: f\n    script: |\n      set -e\n      eval {{ options.pw }}',
    ].join('\n');
    const p = lint(yaml(steps, opts));
    expect(
      p.map((x) => [x.path, x.message.split(' is an argument')[0].replace(/^step "[a-z]+": /, '')]),
    ).toEqual([
      ['steps[1].run', '{{ steps.a.captures.v }}'],
      ['steps[2].run', '{{ node.attributes.region }}'],
      ['steps[3].run', '{{ options.loose }} (option loose)'],
      ['steps[3].run', '{{ options.spaced }} (option spaced)'],
      ['steps[3].run', '{{ options.pw }} (option pw)'],
      ['steps[4].check.run', '{{ options.loose }} (option loose)'],
      ['steps[5].script', '{{ options.pw }} (option pw)'],
    ]);
  });

  it('finds the evaluated positions only', () => {
    const refs = (c: string) => evaluatedTemplateRefs(c).map((r) => `${r.command}:${r.ref}`);
    expect(refs('sh -c {{ a.b }} {{ c.d }}')).toEqual(['sh -c:{{ a.b }}']);
    expect(refs('sh -x -c {{ a.b }}')).toEqual(['sh -c:{{ a.b }}']);
    expect(refs('echo {{ a.b }}; eval {{ c.d }}')).toEqual(['eval:{{ c.d }}']);
    expect(refs("echo 'sh -c' {{ a.b }}")).toEqual([]);
    expect(refs('echo x # eval {{ a.b }}')).toEqual([]);
    expect(refs('sh -c {{ a.b }} 2>/dev/null')).toEqual(['sh -c:{{ a.b }}']);
  });

  it.each([
    ['[A-Za-z0-9@._-]+', true],
    ['^[a-z0-9-]+$', true],
    ['\\d+', true],
    ['[a-z]{1,10}(\\.[a-z]+)*', true],
    ['web|db', true],
    ['.+', false],
    ['\\S+', false],
    ['[^;]+', false],
    ['[a-z ]+', false],
    ['[!-~]+', false],
    ['[a-z$]+', false],
    ['a.b', false],
    ['\\w+\\s\\w+', false],
  ])('pattern %j rules out shell syntax: %s', (pattern, expected) => {
    expect(patternRulesOutShell(pattern)).toBe(expected);
  });
});

describe('scripts for other interpreters', () => {
  it('a python script with a template is refused, naming the variable to read instead', () => {
    const p = lint(
      yaml(
        '  - name: py\n    interpreter: /usr/bin/python3\n    script: |\n      print({{ options.msg }})',
      ),
    );
    expect(p).toEqual([
      expect.objectContaining({
        path: 'steps[0].script',
        line: 9,
        message: expect.stringMatching(
          /a \/usr\/bin\/python3 script gets values as environment variables, not templates: read FIREBREAK_OPTION_MSG/,
        ),
      }),
    ]);
    expect(
      lint(
        yaml(
          "  - name: py\n    interpreter: /usr/bin/python3\n    script: |\n      import os; print(os.environ['FIREBREAK_OPTION_MSG'])",
        ),
      ),
    ).toEqual([]);
    // A POSIX shell script keeps its quoted templates.
    expect(
      lint(
        yaml(
          '  - name: sh\n    interpreter: /bin/bash\n    script: |\n      echo {{ options.msg }}',
        ),
      ),
    ).toEqual([]);
  });

  it('gets every value as an environment variable', () => {
    expect(
      scriptEnvironment({
        options: { msg: "x'; import os #", files: ['a', 'b'], n: 3 },
        node: {
          name: 'web-1',
          hostname: 'h',
          port: 22,
          user: 'u',
          attributes: { 'k8s.zone': 'z' },
        },
        steps: { 'get-version': { captures: { v: '1.2' } } },
        execution: { id: 'e1', actor: 'alice' },
      }),
    ).toEqual({
      FIREBREAK_OPTION_MSG: "x'; import os #",
      FIREBREAK_OPTION_FILES: '["a","b"]',
      FIREBREAK_OPTION_N: '3',
      FIREBREAK_NODE_NAME: 'web-1',
      FIREBREAK_NODE_HOSTNAME: 'h',
      FIREBREAK_NODE_PORT: '22',
      FIREBREAK_NODE_USER: 'u',
      FIREBREAK_NODE_ATTRIBUTE_K8S_ZONE: 'z',
      FIREBREAK_STEP_GET_VERSION_CAPTURE_V: '1.2',
      FIREBREAK_EXECUTION_ID: 'e1',
      FIREBREAK_EXECUTION_ACTOR: 'alice',
    });
  });
});
