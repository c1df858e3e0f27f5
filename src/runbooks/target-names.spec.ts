import { renderNodeFilter, selectNodes, type TargetNode } from '../nodes/node-filter.js';
import type { NodeFilter } from '../nodes/node-filter.schema.js';
import { parseRunbook } from './runbook.parser.js';
import { renderText } from './template.js';

/**
 * Templated target names are literal names: globs come only from the runbook's own text, never
 * from an option value or an alert label (issue #12, item 2).
 */
const aNode = (name: string): TargetNode => ({
  name,
  hostname: `${name}.example.internal`,
  port: 22,
  user: 'firebreak',
  tags: ['linux'],
  attributes: { environment: 'production' },
});
const fleet = ['web-1', 'web-2', 'web-10', 'db-1', 'a', 'b'].map(aNode);

const targets = (filter: NodeFilter, values: Record<string, unknown>) =>
  selectNodes(
    renderNodeFilter(filter, { options: {}, ...values }, (t, v, enc) => renderText(t, v, enc).text),
    fleet,
  ).map((n) => n.name);

describe('templated values in targets.nodes.names are literal names', () => {
  const byHost = { names: ['{{ options.host }}'] };

  it('a real name still selects that node', () => {
    expect(targets(byHost, { options: { host: 'web-1' } })).toEqual(['web-1']);
  });

  it.each([
    ['*'],
    ['**'],
    ['?'],
    ['web-?'],
    ['web-*'],
    ['*-1'],
    ['[a-z]'],
    ['[a-z]*'],
    ['web-[12]'],
    ['web-1,web-2'],
    ['web-1 web-2'],
    ['!db-1'],
    ['!*'],
    ['\\*'],
    ['web-\\*'],
    ['\\'],
    ['{web-1,web-2}'],
    ['.*'],
    ['^web'],
  ])('option value %j selects no node (it is a name, not a pattern)', (host) => {
    expect(targets(byHost, { options: { host } })).toEqual([]);
  });

  it('a list option is one literal name too, whatever its items', () => {
    expect(targets(byHost, { options: { host: ['*'] } })).toEqual([]);
    expect(targets(byHost, { options: { host: ['web-*', 'db-*'] } })).toEqual([]);
  });

  it("an alert label (the shipped diagnose-host trigger's names) is literal as well", () => {
    const trigger = { names: ['{{ alert.labels.host }}'] };
    const alert = (host: string) => ({ alert: { labels: { host }, annotations: {} } });
    expect(targets(trigger, alert('*'))).toEqual([]);
    expect(targets(trigger, alert('web-?'))).toEqual([]);
    expect(targets(trigger, alert('db-1'))).toEqual(['db-1']);
  });

  it("globs in the runbook's own text still glob, around a literal value", () => {
    const prefix = { names: ['{{ options.role }}-*'] };
    expect(targets(prefix, { options: { role: 'web' } })).toEqual(['web-1', 'web-2', 'web-10']);
    // The value's own `*` stays literal; only the runbook's trailing `*` globs.
    expect(targets(prefix, { options: { role: '*' } })).toEqual([]);
    expect(targets(prefix, { options: { role: 'w?b' } })).toEqual([]);
    expect(targets({ names: ['web-?'] }, {})).toEqual(['web-1', 'web-2']);
    expect(targets({ names: ['*'] }, {})).toHaveLength(fleet.length);
  });

  it('the other filter fields are not templates: a templated tag or attribute matches nothing', () => {
    expect(targets({ tags: ['{{ options.tag }}'] }, { options: { tag: 'linux' } })).toEqual([]);
    expect(
      targets({ attributes: { environment: '{{ options.env }}' } }, { options: { env: '*' } }),
    ).toEqual([]);
  });

  it('the linter refuses a template outside names, in a runbook and in a trigger', () => {
    const r = parseRunbook(
      'runbooks/t.yaml',
      [
        'name: target-templates',
        'description: x',
        'kind: diagnostic',
        'options:',
        '  - { name: env, type: string }',
        'targets:',
        "  nodes: { names: ['{{ options.env }}-*'], attributes: { environment: '{{ options.env }}' } }",
        'steps:',
        '  - { name: a, run: uptime }',
        'triggers:',
        '  - alert: { match: { alertname: X } }',
        "    targets: { nodes: { tags: ['{{ alert.labels.team }}'] } }",
        '',
      ].join('\n'),
    );
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => [p.path, p.message])).toEqual([
      ['targets.nodes.attributes', 'templates are rendered only in names, not in attributes'],
      ['triggers[0].targets.nodes.tags', 'templates are rendered only in names, not in tags'],
    ]);
  });
});
