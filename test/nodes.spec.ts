import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { SYSTEM_ACTOR } from '../src/audit/audit.service.js';
import { HostKeysService } from '../src/nodes/host-keys.service.js';
import { NodeTargetsService } from '../src/nodes/node-targets.service.js';
import { startTestApp, type TestApp } from './support/app.js';

const INVENTORY_V1 = `# Managed in git; credentials are referenced by name only.
nodes:
  - name: web-1
    hostname: 10.0.0.11
    tags: [web, linux]
    attributes: { environment: production, region: eu-west-1 }
  - name: web-2
    hostname: 10.0.0.12
    tags: [web, linux]
    attributes: { environment: staging, region: eu-west-1 }
  - name: db-1
    hostname: 10.0.1.1
    port: 2222
    user: postgres
    tags: [db, linux]
    attributes: { environment: production }
    trustOnFirstUse: true
clusters:
  - name: web
    description: Web tier
    nodes: [web-*]
  - name: production
    filter: { attributes: { environment: production } }
`;

/** web-1 moves to port 2200 with a user, db-1 leaves the file, the web cluster is renamed. */
const INVENTORY_V2 = INVENTORY_V1.replace(
  '    hostname: 10.0.0.11\n',
  '    hostname: 10.0.0.11\n    port: 2200\n    user: deploy\n',
)
  .replace(/ {2}- name: db-1[\s\S]*?trustOnFirstUse: true\n/, '')
  .replace('description: Web tier', 'description: Public web tier');

function keyPair(passphrase?: string) {
  const { privateKey } = generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: passphrase
      ? { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }
      : { type: 'pkcs8', format: 'pem' },
  });
  return privateKey;
}

const PRIVATE_KEY = keyPair();
const PASSPHRASE = 'passphrase-never-logged-7f3a';
const ENCRYPTED_KEY = keyPair(PASSPHRASE);
const PASSWORD = 'db-password-never-logged-91c2';
const NEW_PASSWORD = 'rotated-password-never-logged-5d0e';
const ANSIBLE_SECRET = 'ansible-secret-never-imported-3b7a';
/** A line of the key's base64 body: enough to find it anywhere. */
const keyBody = (pem: string) => pem.split('\n')[1];

describe('node inventory, clusters and credentials (real app, real Postgres)', () => {
  let t: TestApp;
  let dir: string;
  let targets: NodeTargetsService;
  let hostKeys: HostKeysService;

  const get = (path: string, auth = t.adminAuth) => t.http().get(path).set('Authorization', auth);
  const post = (path: string, body: object = {}, auth = t.adminAuth) =>
    t.http().post(path).set('Authorization', auth).send(body);
  const patch = (path: string, body: object, auth = t.adminAuth) =>
    t.http().patch(path).set('Authorization', auth).send(body);
  const del = (path: string, auth = t.adminAuth) =>
    t.http().delete(path).set('Authorization', auth);
  const names = (res: { body: Array<{ name: string }> }) => res.body.map((n) => n.name);
  const writeInventory = (text: string) => writeFileSync(join(dir, 'inventory.yaml'), text);
  const sql = async <T = Record<string, unknown>>(text: string, params: unknown[] = []) => {
    const c = new pg.Client({ connectionString: t.db.url });
    await c.connect();
    try {
      return (await c.query(text, params)).rows as T[];
    } finally {
      await c.end();
    }
  };
  const nodeId = async (name: string) => (await get(`/nodes/${name}`)).body.id as string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-inventory-'));
    writeInventory(INVENTORY_V1);
    t = await startTestApp({ RUNBOOKS_DIR: dir });
    targets = t.app.get(NodeTargetsService);
    hostKeys = t.app.get(HostKeysService);
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('syncs inventory.yaml at start: nodes, and clusters with their members', async () => {
    const res = await get('/nodes');
    expect(res.status).toBe(200);
    expect(names(res)).toEqual(['db-1', 'web-1', 'web-2']);
    expect(res.body[0]).toMatchObject({
      name: 'db-1',
      hostname: '10.0.1.1',
      port: 2222,
      user: 'postgres',
      tags: ['db', 'linux'],
      attributes: { environment: 'production' },
      clusters: ['production'],
      credential: null,
      hostKeyFingerprint: null,
      trustOnFirstUse: true,
      source: 'file',
      sourcePath: 'inventory.yaml',
      disabled: false,
    });
    // No user anywhere: root, as OpenSSH would not guess either.
    expect(res.body[1]).toMatchObject({ name: 'web-1', user: 'root', username: null, port: 22 });

    const clusters = await get('/clusters');
    expect(clusters.body).toEqual([
      expect.objectContaining({
        name: 'production',
        filter: { attributes: { environment: 'production' } },
        nodes: null,
        members: ['db-1', 'web-1'],
        source: 'file',
      }),
      expect.objectContaining({
        name: 'web',
        description: 'Web tier',
        nodes: ['web-*'],
        members: ['web-1', 'web-2'],
      }),
    ]);
    const report = await get('/nodes/sync');
    expect(report.body).toMatchObject({
      file: 'inventory.yaml',
      applied: true,
      nodes: { created: ['web-1', 'web-2', 'db-1'] },
      clusters: { created: ['web', 'production'] },
      problems: [],
    });
    const audit = await get('/audit?action=node.create');
    expect(audit.body.items).toHaveLength(3);
    expect(audit.body.items[0].actor).toBe('system');
  });

  it('an edit updates on re-sync; a node left out is disabled, not deleted; API nodes stay', async () => {
    const api = await post('/nodes', {
      name: 'api-1',
      hostname: '10.0.2.1',
      tags: ['linux', 'api'],
      attributes: { environment: 'production' },
    });
    expect(api.status).toBe(201);
    expect(api.body).toMatchObject({ source: 'api', clusters: ['production'], user: 'root' });

    writeInventory(INVENTORY_V2);
    const res = await post('/nodes/sync');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      applied: true,
      nodes: { created: [], updated: ['web-1'], disabled: ['db-1'], unchanged: ['web-2'] },
      clusters: { created: [], updated: ['web'], deleted: [], unchanged: ['production'] },
      problems: [],
    });
    expect(names(await get('/nodes'))).toEqual(['api-1', 'web-1', 'web-2']);
    const all = await get('/nodes?includeDisabled=true');
    expect(all.body.find((n: { name: string }) => n.name === 'db-1').disabled).toBe(true);
    expect((await get('/nodes/web-1')).body).toMatchObject({ port: 2200, user: 'deploy' });
    expect((await get('/nodes/api-1')).body).toMatchObject({ source: 'api', disabled: false });

    const again = await post('/nodes/sync');
    expect(again.body.nodes).toEqual({
      created: [],
      updated: [],
      disabled: [],
      unchanged: ['web-1', 'web-2'],
    });

    const disabled = await get(`/audit?action=node.disable&subjectId=${await nodeId('db-1')}`);
    expect(disabled.body.items[0].details).toMatchObject({
      name: 'db-1',
      reason: 'no longer in inventory.yaml',
    });
    const updated = await get(`/audit?action=node.update&subjectId=${await nodeId('web-1')}`);
    expect(updated.body.items[0].details.changed).toEqual({
      port: { from: 22, to: 2200 },
      username: { from: null, to: 'deploy' },
    });
  });

  it('an invalid file changes nothing and reports file:line:col', async () => {
    const before = await get('/nodes?includeDisabled=true');
    const bad = INVENTORY_V2.replace(
      '    hostname: 10.0.0.12\n',
      '    hostname: 10.0.0.12\n    prot: 22\n',
    ).replace('port: 2200', 'port: 2201');
    writeInventory(bad);
    const line = bad.split('\n').indexOf('    prot: 22') + 1;
    const res = await post('/nodes/sync');
    expect(res.body.applied).toBe(false);
    expect(res.body.problems).toEqual([
      {
        file: 'inventory.yaml',
        path: 'nodes[1].prot',
        line,
        col: 5,
        message: 'unknown key "prot" (did you mean "port"?)',
      },
    ]);
    expect((await get('/nodes?includeDisabled=true')).body).toEqual(before.body);
    expect((await get('/nodes/sync')).body.problems).toHaveLength(1);
    const audit = await get('/audit?action=node.sync&outcome=failure');
    expect(audit.body.items[0].details).toMatchObject({ applied: false, problems: 1 });

    writeInventory(
      INVENTORY_V2.replace('  - name: web-2', '  - name: web-2\n    credential: nope'),
    );
    const missing = await post('/nodes/sync');
    expect(missing.body.problems[0]).toMatchObject({
      path: 'nodes[1].credential',
      message: expect.stringMatching(/^no credential named "nope"/),
    });
    writeInventory(INVENTORY_V2);
  });

  it('the file owns its nodes and clusters: API edits are refused with a reason', async () => {
    const res = await patch('/nodes/web-1', { port: 22 });
    expect(res.status).toBe(409);
    expect(res.body.message).toBe('node "web-1" comes from inventory.yaml: edit the file and sync');
    expect((await del('/nodes/web-1')).status).toBe(409);
    expect((await patch('/clusters/web', { description: 'x' })).status).toBe(409);
  });

  it('resolves node filters: tags all/any, attributes, cluster, exclude, globs', async () => {
    const resolve = async (filter: object) => {
      const res = await post('/nodes/resolve', filter);
      expect(res.status).toBe(200);
      return names(res);
    };
    expect(await resolve({})).toEqual(['api-1', 'web-1', 'web-2']); // db-1 is disabled
    expect(await resolve({ tags: ['web', 'linux'] })).toEqual(['web-1', 'web-2']);
    expect(await resolve({ tagsAny: ['api', 'db'] })).toEqual(['api-1']);
    expect(await resolve({ attributes: { environment: 'production' } })).toEqual([
      'api-1',
      'web-1',
    ]);
    expect(await resolve({ cluster: 'production' })).toEqual(['api-1', 'web-1']);
    expect(await resolve({ cluster: 'web', exclude: ['web-2'] })).toEqual(['web-1']);
    expect(await resolve({ names: ['web-*', 'api-?'], exclude: ['*-2'] })).toEqual([
      'api-1',
      'web-1',
    ]);
    const preview = await post('/nodes/resolve', { names: ['web-1'] });
    expect(preview.body[0].clusters).toEqual(['production', 'web']);

    const unknown = await post('/nodes/resolve', { cluster: 'prodution' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.details).toEqual([
      { path: 'cluster', message: 'no cluster named "prodution" (did you mean "production"?)' },
    ]);
    const bad = await post('/nodes/resolve', { tags: 'web', colour: 'blue' });
    expect(bad.status).toBe(400);
    expect(new Set(bad.body.details.map((d: { path: string }) => d.path))).toEqual(
      new Set(['colour', 'tags']),
    );

    // The same filters as a query string.
    expect(names(await get('/nodes?attr.environment=production&tag=linux'))).toEqual([
      'api-1',
      'web-1',
    ]);
    expect(names(await get('/nodes?name=web-*&exclude=web-1'))).toEqual(['web-2']);
    const json = encodeURIComponent(JSON.stringify({ tagsAny: ['api'] }));
    expect(names(await get(`/nodes?filter=${json}`))).toEqual(['api-1']);
    const badQuery = await get('/nodes?tags=web');
    expect(badQuery.status).toBe(400);
    expect(badQuery.body.details).toEqual([
      { path: 'tags', message: 'unknown query parameter (did you mean "tag"?)' },
    ]);
  });

  it('NodeTargetsService.resolve: the engine view, never a disabled node', async () => {
    const resolved = await targets.resolve({ tags: ['linux'] });
    expect(resolved.map((n) => n.name)).toEqual(['api-1', 'web-1', 'web-2']);
    expect(resolved[1]).toEqual({
      id: await nodeId('web-1'),
      name: 'web-1',
      hostname: '10.0.0.11',
      port: 2200,
      user: 'deploy',
      tags: ['web', 'linux'],
      attributes: { environment: 'production', region: 'eu-west-1' },
      clusters: ['production', 'web'],
      credentialId: null,
      hostKeyFingerprint: null,
      trustOnFirstUse: false,
      connection: 'ssh',
    });
    // Names a caller picked do not narrow (the caller does); they only let the built-in node in
    // (test/local-connection.spec.ts).
    expect((await targets.resolve({ tagsAny: ['web'] }, ['api-1'])).map((n) => n.name)).toEqual([
      'web-1',
      'web-2',
    ]);
  });

  it('node CRUD through the API, with validation errors naming fields', async () => {
    const bad = await post('/nodes', {
      name: 'bad name',
      port: 70000,
      tags: ['ok', 'not ok'],
      attributes: { environment: 5 },
      hostKey: 'MD5:aa',
      sudo: true,
    });
    expect(bad.status).toBe(400);
    expect(bad.body.details.map((d: { path: string }) => d.path).sort()).toEqual([
      'attributes',
      'hostKey',
      'name',
      'port',
      'sudo',
      'tags',
    ]);
    expect(bad.body.details).toContainEqual({
      path: 'port',
      message: 'must not be greater than 65535',
    });

    expect((await post('/nodes', { name: 'api-1' })).status).toBe(409);
    const noCred = await post('/nodes', { name: 'x-1', credential: 'deploy-kye' });
    expect(noCred.status).toBe(400);
    expect(noCred.body.details).toEqual([
      { path: 'credential', message: 'no credential named "deploy-kye"' },
    ]);

    const created = await post('/nodes', { name: 'tmp-1', tags: ['tmp'] });
    expect(created.body).toMatchObject({ hostname: 'tmp-1', port: 22, source: 'api' });
    const edited = await patch(`/nodes/${created.body.id as string}`, {
      attributes: { environment: 'staging' },
      user: 'ops',
    });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ user: 'ops', attributes: { environment: 'staging' } });
    const off = await patch('/nodes/tmp-1', { disabled: true });
    expect(off.body.disabled).toBe(true);
    expect(names(await get('/nodes'))).not.toContain('tmp-1');
    expect((await del('/nodes/tmp-1')).status).toBe(204);
    expect((await get('/nodes/tmp-1')).status).toBe(404);
    expect((await get('/nodes/not%20a%20name')).status).toBe(400);
    const audit = await get(`/audit?subjectId=${created.body.id as string}`);
    expect(audit.body.items.map((e: { action: string }) => e.action)).toEqual([
      'node.delete',
      'node.disable',
      'node.update',
      'node.create',
    ]);
  });

  it('cluster CRUD through the API', async () => {
    const both = await post('/clusters', {
      name: 'edge',
      nodes: ['web-2'],
      filter: { tags: ['x'] },
    });
    expect(both.status).toBe(400);
    expect(both.body.details).toEqual([
      { path: 'nodes', message: 'give nodes or filter, not both' },
    ]);
    const badFilter = await post('/clusters', { name: 'edge', filter: { cluster: 'web' } });
    expect(badFilter.status).toBe(400);
    expect(badFilter.body.details[0].path).toBe('filter.cluster');

    const created = await post('/clusters', { name: 'edge', nodes: ['web-2'] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ members: ['web-2'], source: 'api' });
    const edited = await patch('/clusters/edge', { filter: { tags: ['api'] } });
    expect(edited.body).toMatchObject({
      nodes: null,
      filter: { tags: ['api'] },
      members: ['api-1'],
    });
    expect((await get('/nodes/api-1')).body.clusters).toEqual(['edge', 'production']);
    expect((await del('/clusters/edge')).status).toBe(204);
    expect((await get('/clusters/edge')).status).toBe(404);
    const actions = (await get('/audit?action=cluster&subjectType=Cluster')).body.items.map(
      (e: { action: string }) => e.action,
    );
    expect(actions.slice(0, 3)).toEqual(['cluster.delete', 'cluster.update', 'cluster.create']);
  });

  it('credentials are write-only: responses and the database row never hold the key', async () => {
    const res = await post('/credentials', {
      name: 'deploy-key',
      type: 'ssh-key',
      username: 'deploy',
      privateKey: PRIVATE_KEY,
    });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual([
      'createdAt',
      'id',
      'name',
      'publicFingerprint',
      'rotatedAt',
      'type',
      'updatedAt',
      'username',
    ]);
    expect(res.body.publicFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(JSON.stringify(res.body)).not.toContain(keyBody(PRIVATE_KEY));
    const list = await get('/credentials');
    expect(JSON.stringify(list.body)).not.toContain(keyBody(PRIVATE_KEY));
    expect(list.body).toEqual([expect.objectContaining({ name: 'deploy-key', type: 'ssh-key' })]);

    const [row] = await sql<{ ciphertext: Buffer; iv: Buffer; auth_tag: Buffer }>(
      'SELECT ciphertext, iv, auth_tag FROM credentials WHERE name = $1',
      ['deploy-key'],
    );
    expect(row.iv).toHaveLength(12);
    expect(row.auth_tag).toHaveLength(16);
    for (const enc of ['utf8', 'latin1', 'base64', 'hex'] as const) {
      expect(row.ciphertext.toString(enc)).not.toContain(keyBody(PRIVATE_KEY));
      expect(row.ciphertext.toString(enc)).not.toContain('PRIVATE KEY');
    }

    const pw = await post('/credentials', {
      name: 'db-password',
      type: 'password',
      username: 'postgres',
      password: PASSWORD,
    });
    expect(pw.status).toBe(201);
    expect(pw.body.publicFingerprint).toBeNull();

    const wrong = await post('/credentials', {
      name: 'enc-key',
      type: 'ssh-key',
      privateKey: ENCRYPTED_KEY,
      passphrase: 'not-it',
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body.details).toEqual([
      { path: 'passphrase', message: 'the passphrase does not decrypt this key' },
    ]);
    const enc = await post('/credentials', {
      name: 'enc-key',
      type: 'ssh-key',
      privateKey: ENCRYPTED_KEY,
      passphrase: PASSPHRASE,
    });
    expect(enc.status).toBe(201);

    const invalid = await post('/credentials', {
      name: 'Bad Name',
      type: 'token',
      password: 'x',
      privateKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFJpr6EJ me',
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.details.map((d: { path: string }) => d.path).sort()).toEqual([
      'name',
      'type',
    ]);
    const pub = await post('/credentials', {
      name: 'pub-key',
      type: 'ssh-key',
      privateKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFJpr6EJ me',
    });
    expect(pub.body.details).toEqual([
      { path: 'privateKey', message: 'this is a public key: send the private key' },
    ]);
    expect(
      (await post('/credentials', { name: 'db-password', type: 'password', password: 'x' })).status,
    ).toBe(409);
  });

  it('connectionTarget decrypts the credential; the user falls back to the credential', async () => {
    writeInventory(
      INVENTORY_V2.replace(
        '    attributes: { environment: production, region: eu-west-1 }\n',
        '    attributes: { environment: production, region: eu-west-1 }\n    credential: deploy-key\n',
      ).replace(
        '    attributes: { environment: staging, region: eu-west-1 }\n',
        '    attributes: { environment: staging, region: eu-west-1 }\n    credential: deploy-key\n    hostKey: SHA256:LZMVckPigPlLEkdMsx0YjjANiL4Kaqk2BtVFdYLLKnE\n',
      ),
    );
    expect((await post('/nodes/sync')).body.nodes.updated).toEqual(['web-1', 'web-2']);
    const web2 = await get('/nodes/web-2');
    expect(web2.body).toMatchObject({
      user: 'deploy',
      username: null,
      credential: { name: 'deploy-key' },
    });

    expect(await targets.connectionTarget(web2.body.id as string)).toEqual({
      node: 'web-2',
      host: '10.0.0.12',
      port: 22,
      username: 'deploy',
      auth: { type: 'key', privateKey: PRIVATE_KEY },
      hostKey: {
        fingerprint: 'SHA256:LZMVckPigPlLEkdMsx0YjjANiL4Kaqk2BtVFdYLLKnE',
        trustOnFirstUse: false,
      },
    });

    await expect(targets.connectionTarget(await nodeId('api-1'))).rejects.toThrow(
      'node "api-1" has no credential: give it one (credential: NAME) before running on it',
    );
    await expect(targets.connectionTarget(await nodeId('db-1'))).rejects.toThrow(
      'node "db-1" is disabled',
    );

    expect((await patch('/nodes/api-1', { credential: 'db-password' })).status).toBe(200);
    expect(await targets.connectionTarget(await nodeId('api-1'))).toMatchObject({
      username: 'postgres',
      auth: { type: 'password', password: PASSWORD },
    });

    const enc1 = await post('/nodes', { name: 'enc-1', user: 'ops', credential: 'enc-key' });
    expect(await targets.connectionTarget(enc1.body.id as string)).toMatchObject({
      username: 'ops',
      auth: { type: 'key', privateKey: ENCRYPTED_KEY, passphrase: PASSPHRASE },
    });
  });

  it('a tampered or moved ciphertext fails loudly; rotating replaces the secret', async () => {
    const api1 = await nodeId('api-1');
    await sql(
      "UPDATE credentials SET ciphertext = set_byte(ciphertext, 0, get_byte(ciphertext, 0) # 1) WHERE name = 'db-password'",
    );
    await expect(targets.connectionTarget(api1)).rejects.toThrow(
      /credential "db-password" could not be decrypted: its stored ciphertext was altered or moved, or SECRET_KEY changed/,
    );
    const audit = await get('/audit?action=credential.decrypt&outcome=failure');
    expect(audit.body.items[0].details).toMatchObject({ name: 'db-password', node: 'api-1' });

    // A valid ciphertext copied onto another row does not decrypt there either.
    await sql(
      `UPDATE credentials c SET ciphertext = s.ciphertext, iv = s.iv, auth_tag = s.auth_tag
       FROM credentials s WHERE s.name = 'deploy-key' AND c.name = 'enc-key'`,
    );
    await expect(targets.connectionTarget(await nodeId('enc-1'))).rejects.toThrow(
      /credential "enc-key" could not be decrypted/,
    );

    const wrongType = await post('/credentials/db-password/rotate', { privateKey: PRIVATE_KEY });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.details).toContainEqual({
      path: 'privateKey',
      message: 'applies to type ssh-key only',
    });
    const rotated = await post('/credentials/db-password/rotate', { password: NEW_PASSWORD });
    expect(rotated.status).toBe(200);
    expect(rotated.body.rotatedAt).not.toBeNull();
    expect(await targets.connectionTarget(api1)).toMatchObject({
      auth: { type: 'password', password: NEW_PASSWORD },
    });
    const rotateAudit = await get('/audit?action=credential.rotate');
    expect(rotateAudit.body.items[0].details).toMatchObject({ name: 'db-password' });
  });

  it('a credential in use cannot be deleted; the answer names the nodes', async () => {
    const res = await del('/credentials/deploy-key');
    expect(res.status).toBe(409);
    expect(res.body.message).toBe(
      'credential "deploy-key" is used by 2 node(s): web-1, web-2; give them another credential first',
    );
    expect((await patch('/credentials/deploy-key', { username: 'ubuntu' })).body.username).toBe(
      'ubuntu',
    );
    const spare = await post('/credentials', {
      name: 'spare',
      type: 'password',
      password: 'spare-pw-1',
    });
    expect((await del(`/credentials/${spare.body.id as string}`)).status).toBe(204);
    expect((await get('/credentials/spare')).status).toBe(404);
  });

  it('host keys: TOFU pins once and is audited; a mismatch is audited as a failure', async () => {
    const tofu = await post('/nodes', { name: 'tofu-1', trustOnFirstUse: true });
    const id = tofu.body.id as string;
    const first = 'SHA256:' + 'A'.repeat(43);
    const second = 'SHA256:' + 'B'.repeat(43);
    expect(await hostKeys.learnHostKey(id, first, SYSTEM_ACTOR)).toBe(true);
    expect(await hostKeys.learnHostKey(id, second, SYSTEM_ACTOR)).toBe(false);
    expect((await get('/nodes/tofu-1')).body.hostKeyFingerprint).toBe(first);
    // Without trust on first use nothing is learned.
    expect(await hostKeys.learnHostKey(await nodeId('web-1'), first, SYSTEM_ACTOR)).toBe(false);

    await hostKeys.reportHostKeyMismatch(id, first, second, SYSTEM_ACTOR);
    const mismatch = await get('/audit?action=node.hostkey.mismatch');
    expect(mismatch.body.items[0]).toMatchObject({
      outcome: 'failure',
      subjectId: id,
      details: { name: 'tofu-1', expected: first, got: second },
    });
    expect((await get(`/audit?action=node.hostkey.learn&subjectId=${id}`)).body.items).toHaveLength(
      1,
    );

    const forgot = await del('/nodes/tofu-1/host-key');
    expect(forgot.body.hostKeyFingerprint).toBeNull();
    expect(await hostKeys.learnHostKey(id, second, SYSTEM_ACTOR)).toBe(true);
  });

  it('imports an Ansible INI inventory: groups become clusters, secrets stay out', async () => {
    const ini = `[app]
app-[1:2] ansible_user=app
web-1 ansible_host=10.9.9.9

[app:vars]
environment=production
ansible_password=${ANSIBLE_SECRET}

[backend:children]
app

[all:vars]
ansible_port=2022
`;
    const res = await post('/nodes/import/ansible', {
      format: 'ini',
      content: ini,
      credential: 'deploy-key',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      format: 'ini',
      created: ['app-1', 'app-2'],
      updated: [],
      skipped: [{ name: 'web-1', reason: 'managed by inventory.yaml' }],
      clusters: { created: ['app', 'backend'], updated: [], skipped: [] },
      ignoredVars: ['ansible_password'],
    });
    expect((await get('/nodes/app-2')).body).toMatchObject({
      hostname: 'app-2',
      port: 2022,
      user: 'app',
      attributes: { environment: 'production' },
      clusters: ['app', 'backend', 'production'],
      credential: { name: 'deploy-key' },
      source: 'ansible',
    });
    expect((await get('/nodes/web-1')).body.hostname).toBe('10.0.0.11');
    expect((await get('/clusters/backend')).body).toMatchObject({
      nodes: ['app-1', 'app-2', 'web-1'],
      source: 'ansible',
    });
    expect(JSON.stringify((await get('/nodes')).body)).not.toContain(ANSIBLE_SECRET);

    const broken = await post('/nodes/import/ansible', {
      format: 'ini',
      content: '[app]\napp-9 ansible_port=ssh\n',
    });
    expect(broken.status).toBe(400);
    expect(broken.body.message).toBe('(inventory.ini):2:7 ansible_port: expected a port 1-65535');
    expect((await get('/nodes/app-9')).status).toBe(404);
  });

  it('imports an Ansible YAML inventory and updates what it already knows', async () => {
    const yaml = `all:
  children:
    cache:
      vars: { environment: staging }
      hosts:
        cache-1: { ansible_host: 10.0.4.1 }
        app-1: { ansible_host: 10.0.3.100, ansible_port: 22 }
`;
    const res = await post('/nodes/import/ansible', { format: 'yaml', content: yaml });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      created: ['cache-1'],
      updated: ['app-1'],
      clusters: { created: ['cache'] },
    });
    expect((await get('/nodes/app-1')).body).toMatchObject({
      hostname: '10.0.3.100',
      port: 22,
      attributes: { environment: 'staging' },
      clusters: ['app', 'backend', 'cache'],
    });
    const again = await post('/nodes/import/ansible', { format: 'yaml', content: yaml });
    expect(again.body).toMatchObject({ created: [], updated: [], unchanged: ['app-1', 'cache-1'] });
    const bad = await post('/nodes/import/ansible', { format: 'toml', content: 'x' });
    expect(bad.body.details).toEqual([{ path: 'format', message: 'must be ini or yaml' }]);
  });

  it('imports a kubespray-shaped YAML inventory: vault values named, never stored; booleans as INI gives them', async () => {
    const content = readFileSync(
      join(import.meta.dirname, 'fixtures', 'ansible', 'kubespray-hosts.yaml'),
      'utf8',
    );
    const res = await post('/nodes/import/ansible', { format: 'yaml', content });
    expect(res.status).toBe(200);
    expect(res.body.created).toEqual(['node1', 'node2', 'node3']);
    expect(res.body.vaultVars).toContainEqual({ host: 'node1', variable: 'registry_login' });
    expect(res.body.vaultVars).toHaveLength(7);
    expect(JSON.stringify(res.body)).not.toContain('ANSIBLE_VAULT');
    const node1 = (await get('/nodes/node1')).body;
    expect(node1.attributes).toMatchObject({ kubeconfig_localhost: 'true', ip: '10.3.0.1' });
    expect(node1.attributes).not.toHaveProperty('registry_login');
    expect(JSON.stringify(node1)).not.toContain('ANSIBLE_VAULT');
    // The same boolean from INI selects the same nodes.
    const ini = await post('/nodes/import/ansible', {
      format: 'ini',
      content:
        '[k8s_ini]\nnode9 ansible_host=10.3.0.9\n[k8s_ini:vars]\nkubeconfig_localhost=True\n',
    });
    expect(ini.status).toBe(200);
    const picked = await post('/nodes/resolve', { attributes: { kubeconfig_localhost: 'true' } });
    expect(picked.status, JSON.stringify(picked.body)).toBe(200);
    expect(names(picked)).toEqual(['node1', 'node2', 'node3', 'node9']);
    const imports = await get('/audit?action=node.import&limit=5');
    expect(JSON.stringify(imports.body)).toContain('registry_login');
  });

  it('imports Rundeck resource models (POST /nodes/import/rundeck): nodes with tags and attributes; viewers 403; bad input 400 with the line, nothing written', async () => {
    const fixture = (f: string) =>
      readFileSync(join(import.meta.dirname, 'fixtures', 'import', 'rundeck-nodes', f), 'utf8');
    const content = fixture('resources.yaml');
    const viewer = await t.userWithRoles(['viewer']);
    const denied = await post('/nodes/import/rundeck', { format: 'yaml', content }, viewer.auth);
    expect(denied.status).toBe(403);
    expect((await get('/nodes/bartholemew')).status).toBe(404);

    const res = await post('/nodes/import/rundeck', { format: 'yaml', content });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      format: 'yaml',
      created: ['Venkman.local', 'Homestar.local', 'bartholemew'],
      updated: [],
      skipped: [],
      clusters: { created: [] },
    });
    expect((await get('/nodes/Homestar.local')).body).toMatchObject({
      hostname: 'Homestar.local',
      port: 22,
      user: 'greg',
      tags: ['redis_server', 'production'],
      attributes: { osName: 'Linux', description: 'The production redis server.' },
      source: 'api',
    });
    const picked = await post('/nodes/resolve', { tags: ['web', 'app'] });
    expect(names(picked)).toEqual(['bartholemew']);
    const again = await post('/nodes/import/rundeck', { format: 'yaml', content });
    expect(again.body).toMatchObject({ created: [], updated: [] });

    // A credential reference is named, never imported; the XML form through the same route.
    const json = await post('/nodes/import/rundeck', {
      format: 'json',
      content: fixture('resources.json'),
    });
    expect(json.body.created).toEqual(['madmartigan.local', 'test']);
    expect(json.body.ignoredVars).toEqual(['ssh-key-storage-path']);
    expect(json.body.notImported[0]).toMatchObject({
      node: 'test',
      attribute: 'ssh-key-storage-path',
    });
    expect(JSON.stringify((await get('/nodes/test')).body)).not.toContain('testkey1');
    const xml = await post('/nodes/import/rundeck', {
      format: 'xml',
      content: fixture('resources.xml'),
    });
    expect((await get('/nodes/centos54-deploy')).body).toMatchObject({
      hostname: '192.168.1.106',
      port: 4022,
    });
    expect(xml.body.created).toHaveLength(4);

    // Bad input: the second node has no hostname; the first is not written either.
    const bad = await post('/nodes/import/rundeck', {
      format: 'yaml',
      content: 'new-1:\n  hostname: 10.1.1.1\nnew-2:\n  username: deploy\n',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toBe('(resources.yaml):3:1 new-2: node "new-2" needs a hostname');
    expect((await get('/nodes/new-1')).status).toBe(404);
    const notXml = await post('/nodes/import/rundeck', {
      format: 'xml',
      content: '<project><node name="x"',
    });
    expect(notXml.status).toBe(400);
    expect(notXml.body.message).toMatch(/^\(resources\.xml\):1:\d+ .*XML: /);
    const wrong = await post('/nodes/import/rundeck', { format: 'ini', content: 'x' });
    expect(wrong.body.details).toEqual([{ path: 'format', message: 'must be yaml, xml or json' }]);

    const imports = await get('/audit?action=node.import&limit=3');
    expect(imports.body.items[0].details).toMatchObject({ kind: 'rundeck', format: 'xml' });
  });

  it('viewers read nodes and clusters, not credentials; denials are audited', async () => {
    const viewer = await t.userWithRoles(['viewer']);
    expect((await get('/nodes', viewer.auth)).status).toBe(200);
    expect((await get('/clusters', viewer.auth)).status).toBe(200);
    expect((await post('/nodes/resolve', { tags: ['web'] }, viewer.auth)).status).toBe(200);
    const denied = await get('/credentials', viewer.auth);
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({
      code: 'FORBIDDEN',
      message: 'your roles (viewer) do not allow read on Credential',
    });
    expect((await get('/credentials/deploy-key', viewer.auth)).status).toBe(403);
    expect(
      (await post('/credentials', { name: 'x', type: 'password', password: 'y' }, viewer.auth))
        .status,
    ).toBe(403);
    expect((await post('/nodes', { name: 'v-1' }, viewer.auth)).status).toBe(403);
    expect((await post('/nodes/sync', {}, viewer.auth)).status).toBe(403);
    const audit = await get(`/audit?action=access.denied&actor=${viewer.username}`);
    expect(audit.body.items.map((e: { subjectType: string }) => e.subjectType)).toEqual([
      'Node',
      'Node',
      'Credential',
      'Credential',
      'Credential',
    ]);
    expect(audit.body.items[4].details.route).toBe('GET /credentials');

    const operator = await t.userWithRoles(['operator']);
    const meta = await get('/credentials/deploy-key', operator.auth);
    expect(meta.status).toBe(200);
    expect(JSON.stringify(meta.body)).not.toContain(keyBody(PRIVATE_KEY));
    expect(
      (await post('/credentials/deploy-key/rotate', { privateKey: PRIVATE_KEY }, operator.auth))
        .status,
    ).toBe(403);
  });

  it('no audit entry holds a secret: key text, passphrase, passwords', async () => {
    const pages: string[] = [];
    let before: string | null = null;
    do {
      const res = await get(`/audit?limit=1000${before ? `&before=${before}` : ''}`);
      expect(res.status).toBe(200);
      pages.push(JSON.stringify(res.body));
      before = res.body.nextBefore as string | null;
    } while (before);
    const all = pages.join('');
    expect(all).toContain('credential.create');
    expect(all).toContain('credential.rotate');
    for (const secret of [
      keyBody(PRIVATE_KEY),
      keyBody(ENCRYPTED_KEY),
      'PRIVATE KEY',
      PASSPHRASE,
      PASSWORD,
      NEW_PASSWORD,
      ANSIBLE_SECRET,
      'ANSIBLE_VAULT',
    ]) {
      expect(all).not.toContain(secret);
    }
    expect((await get('/audit/verify')).body).toMatchObject({ ok: true });
  });
});
