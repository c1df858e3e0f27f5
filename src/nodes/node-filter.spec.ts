import { globToRegExp, nodeMatches, selectNodes, type TargetNode } from './node-filter.js';
import type { NodeFilter } from './node-filter.schema.js';

const aNode = (name: string, over: Partial<TargetNode> = {}): TargetNode => ({
  name,
  hostname: `${name}.example.internal`,
  port: 22,
  user: 'firebreak',
  tags: [],
  attributes: {},
  ...over,
});

const nodes: TargetNode[] = [
  aNode('web-1', {
    tags: ['web', 'nginx'],
    attributes: { environment: 'production', region: 'eu' },
    clusters: ['edge'],
  }),
  aNode('web-2', {
    tags: ['web'],
    attributes: { environment: 'staging', region: 'eu' },
    clusters: ['edge', 'canary'],
  }),
  aNode('web-canary-1', { tags: ['web', 'canary'], attributes: { environment: 'production' } }),
  aNode('db-01', { tags: ['db', 'postgres'], attributes: { environment: 'production' } }),
  aNode('db-11', { tags: ['db'], attributes: { environment: 'staging', region: 'us' } }),
];

const names = (filter: NodeFilter | undefined) => selectNodes(filter, nodes).map((n) => n.name);

describe('globToRegExp', () => {
  it.each([
    ['web-*', 'web-1', true],
    ['web-*', 'web-', true],
    ['web-*', 'xweb-1', false],
    ['*-1', 'web-1', true],
    ['*', 'anything.at.all', true],
    ['db-?1', 'db-01', true],
    ['db-?1', 'db-1', false],
    ['db-?1', 'db-011', false],
    ['web-1', 'web-1', true],
    ['web-1', 'web-10', false],
    ['web-1', 'a-web-1', false],
  ])('%s matches %s: %s', (glob, name, expected) => {
    expect(globToRegExp(glob).test(name)).toBe(expected);
  });

  it.each([
    ['web.1', 'webx1'],
    ['a+b', 'aab'],
    ['[ab]', 'a'],
    ['(a|b)', 'a'],
    ['a{2}', 'aa'],
    ['^web$', 'web'],
    ['a\\d', 'a1'],
    ['$x', 'x'],
  ])('treats regex characters in %s literally (does not match %s)', (glob, name) => {
    expect(globToRegExp(glob).test(name)).toBe(false);
    expect(globToRegExp(glob).test(glob)).toBe(true);
  });
});

describe('nodeMatches', () => {
  const web1 = nodes[0];

  it('matches everything with an empty filter', () => {
    expect(nodeMatches({}, web1)).toBe(true);
  });

  it('matches names and globs, any of them', () => {
    expect(nodeMatches({ names: ['db-*', 'web-1'] }, web1)).toBe(true);
    expect(nodeMatches({ names: ['db-*'] }, web1)).toBe(false);
    expect(nodeMatches({ names: [] }, web1)).toBe(false);
  });

  it('requires all tags', () => {
    expect(nodeMatches({ tags: ['web', 'nginx'] }, web1)).toBe(true);
    expect(nodeMatches({ tags: ['web', 'db'] }, web1)).toBe(false);
  });

  it('requires at least one of tagsAny', () => {
    expect(nodeMatches({ tagsAny: ['db', 'nginx'] }, web1)).toBe(true);
    expect(nodeMatches({ tagsAny: ['db', 'postgres'] }, web1)).toBe(false);
    expect(nodeMatches({ tagsAny: [] }, web1)).toBe(false);
  });

  it('requires every attribute to be equal', () => {
    expect(nodeMatches({ attributes: { environment: 'production', region: 'eu' } }, web1)).toBe(
      true,
    );
    expect(nodeMatches({ attributes: { environment: 'production', region: 'us' } }, web1)).toBe(
      false,
    );
    expect(nodeMatches({ attributes: { missing: 'x' } }, web1)).toBe(false);
    expect(nodeMatches({ attributes: { environment: 'Production' } }, web1)).toBe(false);
  });

  it('requires membership of the cluster', () => {
    expect(nodeMatches({ cluster: 'edge' }, web1)).toBe(true);
    expect(nodeMatches({ cluster: 'canary' }, web1)).toBe(false);
    expect(nodeMatches({ cluster: 'edge' }, nodes[3])).toBe(false);
  });

  it('leaves out excluded names and globs', () => {
    expect(nodeMatches({ exclude: ['web-1'] }, web1)).toBe(false);
    expect(nodeMatches({ exclude: ['web-?'] }, web1)).toBe(false);
    expect(nodeMatches({ exclude: ['web-2', 'db-*'] }, web1)).toBe(true);
  });

  it('requires every criterion at once', () => {
    const filter: NodeFilter = { names: ['web-*'], tags: ['web'], attributes: { region: 'eu' } };
    expect(nodeMatches(filter, web1)).toBe(true);
    expect(nodeMatches({ ...filter, cluster: 'canary' }, web1)).toBe(false);
    expect(nodeMatches({ ...filter, exclude: ['*-1'] }, web1)).toBe(false);
  });
});

describe('selectNodes', () => {
  it('returns a copy of every node without a filter', () => {
    const all = selectNodes(undefined, nodes);
    expect(all).toEqual(nodes);
    expect(all).not.toBe(nodes);
  });

  it.each([
    [{ names: ['web-*'] }, ['web-1', 'web-2', 'web-canary-1']],
    [{ names: ['web-*'], exclude: ['*canary*'] }, ['web-1', 'web-2']],
    [{ tags: ['web'] }, ['web-1', 'web-2', 'web-canary-1']],
    [{ tags: ['web', 'canary'] }, ['web-canary-1']],
    [{ tagsAny: ['nginx', 'postgres'] }, ['web-1', 'db-01']],
    [{ attributes: { environment: 'production' } }, ['web-1', 'web-canary-1', 'db-01']],
    [{ attributes: { environment: 'staging', region: 'us' } }, ['db-11']],
    [{ cluster: 'canary' }, ['web-2']],
    [{ names: ['db-?1'] }, ['db-01', 'db-11']],
    [
      { tags: ['web'], attributes: { environment: 'production' }, exclude: ['web-canary-*'] },
      ['web-1'],
    ],
    [{ tags: ['nothing'] }, []],
  ] as Array<[NodeFilter, string[]]>)('%j selects %j', (filter, expected) => {
    expect(names(filter)).toEqual(expected);
  });

  it('keeps the order of the given nodes', () => {
    expect(selectNodes({ tags: ['db'] }, [...nodes].reverse()).map((n) => n.name)).toEqual([
      'db-11',
      'db-01',
    ]);
  });
});
