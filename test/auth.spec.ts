import { JwtService } from '@nestjs/jwt';
import { DataSource } from 'typeorm';
import { deriveKey } from '../src/config/keys.js';
import { ADMIN_PASSWORD, startTestApp, type TestApp } from './support/app.js';

describe('authentication and users (real app, real Postgres)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ LOGIN_MAX_ATTEMPTS: '3', LOGIN_WINDOW: '300' });
  });
  afterAll(async () => t.close());

  const auditOf = async (query: Record<string, string>) => {
    const res = await t.http().get('/audit').query(query).set('Authorization', t.adminAuth);
    expect(res.status).toBe(200);
    return res.body.items as Array<Record<string, unknown>>;
  };

  describe('login', () => {
    it('issues a session token that identifies the user', async () => {
      const res = await t
        .http()
        .post('/auth/login')
        .send({ username: 'admin', password: ADMIN_PASSWORD });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ tokenType: 'Bearer', expiresIn: 900 });
      const me = await t
        .http()
        .get('/auth/me')
        .set('Authorization', `Bearer ${res.body.accessToken}`);
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({
        username: 'admin',
        roles: ['admin'],
        via: 'session',
        hasPassword: true,
      });
      expect(me.body).not.toHaveProperty('passwordHash');
    });

    it('accepts the username in any case', async () => {
      const res = await t
        .http()
        .post('/auth/login')
        .send({ username: 'ADMIN', password: ADMIN_PASSWORD });
      expect(res.status).toBe(200);
    });

    it('refuses wrong credentials with one message, and audits the failure', async () => {
      const wrongPassword = await t
        .http()
        .post('/auth/login')
        .send({ username: 'admin', password: 'nope' });
      const noSuchUser = await t
        .http()
        .post('/auth/login')
        .send({ username: 'ghost', password: 'nope' });
      for (const res of [wrongPassword, noSuchUser]) {
        expect(res.status).toBe(401);
        expect(res.body.code).toBe('AUTH_INVALID_CREDENTIALS');
      }
      expect(wrongPassword.body.message).toBe(noSuchUser.body.message);
      const failures = await auditOf({ action: 'auth.login', outcome: 'failure', actor: 'ghost' });
      expect(failures).toHaveLength(1);
      expect(JSON.stringify(failures)).not.toContain('nope');
    });

    it('rate-limits failed logins per user and says when to retry', async () => {
      const victim = await t.userWithRoles(['viewer']);
      for (let i = 0; i < 3; i++) {
        const res = await t
          .http()
          .post('/auth/login')
          .send({ username: victim.username, password: 'wrong-password' });
        expect(res.status).toBe(401);
      }
      const limited = await t
        .http()
        .post('/auth/login')
        .send({ username: victim.username, password: 'wrong-password' });
      expect(limited.status).toBe(429);
      expect(limited.body.code).toBe('RATE_LIMITED');
      expect(limited.headers['retry-after']).toBe('300');
      const denied = await auditOf({
        action: 'auth.login',
        outcome: 'denied',
        actor: victim.username,
      });
      expect(denied[0].details).toEqual({ reason: 'rate_limited' });
    });

    it('rejects a malformed login body with the field named', async () => {
      const res = await t.http().post('/auth/login').send({ username: 'admin' });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.details).toContainEqual(expect.objectContaining({ path: 'password' }));
    });
  });

  describe('sessions', () => {
    it('refuses an expired session token as expired', async () => {
      const jwt = new JwtService({ secret: deriveKey(t.config.secretKey, 'jwt') });
      const me = await t.http().get('/auth/me').set('Authorization', t.adminAuth);
      const expired = await jwt.signAsync(
        { sub: me.body.id, username: 'admin', exp: Math.floor(Date.now() / 1000) - 10 },
        { issuer: 'firebreak', audience: 'firebreak' },
      );
      const res = await t.http().get('/auth/me').set('Authorization', `Bearer ${expired}`);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('AUTH_TOKEN_EXPIRED');
    });

    it('refuses a token signed with another key', async () => {
      const forged = await new JwtService({
        secret: 'another-key-another-key-another-key',
      }).signAsync(
        { sub: '00000000-0000-0000-0000-000000000000', username: 'admin' },
        { issuer: 'firebreak', audience: 'firebreak' },
      );
      const res = await t.http().get('/auth/me').set('Authorization', `Bearer ${forged}`);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('AUTH_TOKEN_INVALID');
    });

    it('refuses a malformed Authorization header', async () => {
      const res = await t.http().get('/auth/me').set('Authorization', 'Basic YWRtaW46YWRtaW4=');
      expect(res.status).toBe(401);
      expect(res.body.message).toMatch(/Bearer/);
    });

    it('a disabled user loses access at the next request', async () => {
      const u = await t.userWithRoles(['operator']);
      expect((await t.http().get('/auth/me').set('Authorization', u.auth)).status).toBe(200);
      const off = await t
        .http()
        .patch(`/users/${u.id}`)
        .set('Authorization', t.adminAuth)
        .send({ disabled: true });
      expect(off.status).toBe(200);
      const res = await t.http().get('/auth/me').set('Authorization', u.auth);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('AUTH_USER_DISABLED');
      expect((await auditOf({ action: 'user.disable', subjectId: u.id }))[0].actor).toBe('admin');
    });
  });

  describe('API tokens', () => {
    it('are shown once, stored hashed, work as bearer tokens, and stop working when revoked', async () => {
      const u = await t.userWithRoles(['responder']);
      const created = await t
        .http()
        .post('/auth/tokens')
        .set('Authorization', u.auth)
        .send({ name: 'ci' });
      expect(created.status).toBe(201);
      const token = created.body.token as string;
      expect(token).toMatch(/^fbk_[A-Za-z0-9_-]{43}$/);
      expect(created.body.prefix).toBe(token.slice(0, 10));

      const stored = (await t.app
        .get(DataSource)
        .query('SELECT token_hash FROM api_tokens WHERE id = $1', [created.body.id])) as Array<{
        token_hash: string;
      }>;
      expect(stored[0].token_hash).not.toContain(token.slice(4));

      const me = await t.http().get('/auth/me').set('Authorization', `Bearer ${token}`);
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ username: u.username, via: 'token' });

      const list = await t.http().get('/auth/tokens').set('Authorization', u.auth);
      expect(list.body).toHaveLength(1);
      expect(JSON.stringify(list.body)).not.toContain(token);

      const revoked = await t
        .http()
        .delete(`/auth/tokens/${created.body.id}`)
        .set('Authorization', u.auth);
      expect(revoked.status).toBe(200);
      expect(revoked.body.revokedAt).not.toBeNull();
      const after = await t.http().get('/auth/me').set('Authorization', `Bearer ${token}`);
      expect(after.status).toBe(401);
      expect(after.body.code).toBe('AUTH_TOKEN_REVOKED');

      const audit = await auditOf({ action: 'token', actor: u.username });
      expect(audit.map((e) => e.action).sort()).toEqual(['token.create', 'token.revoke']);
      expect(JSON.stringify(audit)).not.toContain(token);
    });

    it('refuse an unknown token and one that expired', async () => {
      const unknown = await t
        .http()
        .get('/auth/me')
        .set('Authorization', 'Bearer fbk_' + 'A'.repeat(43));
      expect(unknown.status).toBe(401);
      expect(unknown.body.code).toBe('AUTH_TOKEN_INVALID');

      const u = await t.userWithRoles(['viewer']);
      const past = await t
        .http()
        .post('/auth/tokens')
        .set('Authorization', u.auth)
        .send({ name: 'old', expiresAt: '2020-01-01T00:00:00Z' });
      expect(past.status).toBe(400);
      expect(past.body.details).toEqual([{ path: 'expiresAt', message: 'must be in the future' }]);

      const soon = new Date(Date.now() + 1500).toISOString();
      const created = await t
        .http()
        .post('/auth/tokens')
        .set('Authorization', u.auth)
        .send({ name: 'short', expiresAt: soon });
      expect(created.status).toBe(201);
      await new Promise((r) => setTimeout(r, 1600));
      const res = await t
        .http()
        .get('/auth/me')
        .set('Authorization', `Bearer ${created.body.token}`);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('AUTH_TOKEN_EXPIRED');
    });

    it('cannot be revoked by another user (404, no probing), but can by an admin', async () => {
      const owner = await t.userWithRoles(['operator']);
      const other = await t.userWithRoles(['operator']);
      const created = await t
        .http()
        .post('/auth/tokens')
        .set('Authorization', owner.auth)
        .send({ name: 'mine' });
      const res = await t
        .http()
        .delete(`/auth/tokens/${created.body.id}`)
        .set('Authorization', other.auth);
      expect(res.status).toBe(404);
      const listOther = await t
        .http()
        .get('/auth/tokens')
        .query({ userId: owner.id })
        .set('Authorization', other.auth);
      expect(listOther.status).toBe(403);
      const byAdmin = await t
        .http()
        .delete(`/auth/tokens/${created.body.id}`)
        .set('Authorization', t.adminAuth);
      expect(byAdmin.status).toBe(200);
    });
  });

  describe('user administration', () => {
    it('an admin creates, edits and disables users; roles and groups are validated', async () => {
      const created = await t
        .http()
        .post('/users')
        .set('Authorization', t.adminAuth)
        .send({
          username: 'carol',
          displayName: 'Carol',
          password: 'a-long-password',
          roles: ['operator'],
          groups: ['sre-lead'],
        });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        username: 'carol',
        roles: ['operator'],
        groups: ['sre-lead'],
        disabled: false,
      });
      expect(JSON.stringify(created.body)).not.toContain('a-long-password');

      const dup = await t
        .http()
        .post('/users')
        .set('Authorization', t.adminAuth)
        .send({ username: 'carol', displayName: 'Carol 2', roles: ['viewer'] });
      expect(dup.status).toBe(409);

      const bad = await t
        .http()
        .post('/users')
        .set('Authorization', t.adminAuth)
        .send({ username: 'Bad Name', displayName: '', roles: ['viewer', 'wizard'], extra: 1 });
      expect(bad.status).toBe(400);
      const paths = (bad.body.details as Array<{ path: string }>).map((d) => d.path).sort();
      expect(paths).toEqual(['displayName', 'extra', 'roles', 'username']);
      expect(bad.body.message).toMatch(
        /roles: each value must be one of viewer, responder, operator, admin/,
      );

      const edited = await t
        .http()
        .patch(`/users/${created.body.id}`)
        .set('Authorization', t.adminAuth)
        .send({ roles: ['responder'], groups: [] });
      expect(edited.body).toMatchObject({ roles: ['responder'], groups: [] });
      const audit = await auditOf({ action: 'user.update', subjectId: created.body.id });
      expect(audit[0].details).toMatchObject({
        changed: {
          roles: { from: ['operator'], to: ['responder'] },
          groups: { from: ['sre-lead'], to: [] },
        },
      });
    });

    it('refuses to leave the service without an enabled admin', async () => {
      const me = await t.http().get('/auth/me').set('Authorization', t.adminAuth);
      const res = await t
        .http()
        .patch(`/users/${me.body.id}`)
        .set('Authorization', t.adminAuth)
        .send({ roles: ['viewer'] });
      expect(res.status).toBe(409);
      const still = await t.http().get('/auth/me').set('Authorization', t.adminAuth);
      expect(still.body.roles).toEqual(['admin']);
    });

    it('a viewer gets 403 with the reason on user admin, and the denial is audited', async () => {
      const v = await t.userWithRoles(['viewer']);
      const res = await t.http().get('/users').set('Authorization', v.auth);
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({
        code: 'FORBIDDEN',
        message: 'your roles (viewer) do not allow manage on User',
      });
      const denials = await auditOf({ action: 'access.denied', actor: v.username });
      expect(denials[0]).toMatchObject({ outcome: 'denied', subjectType: 'User' });
      expect(denials[0].details).toMatchObject({ route: 'GET /users' });
    });

    it('a user reads their own record but not another one', async () => {
      const a = await t.userWithRoles(['responder']);
      const b = await t.userWithRoles(['responder']);
      expect((await t.http().get(`/users/${a.id}`).set('Authorization', a.auth)).status).toBe(200);
      expect((await t.http().get(`/users/${b.id}`).set('Authorization', a.auth)).status).toBe(404);
      expect(
        (
          await t
            .http()
            .patch(`/users/${a.id}`)
            .set('Authorization', a.auth)
            .send({ roles: ['admin'] })
        ).status,
      ).toBe(403);
    });
  });
});
