import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { subject } from '@casl/ability';
import { DataSource, In } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { inZone, nextFires } from '../common/cron.js';
import { DomainException, notFound } from '../common/errors.js';
import type { Actor } from '../executions/executions.service.js';
import { ExecutionsService } from '../executions/executions.service.js';
import type { RunbookDefinition, ScheduleDefinition } from '../runbooks/runbook.schema.js';
import { runbookAccess } from '../runbooks/runbooks.acl.js';
import { RunbooksService } from '../runbooks/runbooks.service.js';
import { ScheduleFireEntity } from './schedule-fire.entity.js';
import { ScheduleStateEntity } from './schedule-state.entity.js';
import { Scheduler, scheduleId, scheduleUsername } from './scheduler.js';

export interface FireView {
  fireTime: string;
  kind: string;
  status: string;
  executionId: string | null;
  /** The execution's status now (null: none, or no longer kept). */
  executionStatus: string | null;
  error: string | null;
  /** 2 when its claim's process died before the run existed and it was started once more. */
  attempts: number;
}

export interface ScheduleView {
  id: string;
  runbook: string;
  name: string;
  cron: string;
  timezone: string;
  enabled: boolean;
  paused: boolean;
  pausedBy: string | null;
  pausedAt: string | null;
  missed: string;
  options: Record<string, unknown>;
  targets: string[] | null;
  identity: string;
  /** The next fire times, in UTC and as wall-clock time in the schedule's zone. */
  next: Array<{ utc: string; local: string }>;
  last: FireView | null;
}

interface ScheduleRef {
  def: RunbookDefinition;
  s: ScheduleDefinition;
  /** The runbook is disabled: its schedules do not fire. */
  disabled: boolean;
}

const ID_RE = /^[a-z0-9][a-z0-9-]{1,62}:[a-z0-9][a-z0-9-]{0,47}$/;

/** Schedules as the API shows them: next fire times, last run, history; pause and resume. */
@Injectable()
export class SchedulesService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly runbooks: RunbooksService,
    private readonly executions: ExecutionsService,
    private readonly audit: AuditService,
    private readonly scheduler: Scheduler,
  ) {}

  /** The schedules of the runbooks the caller may see. */
  async list(ability: Actor['ability'], count: number): Promise<ScheduleView[]> {
    const refs = (await this.runbooks.list({ includeDisabled: true }, ability)).flatMap(
      ({ runbook, version }) =>
        (version.definition.schedules ?? []).map((s) => ({
          def: version.definition,
          s,
          disabled: runbook.disabled,
        })),
    );
    return this.views(refs, count);
  }

  async get(id: string, ability: Actor['ability'], count: number): Promise<ScheduleView> {
    return (await this.views([await this.find(id, ability)], count))[0];
  }

  async history(id: string, ability: Actor['ability'], limit: number): Promise<FireView[]> {
    await this.find(id, ability);
    const rows = await this.dataSource
      .getRepository(ScheduleFireEntity)
      .find({ where: { scheduleId: id }, order: { fireTime: 'DESC' }, take: limit });
    return Promise.all(rows.map((r) => this.fireView(r)));
  }

  async setPaused(id: string, paused: boolean, actor: Actor): Promise<ScheduleView> {
    const ref = await this.find(id, actor.ability);
    const { def, s } = ref;
    if (!actor.ability.can('run', subject('Runbook', runbookAccess(def)))) {
      await this.audit.record(actor.audit, {
        action: 'access.denied',
        outcome: 'denied',
        subjectType: 'Schedule',
        subjectId: id,
        details: { attempted: paused ? 'pause' : 'resume' },
      });
      throw new DomainException(
        'FORBIDDEN',
        `you may not ${paused ? 'pause' : 'resume'} ${id}: only who may run ${def.name} may`,
      );
    }
    await this.dataSource.transaction(async (m) => {
      const now = this.scheduler.now();
      // Resume: fire times while paused are not caught up; the schedule fires from now on.
      await m.query(
        `INSERT INTO "schedule_states" ("id", "runbook_name", "name", "paused", "paused_by", "paused_at", "handled_through")
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT ("id") DO UPDATE SET "paused" = $4, "paused_by" = $5, "paused_at" = $6,
           "handled_through" = CASE WHEN $4 THEN "schedule_states"."handled_through"
                                    ELSE GREATEST("schedule_states"."handled_through", $7) END,
           "updated_at" = now()`,
        [
          id,
          def.name,
          s.name,
          paused,
          paused ? actor.principal.username : null,
          paused ? now : null,
          now,
        ],
      );
      await this.audit.record(
        actor.audit,
        {
          action: paused ? 'schedule.pause' : 'schedule.resume',
          subjectType: 'Schedule',
          subjectId: id,
          details: { runbook: def.name, schedule: s.name },
        },
        m,
      );
    });
    return (await this.views([ref], 5))[0];
  }

  private async find(id: string, ability: Actor['ability']): Promise<ScheduleRef> {
    if (!ID_RE.test(id))
      throw new DomainException('VALIDATION_FAILED', 'id: not a schedule id (RUNBOOK:NAME)', [
        { path: 'id', message: 'not a schedule id (RUNBOOK:NAME)' },
      ]);
    const [runbook, name] = id.split(':');
    let found: Awaited<ReturnType<RunbooksService['get']>>;
    try {
      found = await this.runbooks.get(runbook, ability);
    } catch {
      throw notFound('Schedule', id);
    }
    const def = found.current.definition;
    const s = def.schedules?.find((x) => x.name === name);
    if (!s) throw notFound('Schedule', id);
    return { def, s, disabled: found.runbook.disabled };
  }

  private async views(refs: ScheduleRef[], count: number): Promise<ScheduleView[]> {
    if (!refs.length) return [];
    const ids = refs.map(({ def, s }) => scheduleId(def.name, s.name));
    const states = new Map(
      (await this.dataSource.getRepository(ScheduleStateEntity).findBy({ id: In(ids) })).map(
        (st) => [st.id, st],
      ),
    );
    const lastIds = await this.dataSource.query<Array<{ id: string }>>(
      `SELECT DISTINCT ON ("schedule_id") "id"::text AS id FROM "schedule_fires"
        WHERE "schedule_id" = ANY($1) ORDER BY "schedule_id", "fire_time" DESC`,
      [ids],
    );
    const lasts = new Map(
      lastIds.length
        ? (
            await this.dataSource
              .getRepository(ScheduleFireEntity)
              .findBy({ id: In(lastIds.map((r) => r.id)) })
          ).map((f) => [f.scheduleId, f])
        : [],
    );
    const now = this.scheduler.now();
    return Promise.all(
      refs.map(async ({ def, s, disabled }, i): Promise<ScheduleView> => {
        const st = states.get(ids[i]);
        const zone = s.timezone ?? 'UTC';
        // A disabled runbook's schedules never fire.
        const enabled = s.enabled !== false && !disabled;
        const last = lasts.get(ids[i]);
        return {
          id: ids[i],
          runbook: def.name,
          name: s.name,
          cron: s.cron,
          timezone: zone,
          enabled,
          paused: st?.paused ?? false,
          pausedBy: st?.pausedBy ?? null,
          pausedAt: st?.pausedAt?.toISOString() ?? null,
          missed: s.missed ?? 'skip',
          options: s.options ?? {},
          targets: s.targets ?? null,
          identity: scheduleUsername(def.name, s.name),
          next:
            enabled && !st?.paused
              ? nextFires(s.cron, zone, now, count).map((t) => ({
                  utc: t.toISOString(),
                  local: inZone(t, zone),
                }))
              : [],
          last: last ? await this.fireView(last) : null,
        };
      }),
    );
  }

  private async fireView(f: ScheduleFireEntity): Promise<FireView> {
    const e = f.executionId ? await this.executions.getForSystem(f.executionId) : null;
    return {
      fireTime: f.fireTime.toISOString(),
      kind: f.kind,
      status: f.status,
      executionId: f.executionId,
      executionStatus: e?.status ?? null,
      error: f.error,
      attempts: f.attempts,
    };
  }
}
