import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { AuditService, type AuditContext } from '../audit/audit.service.js';
import { toPrincipal } from '../auth/auth.service.js';
import { UsersService } from '../auth/users.service.js';
import { AbilityFactory } from '../common/access/ability.factory.js';
import { hasRole, ROLES } from '../common/access/ability.js';
import { DomainException, notFound, validationFailed } from '../common/errors.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { deriveKey } from '../config/keys.js';
import { PgNotifications } from '../database/pg-notifications.js';
import type { Actor } from '../executions/executions.service.js';
import { SEVERITIES } from '../incidents/incident-rules.js';
import { problemsOf } from './adapters/common.js';
import { limitsOf } from './storm-guard.js';
import {
  INTEGRATION_TYPES,
  IntegrationEntity,
  type IntegrationSettings,
} from './integration.entity.js';
import { openSecret, sealSecret } from './integration-secret.js';

const severity = z.enum(SEVERITIES);
const secretValue = z
  .string()
  .regex(/^[\x21-\x7e]{16,512}$/, 'expected 16-512 printable ASCII characters, no spaces');
const headerName = z
  .string()
  .regex(/^[A-Za-z0-9-]{1,64}$/, 'expected an HTTP header name (letters, digits, dashes)');
const rateLimit = (max: number) =>
  z.strictObject({
    max: z.number().int().min(1).max(max),
    windowSeconds: z.number().int().min(10).max(86_400),
  });

export const createIntegrationSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{1,47}$/, 'expected 2-48 lower-case letters, digits or dashes'),
  type: z.enum(INTEGRATION_TYPES),
  /** Roles and groups of its service identity (default: responder). */
  roles: z.array(z.enum(ROLES)).min(1).max(4).optional(),
  groups: z
    .array(z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'expected a group name'))
    .max(32)
    .optional(),
  severityLabel: z.string().min(1).max(128).optional(),
  severityMap: z.record(z.string().max(128), severity).optional(),
  defaultSeverity: severity.optional(),
  autoRun: z
    .array(z.string().regex(/^(\*|[a-z0-9][a-z0-9-]{1,62})$/, 'expected a runbook name or *'))
    .max(100)
    .optional(),
  monitorOnResolve: z.boolean().optional(),
  commander: z.string().min(1).max(64).optional(),
  /** A secret the source generates (PagerDuty's subscription secret) or one you chose. */
  secret: secretValue.optional(),
  /** Grafana only: its HMAC signature header and, if configured there, its timestamp header. */
  signatureHeader: headerName.optional(),
  timestampHeader: headerName.nullable().optional(),
  /** Storm guard: automatic runs per runbook and node per window. */
  runLimit: rateLimit(10_000).optional(),
  /** Storm guard: alerts per window before deliveries are held back. */
  ingestLimit: rateLimit(10_000_000).optional(),
});

export const setSecretSchema = z.strictObject({ secret: secretValue.optional() });

/** What an admin may change later (name, type and identity stay: the URL and audit name them). */
export const updateIntegrationSchema = createIntegrationSchema
  .pick({
    severityLabel: true,
    severityMap: true,
    defaultSeverity: true,
    autoRun: true,
    monitorOnResolve: true,
    signatureHeader: true,
    timestampHeader: true,
    runLimit: true,
    ingestLimit: true,
  })
  .extend({
    commander: z.string().min(1).max(64).nullable().optional(),
    disabled: z.boolean().optional(),
  });

export type CreateIntegration = z.infer<typeof createIntegrationSchema>;

export const DEFAULT_SEVERITY_MAP: IntegrationSettings['severityMap'] = {
  critical: 'SEV1',
  error: 'SEV2',
  warning: 'SEV3',
  info: 'SEV4',
};

/**
 * Sent by the database (a trigger on alert_integrations, migration 1795455000000-AlertIntake) with the id of
 * each integration changed or deleted, however it was changed: every process drops it from its
 * hook cache.
 */
export const INTEGRATION_CHANNEL = 'firebreak_integration';
/** How long a hook's integration is reused without reading it again (a missed notice at worst). */
export const HOOK_CACHE_MS = 2_000;
const HOOK_CACHE_MAX = 1_000;

/** Built once: a zod schema is an object graph, and a hook request must not build one. */
const UUID = z.uuid();

const generateSecret = () => `fbi_${randomBytes(32).toString('base64url')}`;
const digest = (secret: string) => createHash('sha256').update(secret, 'utf8').digest();

/**
 * Integrations (admin API): each has a type, a secret shown once (stored as its SHA-256), its
 * defaults, and a service identity: the user `integration:<name>` (no password: it never logs in),
 * with the roles it is given (responder by default), as which it opens incidents and starts runs.
 */
@Injectable()
export class IntegrationsService implements OnModuleInit, OnModuleDestroy {
  private readonly key: Buffer;
  /** Hook lookups by id (existing integrations only: an unknown id is not remembered). */
  private readonly hookCache = new Map<string, { row: IntegrationEntity; at: number }>();
  /** Reads of the hook cache's rows in flight, by id (shared by the requests that missed). */
  private readonly hookReads = new Map<string, Promise<IntegrationEntity | null>>();
  /** Moves on every invalidation, so a lookup that raced one is not cached. */
  private generation = 0;
  private unsubscribe: (() => void) | undefined;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
    private readonly users: UsersService,
    private readonly abilities: AbilityFactory,
    private readonly notifications: PgNotifications,
  ) {
    this.key = deriveKey(config.secretKey, 'integrations');
  }

  async onModuleInit(): Promise<void> {
    this.unsubscribe = await this.notifications.listen(
      INTEGRATION_CHANNEL,
      (id) => this.forget(typeof id === 'string' ? id : undefined),
      // Notices sent while the connection was down are lost: forget everything.
      () => this.forget(),
    );
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }

  /** Drops one integration (or all) from the hook cache. */
  private forget(id?: string): void {
    this.generation++;
    // A read in flight may have started before the change: later requests start their own.
    if (id === undefined) {
      this.hookCache.clear();
      this.hookReads.clear();
    } else {
      this.hookCache.delete(id);
      this.hookReads.delete(id);
    }
  }

  /** Whether the hook cache holds this integration (tests). */
  cachedForHook(id: string): boolean {
    return this.hookCache.has(id);
  }

  private get repo() {
    return this.dataSource.getRepository(IntegrationEntity);
  }

  async create(
    body: unknown,
    ctx: AuditContext,
  ): Promise<{ integration: IntegrationEntity; secret: string }> {
    const parsed = createIntegrationSchema.safeParse(body);
    if (!parsed.success) throw validationFailed(problemsOf(parsed.error));
    const req = parsed.data;
    if (req.type !== 'grafana')
      for (const f of ['signatureHeader', 'timestampHeader'] as const)
        if (req[f] !== undefined)
          throw validationFailed([{ path: f, message: 'only a grafana integration has it' }]);
    if (await this.repo.existsBy({ name: req.name }))
      throw new DomainException(
        'CONFLICT',
        `integration ${JSON.stringify(req.name)} already exists`,
        {
          name: req.name,
        },
      );
    if (req.commander) await this.checkCommander(req.commander);
    const settings: IntegrationSettings = {
      severityLabel: req.severityLabel ?? 'severity',
      severityMap: req.severityMap ?? DEFAULT_SEVERITY_MAP,
      defaultSeverity: req.defaultSeverity ?? 'SEV3',
      autoRun: req.autoRun ?? [],
      monitorOnResolve: req.monitorOnResolve ?? true,
      commander: req.commander?.toLowerCase() ?? null,
      ...(req.type === 'grafana'
        ? {
            signatureHeader: req.signatureHeader ?? 'X-Grafana-Alerting-Signature',
            timestampHeader: req.timestampHeader ?? null,
          }
        : {}),
      ...limitsOf({ runLimit: req.runLimit, ingestLimit: req.ingestLimit } as IntegrationSettings),
    };
    // `integration:` cannot be a username anyone creates through /users (no colon allowed there).
    const user = await this.users.create(
      {
        username: `integration:${req.name}`,
        displayName: `Integration ${req.name} (${req.type})`,
        roles: req.roles ?? ['responder'],
        groups: req.groups ?? [],
      },
      ctx,
    );
    const secret = req.secret ?? generateSecret();
    const integration = await this.dataSource.transaction(async (m) => {
      const row = await m.save(
        m.create(IntegrationEntity, {
          name: req.name,
          type: req.type,
          secretHash: digest(secret).toString('hex'),
          userId: user.id,
          username: user.username,
          settings,
          createdBy: ctx.actorName,
        }),
      );
      await m.update(IntegrationEntity, row.id, this.sealed(row.id, secret));
      await this.audit.record(
        ctx,
        {
          action: 'integration.create',
          subjectType: 'Integration',
          subjectId: row.id,
          details: { name: row.name, type: row.type, identity: user.username, settings },
        },
        m,
      );
      return row;
    });
    delete integration.secretHash;
    return { integration, secret };
  }

  private async checkCommander(name: string) {
    const c = await this.users.findByUsername(name);
    if (!c || c.disabled || !hasRole(c, 'responder'))
      throw validationFailed([
        {
          path: 'commander',
          message: `${JSON.stringify(name)} is not an enabled user with the responder role or higher`,
        },
      ]);
  }

  /** Changes settings (and `disabled`), audited with what changed; nothing half-written. */
  async update(id: string, body: unknown, ctx: AuditContext): Promise<IntegrationEntity> {
    const integration = await this.get(id);
    const parsed = updateIntegrationSchema.safeParse(body ?? {});
    if (!parsed.success) throw validationFailed(problemsOf(parsed.error));
    const { disabled, ...changes } = parsed.data;
    if (integration.type !== 'grafana')
      for (const f of ['signatureHeader', 'timestampHeader'] as const)
        if (changes[f] !== undefined)
          throw validationFailed([{ path: f, message: 'only a grafana integration has it' }]);
    if (changes.commander) await this.checkCommander(changes.commander);
    const settings: IntegrationSettings = {
      ...integration.settings,
      ...Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)),
      ...(changes.commander !== undefined
        ? { commander: changes.commander?.toLowerCase() ?? null }
        : {}),
    };
    const updated = await this.dataSource.transaction(async (m) => {
      await m.update(IntegrationEntity, integration.id, {
        settings,
        ...(disabled !== undefined ? { disabled } : {}),
      });
      await this.audit.record(
        ctx,
        {
          action: 'integration.update',
          subjectType: 'Integration',
          subjectId: integration.id,
          details: { name: integration.name, changes: parsed.data },
        },
        m,
      );
      return Object.assign(integration, { settings, disabled: disabled ?? integration.disabled });
    });
    // This process at once; the others on the database's notice.
    this.forget(integration.id);
    return updated;
  }

  private sealed(id: string, secret: string) {
    const s = sealSecret(this.key, id, secret);
    return {
      secretHash: digest(secret).toString('hex'),
      secretCiphertext: s.ciphertext,
      secretIv: s.iv,
      secretAuthTag: s.authTag,
    };
  }

  /**
   * Sets the secret (the one a source generated, e.g. PagerDuty's, or a new random one, shown
   * only in this answer); the old one stops working at once. Audited, never with the value.
   */
  async setSecret(
    id: string,
    body: unknown,
    ctx: AuditContext,
  ): Promise<{ integration: IntegrationEntity; secret: string | null }> {
    const integration = await this.get(id);
    const parsed = setSecretSchema.safeParse(body ?? {});
    if (!parsed.success) throw validationFailed(problemsOf(parsed.error));
    const secret = parsed.data.secret ?? generateSecret();
    await this.dataSource.transaction(async (m) => {
      await m.update(IntegrationEntity, integration.id, this.sealed(integration.id, secret));
      await this.audit.record(
        ctx,
        {
          action: 'integration.secret',
          subjectType: 'Integration',
          subjectId: integration.id,
          details: { name: integration.name, generated: !parsed.data.secret },
        },
        m,
      );
    });
    this.forget(integration.id);
    return { integration, secret: parsed.data.secret ? null : secret };
  }

  /** The secret itself, for HMAC verification; null if none is sealed or it does not open. */
  signingSecret(integration: IntegrationEntity): string | null {
    const { secretCiphertext, secretIv, secretAuthTag } = integration;
    if (!secretCiphertext || !secretIv || !secretAuthTag) return null;
    return openSecret(this.key, integration.id, {
      ciphertext: secretCiphertext,
      iv: secretIv,
      authTag: secretAuthTag,
    });
  }

  list(): Promise<IntegrationEntity[]> {
    return this.repo.find({ order: { name: 'ASC' } });
  }

  async get(id: string): Promise<IntegrationEntity> {
    const row = UUID.safeParse(id).success ? await this.repo.findOneBy({ id }) : null;
    if (!row) throw notFound('Integration', id);
    return row;
  }

  /**
   * The integration a hook URL names, if it exists, has this type and is enabled; else null.
   * With its secret digest, for `verify`. Reused for up to HOOK_CACHE_MS; a change to the row
   * (PATCH, a new secret, or SQL) drops it in every process at once (INTEGRATION_CHANNEL).
   */
  async forHook(type: string, id: string): Promise<IntegrationEntity | null> {
    if (!UUID.safeParse(id).success) return null;
    const hit = this.hookCache.get(id);
    const row = hit && Date.now() - hit.at < HOOK_CACHE_MS ? hit.row : await this.readForHook(id);
    return row && row.type === type && !row.disabled ? row : null;
  }

  /**
   * One read per integration at a time: the requests that miss the cache together (it expired
   * under load) share the read in flight instead of each sending its own.
   */
  private readForHook(id: string): Promise<IntegrationEntity | null> {
    const pending = this.hookReads.get(id);
    if (pending) return pending;
    const generation = this.generation;
    const read = this.repo
      .createQueryBuilder('i')
      .addSelect(['i.secretHash', 'i.secretCiphertext', 'i.secretIv', 'i.secretAuthTag'])
      .where('i.id = :id', { id })
      .getOne()
      .then((row) => {
        if (!row) this.hookCache.delete(id);
        else if (generation === this.generation) {
          if (this.hookCache.size >= HOOK_CACHE_MAX) this.hookCache.clear();
          this.hookCache.set(id, { row, at: Date.now() });
        }
        return row;
      })
      .finally(() => {
        if (this.hookReads.get(id) === read) this.hookReads.delete(id);
      });
    this.hookReads.set(id, read);
    return read;
  }

  /** Constant-time check of a presented secret against the stored digest. */
  verify(integration: IntegrationEntity, presented: string | null): boolean {
    if (!presented || !integration.secretHash) return false;
    return timingSafeEqual(digest(presented), Buffer.from(integration.secretHash, 'hex'));
  }

  /** The integration's service identity as an actor, with its roles and groups as they are now. */
  async actorOf(integration: IntegrationEntity): Promise<Actor> {
    const user = await this.users.findById(integration.userId);
    if (!user || user.disabled)
      throw new Error(
        `the service identity ${integration.username} no longer exists or is disabled`,
      );
    const principal = toPrincipal(user, 'integration');
    return {
      principal,
      ability: this.abilities.create(principal),
      audit: { actorId: user.id, actorName: user.username },
    };
  }
}
