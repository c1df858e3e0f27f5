import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { subject } from '@casl/ability';
import { createTwoFilesPatch } from 'diff';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService, SYSTEM_ACTOR, type AuditContext } from '../audit/audit.service.js';
import type { AppAbility } from '../common/access/ability.js';
import { canonicalJson } from '../common/canonical-json.js';
import { DomainException, notFound, validationFailed } from '../common/errors.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { NodeTargetsService } from '../nodes/node-targets.service.js';
import { renderNodeFilter, type TargetNode } from '../nodes/node-filter.js';
import { validateOptions } from './options.js';
import { gitCommitOf, readRunbookFiles } from './runbook-files.js';
import { checkCallChains, checkReferences, type ParsedRunbook } from './runbook-references.js';
import { RunbookVersionEntity } from './runbook-version.entity.js';
import { RunbookEntity } from './runbook.entity.js';
import { parseRunbook, type RunbookProblem } from './runbook.parser.js';
import { planRunbook, type Plan } from './runbook.plan.js';
import type { RunbookDefinition } from './runbook.schema.js';
import { runbookAccess } from './runbooks.acl.js';
import { renderText } from './template.js';
import { FreezesService } from './freezes.service.js';
import type { ActiveFreeze } from './freezes.js';

export interface VersionOrigin {
  kind: 'file' | 'api';
  path: string | null;
  gitCommit: string | null;
}

export interface SyncReport {
  at: string;
  directory: string;
  files: number;
  created: Array<{ name: string; version: number; file: string }>;
  unchanged: string[];
  problems: RunbookProblem[];
}

export interface RunbookQuery {
  q?: string;
  tag?: string;
  kind?: 'diagnostic' | 'remediation';
  includeDisabled?: boolean;
}

/** Content identity: sha256 of the canonical definition, so formatting and comments do not count. */
export function contentHash(def: RunbookDefinition): string {
  return createHash('sha256').update(canonicalJson(def)).digest('hex');
}

const SYNC_LOCK = 0x46425253; // 'FBRS'
/** Pinned versions the worker keeps in memory (they never change). */
const PINNED_VERSIONS_KEPT = 200;

/** The runbooks whose current version the ability may read. */
const readable = (
  rows: Array<{ runbook: RunbookEntity; version: RunbookVersionEntity }>,
  ability: AppAbility,
) =>
  rows.filter(
    ({ version }) =>
      version && ability.can('read', subject('Runbook', runbookAccess(version.definition))),
  );

@Injectable()
export class RunbooksService implements OnApplicationBootstrap {
  private readonly logger = new Logger(RunbooksService.name);
  private lastSync: SyncReport | null = null;
  private readonly pinned = new Map<string, RunbookVersionEntity>();
  /** listCurrent's copy, with the stamp of the runbooks table it was read at. */
  private current: {
    stamp: string;
    rows: Array<{ runbook: RunbookEntity; version: RunbookVersionEntity }>;
  } | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
    private readonly nodes: NodeTargetsService,
    private readonly freezes: FreezesService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.role === 'worker') return;
    // A broken file is reported, never fatal: the service must start during an incident.
    try {
      await this.sync(SYSTEM_ACTOR);
    } catch (err) {
      this.logger.error(`runbook sync at start-up failed: ${(err as Error).message}`);
    }
  }

  get lastSyncReport(): SyncReport | null {
    return this.lastSync;
  }

  /**
   * Reads RUNBOOKS_DIR and stores a new version of every runbook whose content changed. An
   * invalid file never replaces its last valid version; its problems are logged and reported.
   */
  async sync(ctx: AuditContext): Promise<SyncReport> {
    const dir = this.config.runbooksDir;
    const files = await readRunbookFiles(dir);
    const problems: RunbookProblem[] = [];
    const parsed: ParsedRunbook[] = [];
    for (const f of files) {
      const r = parseRunbook(f.path, f.text);
      if (r.ok) parsed.push({ file: f.path, text: f.text, definition: r.definition });
      else problems.push(...r.problems);
    }
    const stored = new Set((await this.repo.find({ select: { name: true } })).map((r) => r.name));
    const refProblems = checkReferences(parsed, stored);
    for (const list of refProblems.values()) problems.push(...list);
    const valid = parsed.filter((p) => !refProblems.has(p.definition.name));

    const report: SyncReport = {
      at: new Date().toISOString(),
      directory: dir,
      files: files.length,
      created: [],
      unchanged: [],
      problems,
    };
    await this.dataSource.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [SYNC_LOCK]);
      // Call chains over the stored runbooks as this sync leaves them: too deep is refused.
      const defs = await this.currentDefinitions(m);
      for (const p of valid) defs.set(p.definition.name, p.definition);
      for (const p of valid) {
        const chains = checkCallChains(p, defs);
        if (chains.length) {
          problems.push(...chains);
          continue;
        }
        const origin: VersionOrigin = {
          kind: 'file',
          path: p.file,
          gitCommit: await gitCommitOf(p.file, dir),
        };
        const saved = await this.saveVersion(m, p.definition, p.text, origin, ctx);
        if (saved.created)
          report.created.push({
            name: p.definition.name,
            version: saved.version.version,
            file: p.file,
          });
        else report.unchanged.push(p.definition.name);
      }
      if (report.created.length || problems.length) {
        await this.audit.record(
          ctx,
          {
            action: 'runbook.sync',
            outcome: problems.length ? 'failure' : 'success',
            details: {
              directory: dir,
              created: report.created,
              invalid: [...new Set(problems.map((p) => p.file))],
            },
          },
          m,
        );
      }
    });
    for (const p of problems) this.logger.warn(`${p.file}:${p.line}:${p.col} ${p.message}`);
    this.lastSync = report;
    return report;
  }

  /** Creates or updates a runbook from YAML sent to the API. Nothing is stored if it is invalid. */
  async saveFromApi(text: string, ctx: AuditContext) {
    const r = parseRunbook('(request)', text);
    if (!r.ok) throw runbookInvalid(r.problems);
    const stored = new Set((await this.repo.find({ select: { name: true } })).map((x) => x.name));
    const saved = { file: '(request)', text, definition: r.definition };
    const refs = checkReferences([saved], stored);
    if (refs.size) throw runbookInvalid([...refs.values()].flat());
    return this.dataSource.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [SYNC_LOCK]);
      // Under the lock, so two saves cannot each close half of a cycle.
      const chains = checkCallChains(saved, await this.currentDefinitions(m));
      if (chains.length) throw runbookInvalid(chains);
      return this.saveVersion(
        m,
        r.definition,
        text,
        { kind: 'api', path: null, gitCommit: null },
        ctx,
      );
    });
  }

  /** Every stored runbook's current definition, by name (for call-chain checks). */
  private async currentDefinitions(m: EntityManager): Promise<Map<string, RunbookDefinition>> {
    const rows = await m
      .createQueryBuilder(RunbookVersionEntity, 'v')
      .innerJoin(RunbookEntity, 'r', 'r.id = v.runbookId AND r.currentVersion = v.version')
      .select(['r.name AS name', 'v.definition AS definition'])
      .getRawMany<{ name: string; definition: RunbookDefinition }>();
    return new Map(rows.map((r) => [r.name, r.definition]));
  }

  private async saveVersion(
    m: EntityManager,
    def: RunbookDefinition,
    source: string,
    origin: VersionOrigin,
    ctx: AuditContext,
  ): Promise<{ runbook: RunbookEntity; version: RunbookVersionEntity; created: boolean }> {
    const hash = contentHash(def);
    let runbook = await m.findOne(RunbookEntity, {
      where: { name: def.name },
      lock: { mode: 'pessimistic_write' },
    });
    if (runbook) {
      const current = await m.findOneByOrFail(RunbookVersionEntity, {
        runbookId: runbook.id,
        version: runbook.currentVersion,
      });
      if (current.contentHash === hash) return { runbook, version: current, created: false };
    }
    const number = runbook ? runbook.currentVersion + 1 : 1;
    runbook ??= m.create(RunbookEntity, { name: def.name, disabled: false, disabledReason: null });
    Object.assign(runbook, {
      kind: def.kind,
      description: def.description,
      tags: def.tags ?? [],
      currentVersion: number,
    });
    runbook = await m.save(runbook);
    const version = await m.save(
      m.create(RunbookVersionEntity, {
        runbookId: runbook.id,
        version: number,
        contentHash: hash,
        source,
        definition: def,
        sourceKind: origin.kind,
        sourcePath: origin.path,
        gitCommit: origin.gitCommit,
        authorId: ctx.actorId,
        authorName: ctx.actorName,
      }),
    );
    await this.audit.record(
      ctx,
      {
        action: 'runbook.version.create',
        subjectType: 'Runbook',
        subjectId: def.name,
        details: {
          version: number,
          hash,
          source: origin.kind,
          path: origin.path,
          gitCommit: origin.gitCommit,
        },
      },
      m,
    );
    return { runbook, version, created: true };
  }

  private get repo() {
    return this.dataSource.getRepository(RunbookEntity);
  }

  private get versions() {
    return this.dataSource.getRepository(RunbookVersionEntity);
  }

  /** Runbooks the caller may see, by name, description or tag search and kind. */
  /**
   * A pinned version by id, with no access check: for the worker running an execution of it.
   * Versions never change (a trigger refuses UPDATE and DELETE), so the last few read are kept.
   */
  async versionForRun(versionId: string): Promise<RunbookVersionEntity> {
    const cached = this.pinned.get(versionId);
    if (cached) {
      // Most recently used last: the first key is the one to forget.
      this.pinned.delete(versionId);
      this.pinned.set(versionId, cached);
      return cached;
    }
    const version = await this.versions.findOneByOrFail({ id: versionId });
    this.pinned.set(versionId, version);
    if (this.pinned.size > PINNED_VERSIONS_KEPT)
      this.pinned.delete(this.pinned.keys().next().value!);
    return version;
  }

  async list(
    q: RunbookQuery,
    ability: AppAbility,
  ): Promise<Array<{ runbook: RunbookEntity; version: RunbookVersionEntity }>> {
    return readable(await this.withCurrent(q), ability);
  }

  /** The runbooks the query selects, with their current versions, whoever asks. */
  private async withCurrent(
    q: RunbookQuery,
  ): Promise<Array<{ runbook: RunbookEntity; version: RunbookVersionEntity }>> {
    const qb = this.repo.createQueryBuilder('r');
    if (q.q)
      qb.andWhere('(r.name ILIKE :q OR r.description ILIKE :q)', {
        q: `%${q.q.replace(/[%_\\]/g, '\\$&')}%`,
      });
    if (q.tag) qb.andWhere(':tag = ANY(r.tags)', { tag: q.tag });
    if (q.kind) qb.andWhere('r.kind = :kind', { kind: q.kind });
    if (!q.includeDisabled) qb.andWhere('NOT r.disabled');
    const runbooks = await qb.orderBy('r.name').getMany();
    if (runbooks.length === 0) return [];
    const current = await this.versions.find({
      where: runbooks.map((r) => ({ runbookId: r.id, version: r.currentVersion })),
    });
    const byId = new Map(current.map((v) => [v.runbookId, v]));
    return runbooks.map((runbook) => ({ runbook, version: byId.get(runbook.id)! }));
  }

  /**
   * `list({})` (every enabled runbook's current version the ability may read) for callers that
   * ask per event (the alert processor, per delivery): kept in memory, and read again only when
   * the runbooks changed (a new version, a runbook added, removed, disabled or enabled: one
   * small query compares the table's ids, current versions and flags), in this process or any.
   * Treat the answer as read-only.
   */
  async listCurrent(
    ability: AppAbility,
  ): Promise<Array<{ runbook: RunbookEntity; version: RunbookVersionEntity }>> {
    const [{ stamp }] = await this.dataSource.query<Array<{ stamp: string }>>(
      `SELECT md5(coalesce(string_agg("id"::text || ':' || "current_version" || ':' || "disabled"::text,
                                      ',' ORDER BY "id"), '')) AS stamp FROM "runbooks"`,
    );
    if (this.current?.stamp !== stamp) this.current = { stamp, rows: await this.withCurrent({}) };
    return readable(this.current.rows, ability);
  }

  /**
   * A runbook and a version of it (current by default), if the caller may see it; else 404.
   * `current` is the current version: its access and approval rules are the runbook's policy
   * whichever version is asked for (an old version never escapes today's rules).
   */
  async get(name: string, ability: AppAbility, versionNumber?: number) {
    // The runbook and its current version in one statement (this is on every start's path).
    const found = await this.versions
      .createQueryBuilder('v')
      .innerJoinAndSelect('v.runbook', 'r')
      .where('r.name = :name AND v.version = r.current_version', { name })
      .getOne();
    if (!found?.runbook) throw notFound('Runbook', name);
    const { runbook } = found;
    delete found.runbook;
    const current = found;
    if (!ability.can('read', subject('Runbook', runbookAccess(current.definition))))
      throw notFound('Runbook', name);
    if (versionNumber === undefined || versionNumber === current.version)
      return { runbook, version: current, current };
    const version = await this.versions.findOneBy({
      runbookId: runbook.id,
      version: versionNumber,
    });
    if (!version) throw notFound('Runbook version', `${name}@${versionNumber}`);
    return { runbook, version, current };
  }

  async listVersions(name: string, ability: AppAbility) {
    const { runbook } = await this.get(name, ability);
    return this.versions.find({ where: { runbookId: runbook.id }, order: { version: 'DESC' } });
  }

  /** Unified diff of the YAML of two versions. */
  async diff(name: string, from: number, to: number, ability: AppAbility): Promise<string> {
    const a = (await this.get(name, ability, from)).version;
    const b = (await this.get(name, ability, to)).version;
    return createTwoFilesPatch(
      `${name}@${a.version}`,
      `${name}@${b.version}`,
      a.source,
      b.source,
      a.contentHash.slice(0, 12),
      b.contentHash.slice(0, 12),
    );
  }

  async setDisabled(
    name: string,
    disabled: boolean,
    reason: string | undefined,
    ability: AppAbility,
    ctx: AuditContext,
  ) {
    await this.get(name, ability);
    return this.dataSource.transaction(async (m) => {
      const runbook = await m.findOneOrFail(RunbookEntity, {
        where: { name },
        lock: { mode: 'pessimistic_write' },
      });
      if (runbook.disabled !== disabled) {
        runbook.disabled = disabled;
        runbook.disabledReason = disabled ? (reason ?? null) : null;
        await m.save(runbook);
        await this.audit.record(
          ctx,
          {
            action: disabled ? 'runbook.disable' : 'runbook.enable',
            subjectType: 'Runbook',
            subjectId: name,
            details: { reason: reason ?? null },
          },
          m,
        );
      }
      return runbook;
    });
  }

  /**
   * Dry run of a version: options validated, targets resolved, the exact commands and requests
   * per node with secure values masked, and whether approval would be required. Nothing runs.
   * Targets are the inventory's nodes matching the runbook, or the nodes given (a what-if).
   */
  async plan(
    name: string,
    input: { options?: Record<string, unknown>; nodes?: TargetNode[]; version?: number },
    ability: AppAbility,
    ctx: AuditContext,
  ): Promise<{
    runbook: string;
    version: number;
    contentHash: string;
    canRun: boolean;
    disabled: boolean;
    plan: Plan;
    /** The change freeze a run would be refused by now ("frozen until …"), or null. */
    frozen: (Omit<ActiveFreeze, 'start' | 'until'> & { until: string; message: string }) | null;
  }> {
    const { runbook, version, current } = await this.get(name, ability, input.version);
    const def = version.definition;
    const v = validateOptions(def.options ?? [], input.options ?? {});
    if (!v.ok) throw validationFailed(v.problems.map(({ path, message }) => ({ path, message })));
    // Targets: the nodes given (a what-if), else the inventory's nodes matching the runbook.
    const nodes =
      input.nodes ??
      (await this.nodes.resolve(
        renderNodeFilter(
          def.targets?.nodes,
          { options: v.options.values },
          (t, vals, enc) => renderText(t, vals, enc).text,
        ),
      ));
    // Approval follows the current version's policy too (see ExecutionsService.start).
    const policy = current.definition;
    const plan = planRunbook(
      { ...def, access: policy.access, approval: policy.approval },
      v.options,
      nodes,
    );
    await this.audit.record(ctx, {
      action: 'runbook.plan',
      subjectType: 'Runbook',
      subjectId: name,
      details: {
        version: version.version,
        options: plan.options,
        targets: plan.targets.map((t) => t.name),
      },
      secretValues: v.options.secretValues,
    });
    return {
      runbook: name,
      version: version.version,
      contentHash: version.contentHash,
      // Who may run it is the current version's rule, whichever version is planned.
      canRun: ability.can('run', subject('Runbook', runbookAccess(current.definition))),
      disabled: runbook.disabled,
      plan,
      frozen: await this.freezes.activeFor(policy, nodes).then(
        (f) =>
          f && {
            name: f.name,
            reason: f.reason,
            until: f.until.toISOString(),
            message: `frozen until ${f.until.toISOString()} (freeze ${f.name}${f.reason ? `: ${f.reason}` : ''}); a run needs break-glass`,
          },
      ),
    };
  }

  /**
   * The current definitions of the enabled runbooks that have schedules, with no access check:
   * for the scheduler, which starts their runs as each schedule's own identity.
   */
  async scheduledForSystem(): Promise<RunbookDefinition[]> {
    const rows = await this.versions
      .createQueryBuilder('v')
      .innerJoin(RunbookEntity, 'r', 'r.id = v.runbookId AND r.currentVersion = v.version')
      .where('NOT r.disabled')
      .andWhere(`jsonb_array_length(COALESCE(v.definition -> 'schedules', '[]'::jsonb)) > 0`)
      .getMany();
    return rows.map((v) => v.definition);
  }
}

export function runbookInvalid(problems: RunbookProblem[]): DomainException {
  return new DomainException(
    'VALIDATION_FAILED',
    problems
      .map((p) => `${p.file}:${p.line}:${p.col} ${p.path ? `${p.path}: ` : ''}${p.message}`)
      .join('; '),
    problems,
  );
}
