import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  expandHostPattern,
  parseAnsibleIni,
  parseAnsibleYaml,
  readAnsibleInventory,
} from './ansible-inventory.parser.js';

const fixture = (name: string) =>
  readFileSync(join(import.meta.dirname, '../../test/fixtures/ansible', name), 'utf8');
const hostsOf = (text: string, format: 'ini' | 'yaml') => {
  const r = readAnsibleInventory(text, format);
  expect(r.problems).toEqual([]);
  return Object.fromEntries(r.result!.hosts.map((h) => [h.name, h]));
};

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
    expect(() => expandHostPattern('x[b:A:1]')).not.toThrow();
    expect(() => expandHostPattern('x[Z:a]')).toThrow(/empty/);
    expect(() => expandHostPattern('x[1:a]')).toThrow(/bad range/);
    expect(() => expandHostPattern('x[0:99999]')).toThrow(/too many/);
  });

  it('expands ranges as Ansible does: a missing start is 0, padding, letters a-z then A-Z, steps', () => {
    // lib/ansible/plugins/inventory/__init__.py expand_hostname_range
    expect(expandHostPattern('mail[:5].example.com')).toEqual(
      [0, 1, 2, 3, 4, 5].map((i) => `mail${i}.example.com`),
    );
    expect(expandHostPattern('www[01:10:2].example.com')).toEqual(
      ['01', '03', '05', '07', '09'].map((i) => `www${i}.example.com`),
    );
    expect(expandHostPattern('n[:03]')).toEqual(['n0', 'n1', 'n2', 'n3']);
    expect(expandHostPattern('db-[x:B]')).toEqual(['db-x', 'db-y', 'db-z', 'db-A', 'db-B']);
    expect(expandHostPattern('s[a:e:2]')).toEqual(['sa', 'sc', 'se']);
    expect(() => expandHostPattern('web[01:3]')).toThrow(/same width/);
    expect(() => expandHostPattern('web[1:]')).toThrow(/end is missing/);
    expect(() => expandHostPattern('web[1:2:3:4]')).toThrow(/start:end/);
    expect(() => expandHostPattern('web[1:5:0]')).toThrow(/step/);
  });

  it('a host range with the start left out no longer refuses the file (openstack-ansible shape)', () => {
    const r = readAnsibleInventory(fixture('openstack-ansible-inventory.ini'), 'ini');
    expect(r.problems).toEqual([]);
    expect(r.result!.hosts.map((h) => h.name)).toEqual([
      'block01',
      'block04',
      'block07',
      'block10',
      'compute0.lab.example.com',
      'compute1.lab.example.com',
      'compute2.lab.example.com',
      'infra1',
      'openstack1',
      'openstack2',
      'openstack3',
      'swift-a',
      'swift-b',
      'swift-c',
    ]);
    const compute = r.result!.hosts.find((h) => h.name === 'compute1.lab.example.com')!;
    expect(compute).toMatchObject({
      hostname: 'compute1.lab.example.com',
      attributes: { nova_virt_type: 'qemu', nova_console_type: 'novnc' },
      groups: ['nova_all', 'nova_compute'],
    });
    expect(r.result!.clusters.find((c) => c.name === 'nova_all')!.nodes).toEqual([
      'compute0.lab.example.com',
      'compute1.lab.example.com',
      'compute2.lab.example.com',
    ]);
    expect(r.result!.ignoredVars).toEqual(['ansible_become']);
    // A port after a range whose start is left out.
    const ported = hostsOf('[db]\ndb[:1]:5432\n', 'ini');
    expect(Object.values(ported).map((h) => `${h.name}:${h.port}`)).toEqual([
      'db0:5432',
      'db1:5432',
    ]);
  });

  it('groups at one depth apply in code-point order, the last winning, then by ansible_group_priority (DebOps shape)', () => {
    // lib/ansible/inventory/helpers.py: sorted(groups, key=lambda g: (g.depth, g.priority, g.name))
    const text = fixture('debops-hosts.ini');
    const web1 = hostsOf(text, 'ini')['web-1'];
    // 'Zeta' < 'alpha' and 'web-a' < 'web_a' by code point, so alpha and web_a apply last.
    expect(web1.attributes).toEqual({ tier: 'from-alpha', shade: 'from-Zeta', site: 'from-web_a' });
    expect(web1.groups).toEqual([
      'Zeta',
      'alpha',
      'debops_all_hosts',
      'debops_service_nginx',
      'web-a',
      'web_a',
    ]);
    // A higher priority applies later, whatever the name; the variable itself is not imported.
    const prioritised = readAnsibleInventory(
      `${text}\n[Zeta:vars]\nansible_group_priority=10\n[web_a:vars]\nansible_group_priority=0\n`,
      'ini',
    );
    expect(prioritised.problems).toEqual([]);
    const host = prioritised.result!.hosts.find((h) => h.name === 'web-1')!;
    expect(host.attributes).toEqual({ tier: 'from-Zeta', shade: 'from-Zeta', site: 'from-web-a' });
    expect(prioritised.result!.ignoredVars).toEqual([]);
    // Depth still comes first: a child beats its parent whatever the names and priorities.
    const nested = hostsOf(
      '[a_parent:children]\nZ_child\n[Z_child]\nh1\n[a_parent:vars]\nx=parent\nansible_group_priority=99\n[Z_child:vars]\nx=child\n',
      'ini',
    );
    expect(nested['h1'].attributes).toEqual({ x: 'child' });
    expect(
      readAnsibleInventory('[g]\nh\n[g:vars]\nansible_group_priority=high\n', 'ini').problems[0],
    ).toMatchObject({
      line: 4,
      message: 'ansible_group_priority: expected a whole number',
    });
  });

  it('the same boolean is the same attribute from INI and YAML (kubespray shape)', () => {
    const ini = hostsOf(fixture('kubespray-inventory.ini'), 'ini');
    const yaml = hostsOf(fixture('kubespray-hosts.yaml'), 'yaml');
    // INI `True`/`False` (Python literals) and YAML 1.1 `true`/`no`/`yes` are booleans.
    expect(ini['node3'].attributes).toMatchObject({
      kubeconfig_localhost: 'true',
      kube_proxy_strict_arp: 'false',
      kube_network_plugin: 'calico',
      ip: '10.3.0.3',
      etcd_member_name: 'etcd3',
      // Quoted in a :vars section, Ansible keeps the text.
      quoted_flag: 'True',
    });
    expect(yaml['node3'].attributes).toMatchObject({
      kubeconfig_localhost: 'true',
      kube_proxy_strict_arp: 'false',
      metallb_enabled: 'true',
      ip: '10.3.0.3',
      upstream_dns_servers: '["8.8.8.8","8.8.4.4"]',
    });
    expect(Object.keys(ini)).toEqual([
      'bastion',
      'node1',
      'node2',
      'node3',
      'node4',
      'node5',
      'node6',
    ]);
    expect(ini['node5'].groups).toEqual(['k8s_cluster', 'kube_node']);
    expect(ini['node1'].groups).toEqual(['etcd', 'k8s_cluster', 'kube_control_plane']);
    // Host-line values are unquoted first (shlex), then typed, as Ansible does.
    expect(hostsOf('h1 a="True" b=False c=yes d=true\n', 'ini')['h1'].attributes).toEqual({
      a: 'true',
      b: 'false',
      c: 'yes',
      d: 'true',
    });
    // YAML: PyYAML's booleans, not the yaml package's y/n; quoted stays text.
    expect(
      hostsOf('all:\n  hosts:\n    h1: { a: y, b: "yes", c: On, d: FALSE, e: 0755 }\n', 'yaml')[
        'h1'
      ].attributes,
    ).toEqual({ a: 'y', b: 'yes', c: 'true', d: 'false', e: '493' });
  });

  it('vault values are never imported and are named (host, variable) in the result', () => {
    const text = fixture('kubespray-hosts.yaml');
    const r = readAnsibleInventory(text, 'yaml');
    expect(r.problems).toEqual([]);
    const stored = JSON.stringify(r.result);
    expect(stored).not.toContain('ANSIBLE_VAULT');
    for (const cipher of text.match(/^\s+([0-9a-f]{64,})$/gm)!)
      expect(stored).not.toContain(cipher.trim());
    expect(r.result!.vaultVars).toEqual([
      { host: 'node1', variable: 'cloud_endpoint' },
      { host: 'node1', variable: 'docker_registry' },
      { host: 'node1', variable: 'registry_login' },
      { host: 'node2', variable: 'cloud_endpoint' },
      { host: 'node2', variable: 'docker_registry' },
      { host: 'node3', variable: 'cloud_endpoint' },
      { host: 'node3', variable: 'docker_registry' },
    ]);
    const node3 = r.result!.hosts.find((h) => h.name === 'node3')!;
    expect(node3.attributes.registry_login).toBe('plain-on-purpose');
    expect(node3.attributes).not.toHaveProperty('cloud_endpoint');
    // An untagged vault blob is a vault value too; a vaulted connection setting is refused.
    expect(
      readAnsibleInventory(
        'all:\n  hosts:\n    h1:\n      token_x: "$ANSIBLE_VAULT;1.1;AES256\\n6162"\n',
        'yaml',
      ).result!.vaultVars,
    ).toEqual([{ host: 'h1', variable: 'token_x' }]);
    const refused = readAnsibleInventory(
      'all:\n  hosts:\n    h1:\n      ansible_user: !vault |\n        $ANSIBLE_VAULT;1.1;AES256\n        6162\n',
      'yaml',
    );
    expect(refused.problems.map((p) => `${p.line} ${p.message}`)).toEqual([
      '4 ansible_user: a vault-encrypted value cannot be imported (write it in clear)',
    ]);
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
      vaultVars: [],
    });
    expect(readAnsibleInventory('', 'yaml').result?.hosts).toEqual([]);
  });
});
