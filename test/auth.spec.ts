import { randomBytes } from 'node:crypto';
import { JwtService } from '@nestjs/jwt';
import { DataSource } from 'typeorm';
import { deriveKey } from '../src/config/keys.js';
import { ADMIN_PASSWORD, startTestApp, type TestApp } from './support/app.js';
import { createTestDatabase, openDataSource } from './support/database.js';

describe('authentication and users (real app, real Postgres)', () => {
  let t: TestApp;

  beforeAll(async () => {
    // TRUST_PROXY: each throttling test speaks from its own X-Forwarded-For address.
    t = await startTestApp({ LOGIN_MAX_ATTEMPTS: '2', LOGIN_WINDOW: '300', TRUST_PROXY: 'true' });
  });
  afterAll(async () => t.close());

  const auditOf = async (query: Record<string, string>) => {
    const res = await t.http().get('/audit').query(query).set('Authorization', t.adminAuth);
    expect(res.status).toBe(200);
    return res.body.items as Array<Record<string, unknown>>;
  };

  /** A login as seen from `source` (TEST-NET addresses; nothing is sent to them). */
  const loginFrom = (source: string, username: string, password: string) =>
    t.http().post('/auth/login').set('X-Forwarded-For', source).send({ username, password });

  /** A user whose password the test knows. */
  const userWithPassword = async (roles: string[]) => {
    const username = `u-${randomBytes(4).toString('hex')}`;
    const password = `pw-${randomBytes(12).toString('hex')}`;
    const res = await t
      .http()
      .post('/users')
      .set('Authorization', t.adminAuth)
      .send({ username, displayName: username, password, roles });
    expect(res.status).toBe(201);
    return { id: res.body.id as string, username, password };
  };

  const me = (auth: string) => t.http().get('/auth/me').set('Authorization', auth);

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
      for (let i = 0; i < 2; i++) {
        const res = await loginFrom('192.0.2.10', victim.username, 'wrong-password');
        expect(res.status).toBe(401);
      }
      const limited = await loginFrom('192.0.2.10', victim.username, 'wrong-password');
      expect(limited.status).toBe(429);
      expect(limited.body.code).toBe('RATE_LIMITED');
      expect(limited.headers['retry-after']).toBe('300');
      const denied = await auditOf({
        action: 'auth.login',
        outcome: 'denied',
        actor: victim.username,
      });
      expect(denied[0].details).toEqual({ reason: 'rate_limited', scope: 'user', retryAfter: 300 });
    });

    it('counts parallel guesses atomically: 20 at once, exactly the limit are checked', async () => {
      const victim = await userWithPassword(['viewer']);
      const results = await Promise.all(
        Array.from({ length: 20 }, () => loginFrom('192.0.2.20', victim.username, 'wrong')),
      );
      const statuses = results.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 401)).toHaveLength(2);
      expect(statuses.filter((s) => s === 429)).toHaveLength(18);
      const failures = await auditOf({
        action: 'auth.login',
        outcome: 'failure',
        actor: victim.username,
      });
      expect(failures).toHaveLength(2);
    });

    it('is no lockout lever: a flood against admin from one address leaves admin in from another', async () => {
      for (let i = 0; i < 3; i++) await loginFrom('192.0.2.30', 'admin', 'guess-' + i);
      const fromAttacker = await loginFrom('192.0.2.30', 'admin', ADMIN_PASSWORD);
      expect(fromAttacker.status).toBe(429);
      expect(fromAttacker.body.details).toMatchObject({ scope: 'user' });
      const fromAdmin = await loginFrom('198.51.100.1', 'admin', ADMIN_PASSWORD);
      expect(fromAdmin.status).toBe(200);
    });

    it('limits each source address over all usernames (4× the per-user limit), not others', async () => {
      const real = await userWithPassword(['viewer']);
      // Eight different names, one guess each: no (username, address) pair reaches its limit.
      const guesses = await Promise.all(
        Array.from({ length: 8 }, (_, i) => loginFrom('192.0.2.40', `spray-${i}`, 'password1')),
      );
      expect(guesses.map((r) => r.status)).toEqual(Array(8).fill(401));
      const next = await loginFrom('192.0.2.40', real.username, real.password);
      expect(next.status).toBe(429);
      expect(next.body.details).toMatchObject({ scope: 'source' });
      expect(next.headers['retry-after']).toBe('300');
      expect((await loginFrom('192.0.2.41', real.username, real.password)).status).toBe(200);
      const denied = await auditOf({
        action: 'auth.login',
        outcome: 'denied',
        actor: real.username,
      });
      expect(denied[0].details).toMatchObject({ reason: 'rate_limited', scope: 'source' });
    });

    it('backs off: the next block after one has passed lasts twice as long', async () => {
      const name = `ghost-${randomBytes(3).toString('hex')}`;
      for (let i = 0; i < 2; i++) await loginFrom('192.0.2.50', name, 'x');
      expect((await loginFrom('192.0.2.50', name, 'x')).headers['retry-after']).toBe('300');
      // Let the block pass (in the database, not by waiting).
      await t.app
        .get(DataSource)
        .query(
          `UPDATE login_throttle SET blocked_until = now() - interval '1 second', window_started_at = now() - interval '10 minutes' WHERE scope = 'user' AND username = $1`,
          [name],
        );
      const again = [];
      for (let i = 0; i < 3; i++) again.push((await loginFrom('192.0.2.50', name, 'x')).status);
      expect(again).toEqual([401, 401, 429]);
      expect((await loginFrom('192.0.2.50', name, 'x')).headers['retry-after']).toBe('600');
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

  describe('session endings', () => {
    it('POST /auth/logout ends the current session, and only that one', async () => {
      const u = await userWithPassword(['responder']);
      const one = await t.login(u.username, u.password);
      const two = await t.login(u.username, u.password);
      const out = await t.http().post('/auth/logout').set('Authorization', one);
      expect(out.status).toBe(204);
      const after = await me(one);
      expect(after.status).toBe(401);
      expect(after.body).toMatchObject({
        code: 'AUTH_SESSION_ENDED',
        message: 'the session was ended (logged out); log in again',
      });
      expect((await me(two)).status).toBe(200);
      const audit = await auditOf({ action: 'auth.logout', actor: u.username });
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ outcome: 'success', subjectType: 'Session' });

      const token = (
        await t.http().post('/auth/tokens').set('Authorization', two).send({ name: 'x' })
      ).body.token as string;
      const byToken = await t.http().post('/auth/logout').set('Authorization', `Bearer ${token}`);
      expect(byToken.status).toBe(400);
      expect(byToken.body.details).toEqual([
        { path: 'Authorization', message: 'an API token, not a session' },
      ]);
    });

    it('a password, role or group change ends the user’s sessions; a new name does not', async () => {
      const u = await userWithPassword(['responder']);
      const patch = (body: Record<string, unknown>) =>
        t.http().patch(`/users/${u.id}`).set('Authorization', t.adminAuth).send(body);
      let session = await t.login(u.username, u.password);
      expect((await patch({ displayName: 'Renamed' })).status).toBe(200);
      expect((await me(session)).status).toBe(200);

      const changes: Array<[Record<string, unknown>, string]> = [
        [{ roles: ['operator'] }, 'roles changed'],
        [{ groups: ['sre'] }, 'groups changed'],
        [{ password: 'a-brand-new-password' }, 'password changed'],
      ];
      for (const [body, reason] of changes) {
        expect((await patch(body)).status).toBe(200);
        const res = await me(session);
        expect([res.status, res.body.code, res.body.message]).toEqual([
          401,
          'AUTH_SESSION_ENDED',
          `the session was ended (${reason}); log in again`,
        ]);
        session = await t.login(u.username, (body.password as string) ?? u.password);
        expect((await me(session)).status).toBe(200);
      }
      const audit = await auditOf({ action: 'user.update', subjectId: u.id });
      expect(audit.map((e) => (e.details as { sessionsEnded?: number }).sessionsEnded)).toEqual([
        1,
        1,
        1,
        undefined,
      ]);
    });

    it('disabling a user ends their sessions and revokes their tokens; re-enabling restores neither', async () => {
      const u = await userWithPassword(['responder']);
      const session = await t.login(u.username, u.password);
      const token = (
        await t.http().post('/auth/tokens').set('Authorization', session).send({ name: 'ci' })
      ).body.token as string;
      const patch = (disabled: boolean) =>
        t.http().patch(`/users/${u.id}`).set('Authorization', t.adminAuth).send({ disabled });
      expect((await patch(true)).status).toBe(200);
      expect((await patch(false)).status).toBe(200);
      const bySession = await me(session);
      expect([bySession.status, bySession.body.code]).toEqual([401, 'AUTH_SESSION_ENDED']);
      const byToken = await me(`Bearer ${token}`);
      expect([byToken.status, byToken.body.code]).toEqual([401, 'AUTH_TOKEN_REVOKED']);
      const [entry] = await auditOf({ action: 'user.disable', subjectId: u.id });
      expect(entry.details).toMatchObject({ sessionsEnded: 1, tokensRevoked: 1 });
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

      const created = await t
        .http()
        .post('/auth/tokens')
        .set('Authorization', u.auth)
        .send({ name: 'short', expiresAt: new Date(Date.now() + 60_000).toISOString() });
      expect(created.status).toBe(201);
      // Let it expire in the database rather than by waiting.
      await t.app
        .get(DataSource)
        .query(`UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [
          created.body.id,
        ]);
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

  describe('API token rules', () => {
    it('only an interactive session creates tokens: a token gets 403 with the reason, audited', async () => {
      const u = await t.userWithRoles(['operator']);
      const first = await t
        .http()
        .post('/auth/tokens')
        .set('Authorization', u.auth)
        .send({ name: 'a' });
      expect(first.status).toBe(201);
      const minted = await t
        .http()
        .post('/auth/tokens')
        .set('Authorization', `Bearer ${first.body.token as string}`)
        .send({ name: 'b' });
      expect(minted.status).toBe(403);
      expect(minted.body).toMatchObject({
        code: 'FORBIDDEN',
        message:
          'API tokens are created only from an interactive session (POST /auth/login), not with an API token',
      });
      const list = await t.http().get('/auth/tokens').set('Authorization', u.auth);
      expect(list.body).toHaveLength(1);
      const [denial] = await auditOf({ action: 'access.denied', actor: u.username });
      expect(denial).toMatchObject({ outcome: 'denied', subjectType: 'ApiToken' });
    });

    it('expire after TOKEN_DEFAULT_TTL unless asked, and never later than TOKEN_MAX_TTL', async () => {
      const u = await t.userWithRoles(['viewer']);
      const create = (body: Record<string, unknown>) =>
        t.http().post('/auth/tokens').set('Authorization', u.auth).send(body);
      const day = 86400_000;
      const before = Date.now();
      const byDefault = await create({ name: 'default' });
      expect(byDefault.status).toBe(201);
      const expires = Date.parse(byDefault.body.expiresAt as string);
      expect(expires).toBeGreaterThanOrEqual(before + 30 * day - 1000);
      expect(expires).toBeLessThanOrEqual(Date.now() + 30 * day + 1000);

      const tooLong = await create({
        name: 'forever',
        expiresAt: new Date(Date.now() + 366 * day).toISOString(),
      });
      expect(tooLong.status).toBe(400);
      expect(tooLong.body.details).toEqual([
        { path: 'expiresAt', message: 'must be at most 365 days from now (TOKEN_MAX_TTL)' },
      ]);
      const longest = await create({
        name: 'a-year',
        expiresAt: new Date(Date.now() + 364 * day).toISOString(),
      });
      expect(longest.status).toBe(201);
    });

    it('compare the whole token: one sharing a real token’s first characters is refused', async () => {
      const u = await t.userWithRoles(['viewer']);
      const created = await t
        .http()
        .post('/auth/tokens')
        .set('Authorization', u.auth)
        .send({ name: 'x' });
      const token = created.body.token as string;
      const flip = (c: string) => (c === 'A' ? 'B' : 'A');
      const forgeries = [
        token.slice(0, 8) + 'A'.repeat(token.length - 8),
        token.slice(0, 10) + [...token.slice(10)].map(flip).join(''),
        token.slice(0, -1) + flip(token.slice(-1)),
        token.slice(0, 10),
        token + 'A',
      ];
      for (const forged of forgeries) {
        const res = await me(`Bearer ${forged}`);
        expect([forged, res.status, res.body.code]).toEqual([forged, 401, 'AUTH_TOKEN_INVALID']);
      }
      expect((await me(`Bearer ${token}`)).status).toBe(200);
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

describe('the Sessions migration (real Postgres)', () => {
  it('gives tokens that never expired an expiry: 30 days from now, or their revocation time', async () => {
    const db = await createTestDatabase();
    const ds = await openDataSource(db.url);
    try {
      const names = (await ds.query('SELECT name FROM migrations ORDER BY id DESC')) as Array<{
        name: string;
      }>;
      const upTo = names.findIndex((m) => m.name === 'Sessions1795443000000');
      expect(upTo).toBeGreaterThanOrEqual(0);
      for (let i = 0; i <= upTo; i++) await ds.undoLastMigration({ transaction: 'each' });
      const [user] = (await ds.query(
        `INSERT INTO users (username, display_name, roles) VALUES ('old', 'Old', '{viewer}') RETURNING id`,
      )) as Array<{ id: string }>;
      await ds.query(
        `INSERT INTO api_tokens (user_id, name, token_hash, prefix, expires_at, revoked_at) VALUES
           ($1, 'forever', repeat('a', 64), 'fbk_a', NULL, NULL),
           ($1, 'revoked', repeat('b', 64), 'fbk_b', NULL, '2026-01-01T00:00:00Z'),
           ($1, 'dated', repeat('c', 64), 'fbk_c', '2027-01-01T00:00:00Z', NULL)`,
        [user.id],
      );
      await ds.runMigrations({ transaction: 'each' });
      const rows = (await ds.query(
        `SELECT name, extract(epoch FROM expires_at - now())::int AS "inSeconds",
                expires_at = revoked_at AS "atRevocation", expires_at AS "expiresAt"
           FROM api_tokens ORDER BY name`,
      )) as Array<{ name: string; inSeconds: number; atRevocation: boolean; expiresAt: Date }>;
      expect(rows[0]).toMatchObject({ name: 'dated' });
      expect(rows[0].expiresAt.toISOString()).toBe('2027-01-01T00:00:00.000Z');
      expect(rows[1].name).toBe('forever');
      expect(Math.abs(rows[1].inSeconds - 30 * 86400)).toBeLessThan(3600);
      expect(rows[2]).toMatchObject({ name: 'revoked', atRevocation: true });
    } finally {
      await ds.destroy();
      await db.drop();
    }
  });
});
