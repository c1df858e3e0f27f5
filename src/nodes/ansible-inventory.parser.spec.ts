import {
  expandHostPattern,
  parseAnsibleIni,
  parseAnsibleYaml,
  readAnsibleInventory,
} from './ansible-inventory.parser.js';

const INI = `# fleet
bastion.example.com ansible_host=203.0.113.5

[web]
web[1:3] ansible_user=deploy
edge-1:2222 ansible_host=198.51.100.7 rack="r 4"  # inline comment

[db]
db-1 ansible_host=10.0.1.1 ansible_password=hunter2 ansible_python_interpreter=/usr/bin/python3

[prod:children]
web
db

[prod:vars]
environment = production
region=eu-west-1

[web:vars]
role=frontend
region=eu-west-2

[all:vars]
ansible_user=admin
owner=sre
`;

const YAML = `all:
  vars:
    owner: sre
    ansible_user: admin
  hosts:
    bastion.example.com:
      ansible_host: 203.0.113.5
  children:
    prod:
      vars: { environment: production, region: eu-west-1 }
      children:
        web:
          vars: { role: frontend, region: eu-west-2 }
          hosts:
            web[1:3]:
              ansible_user: deploy
            edge-1:
              ansible_host: 198.51.100.7
              ansible_port: 2222
              rack: r 4
              db_password: hunter2
        db:
          hosts:
            db-1: { ansible_host: 10.0.1.1, ansible_password: hunter2, ansible_python_interpreter: /usr/bin/python3 }
`;

describe('Ansible inventory import', () => {
  it.each([
    ['INI', INI, 'ini'],
    ['YAML', YAML, 'yaml'],
  ] as const)(
    '%s: hosts, connection vars, inherited vars and flattened groups',
    (_, text, format) => {
      const r = readAnsibleInventory(text, format);
      expect(r.problems).toEqual([]);
      const hosts = Object.fromEntries(r.result!.hosts.map((h) => [h.name, h]));
      expect(Object.keys(hosts)).toEqual([
        'bastion.example.com',
        'db-1',
        'edge-1',
        'web1',
        'web2',
        'web3',
      ]);
      expect(hosts['web2']).toEqual({
        name: 'web2',
        hostname: 'web2',
        port: 22,
        username: 'deploy',
        connection: 'ssh',
        // child group beats parent (region), parent beats all (nothing to beat here)
        attributes: {
          owner: 'sre',
          environment: 'production',
          region: 'eu-west-2',
          role: 'frontend',
        },
        groups: ['prod', 'web'],
      });
      expect(hosts['edge-1']).toMatchObject({
        hostname: '198.51.100.7',
        port: 2222,
        username: 'admin',
        attributes: expect.objectContaining({ rack: 'r 4' }),
      });
      expect(hosts['db-1']).toMatchObject({
        hostname: '10.0.1.1',
        username: 'admin',
        attributes: { owner: 'sre', environment: 'production', region: 'eu-west-1' },
      });
      expect(hosts['bastion.example.com']).toMatchObject({
        hostname: '203.0.113.5',
        groups: [],
        attributes: { owner: 'sre' },
      });
      expect(r.result!.clusters).toEqual([
        { name: 'db', nodes: ['db-1'] },
        { name: 'prod', nodes: ['db-1', 'edge-1', 'web1', 'web2', 'web3'] },
        { name: 'web', nodes: ['edge-1', 'web1', 'web2', 'web3'] },
      ]);
      // Secrets and other connection settings are never imported.
      expect(JSON.stringify(r.result!.hosts)).not.toContain('hunter2');
      expect(r.result!.ignoredVars).toEqual(
        expect.arrayContaining(['ansible_password', 'ansible_python_interpreter']),
      );
    },
  );

  it('expands host ranges: numbers (zero padding kept), letters, steps, several ranges', () => {
    expect(expandHostPattern('web[01:03].example.com')).toEqual([
      'web01.example.com',
      'web02.example.com',
      'web03.example.com',
    ]);
    expect(expandHostPattern('db-[a:c]')).toEqual(['db-a', 'db-b', 'db-c']);
    expect(expandHostPattern('n[0:10:5]')).toEqual(['n0', 'n5', 'n10']);
    expect(expandHostPattern('r[1:2]-[a:b]')).toEqual(['r1-a', 'r1-b', 'r2-a', 'r2-b']);
    expect(() => expandHostPattern('x[3:1]')).toThrow(/empty/);
    expect(() => expandHostPattern('x[1:a]')).toThrow(/bad range/);
    expect(() => expandHostPattern('x[0:99999]')).toThrow(/too many/);
  });

  it('INI problems carry line:col', () => {
    const r = parseAnsibleIni(
      '[web]\nweb-1 ansible_port=http\nweb-2 stray\n[web:hosts]\n[db:vars]\nnot a pair\n',
    );
    expect(r.problems.map((p) => `${p.line}:${p.col} ${p.message}`)).toEqual([
      '2:7 ansible_port: expected a port 1-65535',
      '3:7 expected key=value after the host name, got "stray"',
      '4:6 unknown section kind ":hosts": expected [web], [web:vars] or [web:children]',
      '6:1 expected key=value',
    ]);
  });

  it('YAML problems carry line:col', () => {
    const r = parseAnsibleYaml(
      'all:\n  children:\n    web:\n      hostz:\n        web-1:\n      vars:\n        ansible_host: "bad host!"\n',
    );
    expect(r.problems.map((p) => `${p.line}:${p.col} ${p.message}`)).toEqual([
      '4:7 unknown key "hostz": a group has hosts, vars and children',
      '7:23 ansible_host: expected a host name or IP address',
    ]);
    expect(parseAnsibleYaml('all: [oops\n').problems[0].message).toMatch(/^YAML: /);
  });

  it('refuses groups that are their own ancestors', () => {
    const r = readAnsibleInventory('[a:children]\nb\n[b:children]\na\n', 'ini');
    expect(r.ok).toBe(false);
    expect(r.problems[0].message).toMatch(/is its own ancestor/);
  });

  it('an empty inventory imports nothing', () => {
    expect(readAnsibleInventory('', 'ini').result).toEqual({
      hosts: [],
      clusters: [],
      ignoredVars: [],
    });
    expect(readAnsibleInventory('', 'yaml').result?.hosts).toEqual([]);
  });
});
