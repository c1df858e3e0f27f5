import { readFileSync } from 'node:fs';
import {
  formatFromName,
  readRundeckResources,
  type RundeckReadResult,
} from './rundeck-resources.js';

const DIR = 'test/fixtures/import/rundeck-nodes/';
const read = (f: string) =>
  readRundeckResources(readFileSync(DIR + f, 'utf8'), formatFromName(f), f);
const ok = (r: RundeckReadResult) => {
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.result;
};
const problems = (text: string, format: 'yaml' | 'xml' | 'json') => {
  const r = readRundeckResources(text, format, `resources.${format}`);
  if (r.ok) throw new Error('expected problems');
  return r.problems.map((p) => `${p.line}: ${p.message}`);
};

describe('Rundeck resource model sources', () => {
  it('resources.yaml (map form, from the resource-yaml-v13 reference): names, hosts, users, comma tags, os and custom attributes', () => {
    const { nodes, notImported } = ok(read('resources.yaml'));
    expect(nodes.map((n) => n.name)).toEqual(['Venkman.local', 'Homestar.local', 'bartholemew']);
    expect(nodes[1]).toEqual({
      name: 'Homestar.local',
      hostname: 'Homestar.local',
      port: 22,
      username: 'greg',
      tags: ['redis_server', 'production'],
      attributes: {
        description: 'The production redis server.',
        osArch: 'x86_64',
        osFamily: 'unix',
        osName: 'Linux',
      },
      connection: 'ssh',
    });
    expect(nodes[0].tags).toEqual([]);
    expect(nodes[2].attributes).toMatchObject({ 'app-port': '8080', 'https-port': '8443' });
    expect(notImported).toEqual([]);
  });

  it('resources-list.yaml (the sequence style) reads the same nodes', () => {
    const { nodes } = ok(read('resources-list.yaml'));
    expect(nodes.map((n) => [n.name, n.tags])).toEqual([
      ['Homestar.local', ['redis_server', 'production']],
      ['bartholemew', ['web', 'app']],
    ]);
    expect(Object.keys(nodes[0].attributes)).toEqual(['description']);
  });

  it('resources.xml (resource-v13): nested <attribute>s in both forms, host:port, tags with spaces', () => {
    const { nodes, notImported } = ok(read('resources.xml'));
    const by = Object.fromEntries(nodes.map((n) => [n.name, n]));
    expect(Object.keys(by)).toEqual(['strongbad', 'centos54', 'centos54-deploy', 'redis-1']);
    expect(by.centos54.attributes).toMatchObject({ 'https-port': '435', 'server-port': '9010' });
    expect(by['centos54-deploy']).toMatchObject({
      hostname: '192.168.1.106',
      port: 4022,
      username: 'deploy',
    });
    expect(by['centos54-deploy'].attributes.appname).toBe('CoolApp');
    expect(by['redis-1'].tags).toEqual(['redis_server', 'production']);
    expect(by['redis-1'].attributes).toMatchObject({
      role: 'redis_server',
      environment: 'production',
    });
    expect(notImported.filter((n) => n.attribute === 'type').map((n) => n.node)).toEqual([
      'strongbad',
      'centos54',
      'centos54-deploy',
    ]);
  });

  it("test-nodes4.xml (Rundeck's own test data): editor links and the node type are reported, custom attributes kept", () => {
    const { nodes, notImported } = ok(read('test-nodes4.xml'));
    expect(nodes).toHaveLength(5);
    expect(nodes[0].attributes).toMatchObject({ rank: '50', colorRank: 'A', osName: 'Mac OS X' });
    expect(nodes[0].attributes).not.toHaveProperty('editUrl');
    expect(notImported).toContainEqual({
      node: 'testnode1',
      attribute: 'editUrl',
      reason: 'Rundeck resource editor link',
    });
    expect(nodes[1].username).toBeNull();
  });

  it('resources.json (resource-json-v10): ssh-key-storage-path is named as not imported, never its value', () => {
    const { nodes, notImported } = ok(read('resources.json'));
    expect(nodes.map((n) => n.name)).toEqual(['madmartigan.local', 'test']);
    expect(nodes[1].tags).toEqual(['alphabet', 'soup']);
    expect(nodes[1].attributes).not.toHaveProperty('ssh-key-storage-path');
    expect(notImported).toEqual([
      {
        node: 'test',
        attribute: 'ssh-key-storage-path',
        reason: expect.stringContaining('credentials are not imported') as string,
      },
    ]);
    expect(JSON.stringify(notImported)).not.toContain('testkey1');
  });

  it('node-executor local → a local node; other executors reported; a list of tags', () => {
    const { nodes, notImported } = ok(
      readRundeckResources(
        [
          'runner:',
          '  hostname: localhost',
          '  node-executor: local',
          '  file-copier: local',
          '  tags: [a, b]',
          'win:',
          '  hostname: "[::1]:5986"',
          '  node-executor: WinRMPython',
          '  ssh-password-storage-path: keys/win',
        ].join('\n'),
        'yaml',
      ),
    );
    expect(nodes[0]).toMatchObject({ name: 'runner', connection: 'local', tags: ['a', 'b'] });
    expect(nodes[1]).toMatchObject({ hostname: '[::1]', port: 5986, connection: 'ssh' });
    expect(notImported.map((n) => `${n.node} ${n.attribute}`)).toEqual([
      'win node-executor',
      'win ssh-password-storage-path',
    ]);
  });

  it('bad input: each problem names the line and the field; nothing is returned', () => {
    expect(problems('a:\n  hostname: x\n b: [\n', 'yaml')[0]).toMatch(/^\d+: YAML: /);
    expect(problems('just a string\n', 'yaml')).toEqual([
      '1: a Rundeck node list is a map of node names to node entries, or a list of node entries',
    ]);
    expect(
      problems('web-1:\n  username: deploy\nweb-2:\n  hostname: "bad host"\n', 'yaml'),
    ).toEqual([
      '1: node "web-1" needs a hostname',
      '4: node "web-2": hostname "bad host": expected a host name or IP address (host or host:port)',
    ]);
    expect(
      problems('- hostname: h1\n- nodename: b\n  hostname: h2\n  tags: "ok, bad tag!"\n', 'yaml'),
    ).toEqual([
      '1: a node needs a nodename',
      '4: node "b": tag "bad tag!": expected letters, digits and . _ : / - (up to 64)',
    ]);
    expect(
      problems('[{"nodename": "a", "hostname": "h"}, {"nodename": "a", "hostname": "h"}]', 'json'),
    ).toEqual(['1: duplicate node "a" (also line 1)']);
    expect(problems('<project>\n  <node name="a" hostname="h">\n</project>\n', 'xml')[0]).toMatch(
      /^3: XML: /,
    );
    expect(problems('<nodes><node name="a" hostname="h"/></nodes>', 'xml')).toEqual([
      '1: expected a <project> of <node> elements, not <nodes>',
    ]);
    expect(problems('<project>\n\n  <node\n    name="a"/>\n</project>', 'xml')).toEqual([
      '3: node "a" needs a hostname',
    ]);
  });
});
