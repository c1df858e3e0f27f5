import type { TargetNode } from '../nodes/node-filter.js';
import { validateOptions, type ValidatedOptions } from './options.js';
import { parseRunbook } from './runbook.parser.js';
import { planRunbook, type Plan } from './runbook.plan.js';
import type { RunbookDefinition } from './runbook.schema.js';
import { MASK } from './template.js';

/** A definition from YAML, through the real parser. */
const define = (lines: string[]): RunbookDefinition => {
  const r = parseRunbook('test.yaml', lines.join('\n') + '\n');
  if (!r.ok) throw new Error(`runbook does not parse: ${JSON.stringify(r.problems)}`);
  return r.definition;
};

const head = (name = 'restart-service', kind = 'remediation') => [
  `name: ${name}`,
  'description: Restart a service',
  `kind: ${kind}`,
];

/** Options through the real validator, as the API and CLI do. */
const optionsFor = (
  def: RunbookDefinition,
  input: Record<string, unknown> = {},
): ValidatedOptions => {
  const r = validateOptions(def.options ?? [], input);
  if (!r.ok) throw new Error(`options do not validate: ${JSON.stringify(r.problems)}`);
  return r.options;
};

const aNode = (
  name: string,
  attributes: Record<string, string> = {},
  tags: string[] = [],
): TargetNode => ({
  name,
  hostname: `${name}.example.internal`,
  port: 22,
  user: 'firebreak',
  tags,
  attributes,
});

const prod1 = aNode('web-1', { environment: 'production', region: 'eu-west-1' }, ['web']);
const prod2 = aNode('web-2', { environment: 'production', region: 'us-east-1' }, ['web']);
const staging = aNode('web-3', { environment: 'staging', region: 'eu-west-1' }, ['web']);
const db = aNode('db-1', { environment: 'production' }, ['db']);

const plan = (lines: string[], input: Record<string, unknown> = {}, nodes = [prod1, staging]) => {
  const def = define(lines);
  return planRunbook(def, optionsFor(def, input), nodes);
};

const commands = (p: Plan, step = 0) => p.steps[step].actions.map((a) => [a.node, a.command]);

describe('planRunbook', () => {
  describe('commands', () => {
    it('renders a command per node with node.name and node.attributes', () => {
      const p = plan(
        [
          ...head(),
          'options:',
          '  - name: service',
          '    type: string',
          'steps:',
          '  - name: restart',
          '    run: systemctl restart {{ options.service }} --node {{ node.name }} --region {{ node.attributes.region }}',
        ],
        { service: 'nginx' },
      );
      expect(commands(p)).toEqual([
        ['web-1', 'systemctl restart nginx --node web-1 --region eu-west-1'],
        ['web-3', 'systemctl restart nginx --node web-3 --region eu-west-1'],
      ]);
      expect(p.steps[0]).toMatchObject({
        name: 'restart',
        kind: 'run',
        on: 'targets',
        continueOnError: false,
      });
    });

    it('quotes a hostile option value as one word', () => {
      const p = plan(
        [
          ...head(),
          'options:',
          '  - name: v',
          '    type: string',
          'steps:',
          '  - name: a',
          '    run: echo {{ options.v }}',
        ],
        { v: 'x; rm -rf / #' },
        [prod1],
      );
      expect(p.steps[0].actions[0].command).toBe("echo 'x; rm -rf / #'");
    });

    it('renders a list option as one word per item', () => {
      const p = plan(
        [
          ...head(),
          'options:',
          '  - name: units',
          '    type: list',
          'steps:',
          '  - name: a',
          '    run: systemctl restart {{ options.units }}',
        ],
        { units: 'nginx,php fpm' },
        [prod1],
      );
      expect(p.steps[0].actions[0].command).toBe("systemctl restart nginx 'php fpm'");
    });

    it('shows a script with its interpreter as a here-document', () => {
      const p = plan(
        [
          ...head(),
          'steps:',
          '  - name: a',
          '    interpreter: /bin/bash',
          '    script: |',
          '      set -e',
          '      echo {{ node.name }}',
        ],
        {},
        [prod1],
      );
      expect(p.steps[0].actions[0].command).toBe(
        "/bin/bash <<'SCRIPT'\nset -e\necho web-1\n\nSCRIPT",
      );
    });

    it('plans a local step once, with node null', () => {
      const p = plan([...head(), 'steps:', '  - name: a', '    on: local', '    run: date']);
      expect(p.steps[0].on).toBe('local');
      expect(p.steps[0].actions).toEqual([{ node: null, command: 'date' }]);
    });

    it('shows captures of earlier steps as placeholders', () => {
      const p = plan([
        ...head(),
        'steps:',
        '  - name: probe',
        '    run: cat /srv/app/VERSION',
        '    capture:',
        '      version: { line: 1 }',
        '  - name: deploy',
        '    run: deploy --version {{ steps.probe.captures.version }} --host {{ node.name }}',
      ]);
      expect(commands(p, 1)).toEqual([
        ['web-1', 'deploy --version <steps.probe.captures.version> --host web-1'],
        ['web-3', 'deploy --version <steps.probe.captures.version> --host web-3'],
      ]);
    });

    it('plans other step kinds: http, check, sleep, approval, runbook', () => {
      const p = plan(
        [
          ...head(),
          'options:',
          '  - name: service',
          '    type: string',
          'steps:',
          '  - name: ping',
          '    http:',
          '      url: https://status.example/{{ options.service }}',
          '  - name: post',
          '    http:',
          '      url: https://hooks.example/x',
          '      json: { service: "{{ options.service }}", n: 1 }',
          '  - name: health',
          '    check:',
          '      run: curl -fsS localhost/health',
          '      expect: { exitCode: 0 }',
          '  - name: wait',
          '    sleep: 2m',
          '  - name: confirm',
          '    approval:',
          '      message: Restart {{ options.service }}?',
          '      approvers: [operator]',
          '  - name: sub',
          '    runbook:',
          '      name: clear-cache',
          '      options: { service: "{{ options.service }}" }',
          '    timeout: 90s',
          '    retry: { attempts: 2, delay: 1s }',
          '    continueOnError: true',
        ],
        { service: 'api/v1' },
        [prod1],
      );
      const [ping, post, health, wait, confirm, sub] = p.steps;
      expect(ping).toMatchObject({ kind: 'http', on: 'local' });
      expect(ping.actions).toEqual([
        {
          node: null,
          request: { method: 'GET', url: 'https://status.example/api%2Fv1', headers: {} },
        },
      ]);
      expect(post.actions[0].request).toEqual({
        method: 'POST',
        url: 'https://hooks.example/x',
        headers: {},
        body: { service: 'api/v1', n: 1 },
      });
      expect(health).toMatchObject({ kind: 'check', on: 'targets' });
      expect(health.actions[0]).toEqual({
        node: 'web-1',
        command: 'curl -fsS localhost/health',
        detail: { expect: { exitCode: 0 } },
      });
      expect(wait).toMatchObject({ kind: 'sleep', on: null });
      expect(wait.actions).toEqual([{ node: null, detail: { sleepMs: 120_000 } }]);
      expect(confirm.actions[0].detail).toEqual({
        message: 'Restart api/v1?',
        approvers: ['operator'],
      });
      expect(sub).toMatchObject({
        kind: 'runbook',
        timeoutMs: 90_000,
        retry: { attempts: 2, delay: '1s' },
        continueOnError: true,
      });
      expect(sub.actions[0].detail).toEqual({
        runbook: 'clear-cache',
        version: 'current',
        options: { service: 'api/v1' },
      });
    });

    it('plans onError steps', () => {
      const p = plan([
        ...head(),
        'steps:',
        '  - name: a',
        '    run: x',
        'onError:',
        '  - name: undo',
        '    on: local',
        '    run: y',
      ]);
      expect(p.onError).toHaveLength(1);
      expect(p.onError[0].actions).toEqual([{ node: null, command: 'y' }]);
    });
  });

  describe('secrets', () => {
    const lines = [
      ...head(),
      'options:',
      '  - name: token',
      '    type: secure',
      '  - name: user',
      '    type: string',
      'steps:',
      '  - name: login',
      '    run: login --user {{ options.user }} --token {{ options.token }}',
      '  - name: script',
      '    script: |',
      '      export TOKEN={{ options.token }}',
      '  - name: call',
      '    http:',
      '      url: https://api.example/v1?key={{ options.token }}',
      '      headers:',
      '        Authorization: Bearer {{ options.token }}',
      '        X-Trace: "{{ options.token }}"',
      '      json:',
      '        token: "{{ options.token }}"',
      '        note: "token is {{ options.token }}"',
      '  - name: ask',
      '    approval:',
      '      message: Use {{ options.token }}?',
      '  - name: nested',
      '    runbook:',
      '      name: other-runbook',
      '      options: { token: "{{ options.token }}" }',
    ];
    const secret = 'Sup3r-S3cret-Value';

    it('never shows a secure value anywhere in the plan', () => {
      const p = plan(lines, { token: secret, user: 'alice' });
      const json = JSON.stringify(p);
      expect(json).not.toContain(secret);
      expect(json).toContain(MASK);
    });

    it('masks it where it is used and in the options', () => {
      const p = plan(lines, { token: secret, user: 'alice' }, [prod1]);
      expect(p.options).toEqual({ token: MASK, user: 'alice' });
      expect(p.steps[0].actions[0].command).toBe(`login --user alice --token ${MASK}`);
      expect(p.steps[2].actions[0].request).toEqual({
        method: 'POST',
        url: `https://api.example/v1?key=${MASK}`,
        headers: { Authorization: MASK, 'X-Trace': MASK },
        body: { token: MASK, note: `token is ${MASK}` },
      });
    });

    it('masks credential headers even when their value is not secure', () => {
      const p = plan(
        [
          ...head(),
          'options:',
          '  - name: user',
          '    type: string',
          'steps:',
          '  - name: call',
          '    http:',
          '      url: https://api.example',
          '      headers:',
          '        Authorization: Basic {{ options.user }}',
          '        Cookie: "session={{ options.user }}"',
          '        X-Request-Token: "{{ options.user }}"',
          '        Accept: application/json',
        ],
        { user: 'alice' },
      );
      expect(p.steps[0].actions[0].request?.headers).toEqual({
        Authorization: MASK,
        Cookie: MASK,
        'X-Request-Token': MASK,
        Accept: 'application/json',
      });
    });
  });

  describe('approval', () => {
    const approvalLines = (extra: string[] = []) => [
      ...head(),
      'approval:',
      '  when: node.attributes.environment == "production"',
      ...extra,
      'steps:',
      '  - name: a',
      '    run: x',
    ];

    it('is required when approval.when holds for a node, naming the nodes', () => {
      const p = plan(approvalLines(), {}, [prod1, staging, prod2]);
      expect(p.approval).toEqual({
        required: true,
        reasons: [
          'approval.when (node.attributes.environment == "production") holds for web-1, web-2',
        ],
        approvers: ['admin'],
      });
    });

    it('uses the reason and approvers the runbook gives', () => {
      const p = plan(
        approvalLines(['  reason: production change', '  approvers: [sre-leads]']),
        {},
        [prod1],
      );
      expect(p.approval).toEqual({
        required: true,
        reasons: ['production change holds for web-1'],
        approvers: ['sre-leads'],
      });
    });

    it('falls back to access.approve for approvers', () => {
      const p = plan(
        [
          ...head(),
          'access:',
          '  approve: [user:alice]',
          'approval: {}',
          'steps:',
          '  - name: a',
          '    run: x',
        ],
        {},
        [staging],
      );
      expect(p.approval.approvers).toEqual(['user:alice']);
    });

    it('is not required when approval.when holds for no node', () => {
      const p = plan(approvalLines(), {}, [staging]);
      expect(p.approval).toEqual({ required: false, reasons: [], approvers: ['admin'] });
    });

    it('is not required when no node matches at all', () => {
      expect(plan(approvalLines(), {}, []).approval.required).toBe(false);
    });

    it('is always required with an approval block without when', () => {
      const p = plan([...head(), 'approval: {}', 'steps:', '  - name: a', '    run: x'], {}, [
        staging,
      ]);
      expect(p.approval).toMatchObject({
        required: true,
        reasons: ['this runbook always requires approval'],
      });
    });

    it('is not required without an approval block', () => {
      const p = plan([...head(), 'steps:', '  - name: a', '    run: x'], {}, [prod1]);
      expect(p.approval).toEqual({ required: false, reasons: [], approvers: ['admin'] });
    });

    it('can depend on options', () => {
      const lines = [
        ...head(),
        'options:',
        '  - name: force',
        '    type: boolean',
        '    default: false',
        'approval:',
        '  when: options.force',
        'steps:',
        '  - name: a',
        '    run: x',
      ];
      expect(plan(lines, {}, [staging]).approval.required).toBe(false);
      expect(plan(lines, { force: 'true' }, [staging]).approval.required).toBe(true);
    });

    it('lists approval steps as reasons', () => {
      const p = plan(
        [...head(), 'steps:', '  - name: gate', '    approval:', '      message: Proceed?'],
        {},
        [staging],
      );
      expect(p.approval).toMatchObject({
        required: true,
        reasons: ['step "gate" pauses for a decision: Proceed?'],
      });
    });
  });

  describe('when', () => {
    it('decides per node from options and node values', () => {
      const p = plan([
        ...head(),
        'steps:',
        '  - name: a',
        '    run: x',
        '    when: node.attributes.environment == "staging"',
      ]);
      expect(p.steps[0].when).toEqual({
        condition: 'node.attributes.environment == "staging"',
        decided: 'run',
      });
      expect(p.steps[0].actions.map((a) => [a.node, a.skip])).toEqual([
        ['web-1', true],
        ['web-3', undefined],
      ]);
    });

    it('is skip when the condition holds for no node', () => {
      const p = plan([
        ...head(),
        'steps:',
        '  - name: a',
        '    run: x',
        '    when: node.attributes.environment == "dev"',
      ]);
      expect(p.steps[0].when?.decided).toBe('skip');
      expect(p.steps[0].actions.every((a) => a.skip)).toBe(true);
    });

    it('decides a local step from options', () => {
      const lines = (force: boolean) => [
        ...head(),
        'options:',
        '  - name: force',
        '    type: boolean',
        `    default: ${force}`,
        'steps:',
        '  - name: a',
        '    on: local',
        '    run: x',
        '    when: options.force',
      ];
      expect(plan(lines(true)).steps[0].when?.decided).toBe('run');
      expect(plan(lines(false)).steps[0].when?.decided).toBe('skip');
    });

    it('leaves conditions on captures to run time', () => {
      const p = plan([
        ...head(),
        'steps:',
        '  - name: probe',
        '    run: x',
        '    capture:',
        '      status: { line: 1 }',
        '  - name: fix',
        '    run: y',
        '    when: steps.probe.captures.status != "ok"',
      ]);
      expect(p.steps[1].when).toEqual({
        condition: 'steps.probe.captures.status != "ok"',
        decided: 'at run time',
      });
      expect(p.steps[1].actions.some((a) => 'skip' in a)).toBe(false);
    });

    it('has no when without a condition', () => {
      expect(
        plan([...head(), 'steps:', '  - name: a', '    run: x']).steps[0].when,
      ).toBeUndefined();
    });
  });

  describe('targets', () => {
    const all = [prod1, prod2, staging, db];

    it.each([
      ['tags', ['    tags: [web]'], ['web-1', 'web-2', 'web-3']],
      ['attributes', ['    attributes: { environment: production }'], ['web-1', 'web-2', 'db-1']],
      ['exclude', ['    exclude: [web-?]'], ['db-1']],
      [
        'tags, attributes and exclude',
        ['    tags: [web]', '    attributes: { environment: production }', '    exclude: [web-2]'],
        ['web-1'],
      ],
    ])('selects among the given nodes by %s', (_label, filter, expected) => {
      const p = plan(
        [...head(), 'targets:', '  nodes:', ...filter, 'steps:', '  - name: a', '    run: x'],
        {},
        all,
      );
      expect(p.targets.map((t) => t.name)).toEqual(expected);
      expect(p.steps[0].actions.map((a) => a.node)).toEqual(expected);
    });

    it('does not filter again by names (the caller resolved them)', () => {
      const p = plan(
        [
          ...head(),
          'targets:',
          '  nodes:',
          '    names: [nothing-matches-*]',
          'steps:',
          '  - name: a',
          '    run: x',
        ],
        {},
        [prod1],
      );
      expect(p.targets.map((t) => t.name)).toEqual(['web-1']);
    });

    it('takes every given node without a filter, and reports the strategy', () => {
      const p = plan([...head(), 'steps:', '  - name: a', '    run: x'], {}, all);
      expect(p.targets).toEqual(
        all.map((n) => ({ name: n.name, hostname: n.hostname, attributes: n.attributes })),
      );
      expect(p.strategy).toBe('parallel');
      const rolling = plan(
        [...head(), 'targets: { strategy: rolling }', 'steps:', '  - name: a', '    run: x'],
        {},
        all,
      );
      expect(rolling.strategy).toBe('rolling');
    });

    it('applies approval.when only to the selected nodes', () => {
      const p = plan(
        [
          ...head(),
          'targets:',
          '  nodes: { attributes: { environment: staging } }',
          'approval:',
          '  when: node.attributes.environment == "production"',
          'steps:',
          '  - name: a',
          '    run: x',
        ],
        {},
        all,
      );
      expect(p.approval.required).toBe(false);
    });
  });
});
