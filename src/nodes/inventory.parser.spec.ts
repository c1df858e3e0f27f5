import { parseInventory } from './inventory.parser.js';

const CREDS = { credentials: new Set(['deploy-key', 'db-password']) };
const parse = (text: string) => parseInventory('inventory.yaml', text, CREDS);

const GOOD = `# Production fleet
nodes:
  - name: web-1
    hostname: 10.0.0.11
    user: deploy
    tags: [web, linux]
    attributes: { environment: production, rack: 4 }
    credential: deploy-key
    hostKey: SHA256:LZMVckPigPlLEkdMsx0YjjANiL4Kaqk2BtVFdYLLKnE
  - name: db-1
    port: 2222
    trustOnFirstUse: true
clusters:
  - name: web
    description: Public web tier
    nodes: [web-*]
  - name: prod
    filter: { attributes: { environment: production } }
`;

describe('inventory.yaml parser', () => {
  it('reads nodes and clusters; attribute numbers become strings', () => {
    const r = parse(GOOD);
    expect(r.ok).toBe(true);
    expect(r.inventory!.nodes[0]).toEqual({
      name: 'web-1',
      hostname: '10.0.0.11',
      user: 'deploy',
      tags: ['web', 'linux'],
      attributes: { environment: 'production', rack: '4' },
      credential: 'deploy-key',
      hostKey: 'SHA256:LZMVckPigPlLEkdMsx0YjjANiL4Kaqk2BtVFdYLLKnE',
    });
    expect(r.inventory!.nodes[1]).toEqual({ name: 'db-1', port: 2222, trustOnFirstUse: true });
    expect(r.inventory!.clusters.map((c) => c.name)).toEqual(['web', 'prod']);
  });

  it('an empty file is an empty inventory', () => {
    expect(parse('')).toMatchObject({ ok: true, inventory: { nodes: [], clusters: [] } });
    expect(parse('# nothing yet\n')).toMatchObject({ ok: true });
  });

  it('YAML syntax errors carry line:col', () => {
    const r = parse('nodes:\n  - name: web-1\n    tags: [web\n');
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatchObject({ file: 'inventory.yaml', line: 4 });
    expect(r.problems[0].message).toMatch(/^YAML: /);
  });

  it('unknown keys point at the key, with a suggestion', () => {
    const r = parse('nodes:\n  - name: web-1\n    hostnme: 10.0.0.1\n');
    expect(r.problems).toEqual([
      {
        file: 'inventory.yaml',
        path: 'nodes[0].hostnme',
        line: 3,
        col: 5,
        message: 'unknown key "hostnme" (did you mean "hostname"?)',
      },
    ]);
  });

  it('secrets are not allowed in the file: no privateKey or password keys', () => {
    const r = parse('nodes:\n  - name: web-1\n    password: hunter2\n');
    expect(r.problems[0]).toMatchObject({ path: 'nodes[0].password', line: 3, col: 5 });
    expect(r.problems[0].message).toMatch(/^unknown key "password"/);
  });

  it('bad values name the field and where it is', () => {
    const r = parse(
      'nodes:\n  - name: web_1!\n    port: 70000\n    hostKey: md5:aa\n  - hostname: x\n',
    );
    expect(r.problems.map((p) => [p.path, p.line, p.col, p.message])).toEqual([
      ['nodes[0].name', 2, 11, 'expected letters, digits, dot, dash or underscore (up to 253)'],
      ['nodes[0].port', 3, 11, 'Too big: expected number to be <=65535'],
      ['nodes[0].hostKey', 4, 14, 'expected SHA256:… as `ssh-keygen -lf` prints it'],
      ['nodes[1].name', 5, 5, 'is required'],
    ]);
  });

  it('unknown credentials, duplicate names and ambiguous clusters are problems', () => {
    const r = parse(`nodes:
  - name: web-1
    credential: deploy-kye
  - name: web-1
clusters:
  - name: web
  - name: both
    nodes: [web-1]
    filter: { tags: [web] }
`);
    expect(r.problems.map((p) => `${p.line}:${p.col} ${p.path}: ${p.message}`)).toEqual([
      '3:17 nodes[0].credential: no credential named "deploy-kye" (did you mean "deploy-key"?): create it with POST /credentials (secrets are never in the file)',
      '4:11 nodes[1].name: duplicate node name "web-1" (also nodes[0])',
      '6:5 clusters[0]: a cluster needs `nodes` (names or globs) or `filter`',
      '7:5 clusters[1]: a cluster has either `nodes` or `filter`, not both',
    ]);
  });

  it('a cluster filter cannot name another cluster (no cycles)', () => {
    const r = parse('clusters:\n  - name: loop\n    filter: { cluster: web }\n');
    expect(r.problems).toEqual([
      expect.objectContaining({
        path: 'clusters[0].filter.cluster',
        line: 3,
        col: 15,
        message: 'unknown key "cluster" (a cluster filter cannot name another cluster)',
      }),
    ]);
  });

  it('a file that is not a mapping is one problem at 1:1', () => {
    expect(parse('- web-1\n- web-2\n').problems).toEqual([
      expect.objectContaining({ line: 1, col: 1, message: expect.stringMatching(/mapping/) }),
    ]);
  });
});
