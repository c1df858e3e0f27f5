import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { toPrincipal } from '../auth/auth.service.js';
import { UsersService } from '../auth/users.service.js';
import { AbilityFactory } from '../common/access/ability.factory.js';
import { lastFiresBetween } from '../common/cron.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { DomainException } from '../common/errors.js';
import {
  ExecutionsService,
  type Actor,
  type StartRequest,
} from '../executions/executions.service.js';
import type { RunbookDefinition, ScheduleDefinition } from '../runbooks/runbook.schema.js';
import { RunbooksService } from '../runbooks/runbooks.service.js';
import type { FireKind } from './schedule-fire.entity.js';
import { ScheduleStateEntity } from './schedule-state.entity.js';

/** A fire older than this (behind the clock) when first looked at counts as missed. */
const MISSED_AFTER_MS = 60_000;
/**
 * Fire times looked at per schedule and tick at most, the newest: enough for the most catch-up
 * runs (100) and the skipped rows recorded (20); older ones of a long outage are skipped unseen.
 */
const FIRES_LOOKED_AT = 125;
/** Skipped (missed) fire times recorded one row each at most per outage; the audit has the count. */
const MAX_SKIPPED_ROWS = 20;
const DEFAULT_MAX_CATCH_UP = 10;
/** A claim without an execution this long after it was made (at least) is looked at again. */
const STALE_CLAIM_MIN_MS = 10_000;
/** Stale claims looked at per tick at most. */
const STALE_CLAIMS_PER_TICK = 20;
/** Advisory lock class of a fire time being started (the key hashes schedule id and time). */
const FIRE_LOCK = 0x46425346; // 'FBSF'

/** A fire time's key: its executions' business key, and hashed, its advisory lock's. */
export const fireLockName = (id: string, fireTime: Date) => `${id}@${fireTime.toISOString()}`;

export interface ScheduleRef {
  id: string;
  def: RunbookDefinition;
  schedule: ScheduleDefinition;
}

export const scheduleId = (runbook: string, name: string) => `${runbook}:${name}`;
/** The service identity a schedule's runs start as. */
export const scheduleUsername = (runbook: string, name: string) => `schedule:${runbook}/${name}`;

/**
 * Fires runbook schedules in every api process: a tick (`SCHEDULER_TICK`) reads the enabled
 * schedules and their states, and for each fire time since the schedule's `handled_through`
 * claims (schedule_id, fire_time) in schedule_fires: the process whose INSERT wins starts the run
 * through ExecutionsService.start as the schedule's identity, every other one does nothing, so a
 * fire time is run once however many processes tick. Fire times further behind than a minute
 * (the processes were down) follow the schedule's `missed` policy. The clock is `now`, which
 * tests replace.
 */
@Injectable()
export class Scheduler implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(Scheduler.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** The clock: tests drive time through it. */
  now: () => Date = () => new Date();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly runbooks: RunbooksService,
    private readonly executions: ExecutionsService,
    private readonly users: UsersService,
    private readonly abilities: AbilityFactory,
    private readonly audit: AuditService,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.role === 'worker' || this.config.schedulerTickMs === null) return;
    this.timer = setInterval(() => this.kick(), this.config.schedulerTickMs);
    this.timer.unref();
    this.kick(); // missed fire times are dealt with at start-up
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** One tick unless one is running (a slow tick is never doubled up). */
  kick(): void {
    if (this.stopped || this.running) return;
    this.running = this.tick()
      .catch((err: Error) => this.logger.warn(`scheduler: ${err.message}; next tick retries`))
      .finally(() => (this.running = undefined));
  }

  /** Handles every fire time up to `now` of every enabled schedule. */
  async tick(now = this.now()): Promise<void> {
    const refs = (await this.runbooks.scheduledForSystem()).flatMap((def) =>
      (def.schedules ?? [])
        .filter((s) => s.enabled !== false)
        .map((schedule) => ({ id: scheduleId(def.name, schedule.name), def, schedule })),
    );
    if (!refs.length) return;
    await this.recoverStaleClaims(refs, now);
    const repo = this.dataSource.getRepository(ScheduleStateEntity);
    const states = new Map(
      (await repo.findBy({ id: In(refs.map((r) => r.id)) })).map((s) => [s.id, s]),
    );
    for (const ref of refs) {
      if (this.stopped) return;
      const state = states.get(ref.id);
      if (!state) {
        // A new schedule fires from now on (nothing before it was ever due).
        await this.dataSource.query(
          `INSERT INTO "schedule_states" ("id", "runbook_name", "name", "handled_through")
           VALUES ($1, $2, $3, $4) ON CONFLICT ("id") DO NOTHING`,
          [ref.id, ref.def.name, ref.schedule.name, now],
        );
        continue;
      }
      if (state.handledThrough >= now) continue;
      if (!state.paused) {
        // The newest fire times since the mark, walking back from now: cheap whatever the
        // outage (a per-second schedule down for a day is not enumerated); when the limit is
        // reached, the missed count is a lower bound.
        const due = lastFiresBetween(
          ref.schedule.cron,
          ref.schedule.timezone,
          state.handledThrough,
          now,
          FIRES_LOOKED_AT,
        );
        if (!due.length) continue; // nothing was due since: the mark can stay
        try {
          await this.handle(ref, due, now);
        } catch (err) {
          this.logger.warn(`schedule ${ref.id}: ${(err as Error).message}`);
          continue; // handled_through stays: the next tick tries again (claims stay unique)
        }
      }
      // Paused: the time passes without fires (resume does not catch up).
      await this.dataSource.query(
        `UPDATE "schedule_states" SET "handled_through" = GREATEST("handled_through", $2), "updated_at" = now()
         WHERE "id" = $1`,
        [ref.id, now],
      );
    }
  }

  private async handle(ref: ScheduleRef, due: Date[], now: Date): Promise<void> {
    const late = (t: Date) => now.getTime() - t.getTime() > MISSED_AFTER_MS;
    const missed = due.filter(late);
    const onTime = due.filter((t) => !late(t));
    const policy = ref.schedule.missed ?? 'skip';
    const catchUp =
      policy === 'skip'
        ? []
        : missed.slice(
            -(policy === 'run-once' ? 1 : (ref.schedule.maxCatchUp ?? DEFAULT_MAX_CATCH_UP)),
          );
    const skipped = missed.slice(0, missed.length - catchUp.length);
    // The outage is recorded once, however many processes saw it: by whoever wins the claim of
    // the newest skipped time's row, or with none skipped, of the newest catch-up.
    let recorder = false;
    for (const t of skipped.slice(-MAX_SKIPPED_ROWS)) {
      const won = await this.claim(ref.id, t, 'missed', 'skipped');
      if (t === skipped[skipped.length - 1]) recorder = won !== null;
    }
    for (const t of catchUp) {
      const won = await this.fire(ref, t, 'catch-up');
      if (!skipped.length && t === catchUp[catchUp.length - 1]) recorder = won;
    }
    if (missed.length && recorder)
      await this.audit.record(
        { actorId: null, actorName: scheduleUsername(ref.def.name, ref.schedule.name) },
        {
          action: 'schedule.missed',
          subjectType: 'Schedule',
          subjectId: ref.id,
          details: {
            policy,
            missed: missed.length,
            ...(due.length === FIRES_LOOKED_AT ? { atLeast: true } : {}),
            first: missed[0].toISOString(),
            last: missed[missed.length - 1].toISOString(),
            catchUp: catchUp.map((t) => t.toISOString()),
            skipped: skipped.length,
          },
        },
      );
    for (const t of onTime) await this.fire(ref, t, 'scheduled');
  }

  /** Inserts the fire time's row; its id when this process won it, null when it already existed. */
  private async claim(
    id: string,
    fireTime: Date,
    kind: FireKind,
    status: 'claimed' | 'skipped',
  ): Promise<string | null> {
    const rows = await this.dataSource.query<Array<{ id: string }>>(
      `INSERT INTO "schedule_fires" ("schedule_id", "fire_time", "kind", "status")
       VALUES ($1, $2, $3, $4) ON CONFLICT ("schedule_id", "fire_time") DO NOTHING
       RETURNING "id"::text AS id`,
      [id, fireTime, kind, status],
    );
    return rows[0]?.id ?? null;
  }

  /**
   * Claims the fire time and starts its run; false when another process had claimed it. The
   * claim is made and the run started holding the fire time's lock, so a claim whose process
   * died before its run was created is told from one still starting (see recoverStaleClaims).
   */
  private async fire(ref: ScheduleRef, fireTime: Date, kind: FireKind): Promise<boolean> {
    const won = await this.underFireLock(ref.id, fireTime, async () => {
      const fireId = await this.claim(ref.id, fireTime, kind, 'claimed');
      if (!fireId) return false; // another process has it
      await this.startFire(ref, fireId, fireTime);
      return true;
    });
    return won === true;
  }

  /**
   * Runs `fn` holding the fire time's lock: a transaction-level advisory lock on a connection of
   * its own, held until `fn` ends or this process dies (Postgres ends its session), whichever
   * comes first. Null, without running `fn`, when another process holds it.
   */
  private async underFireLock<T>(
    id: string,
    fireTime: Date,
    fn: () => Promise<T>,
  ): Promise<T | null> {
    const qr = this.dataSource.createQueryRunner();
    await qr.connect();
    try {
      await qr.startTransaction();
      const [{ locked }] = (await qr.query(
        'SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS locked',
        [FIRE_LOCK, fireLockName(id, fireTime)],
      )) as Array<{ locked: boolean }>;
      return locked ? await fn() : null;
    } finally {
      // Nothing is written in it: it only holds the lock.
      if (qr.isTransactionActive) await qr.rollbackTransaction().catch(() => undefined);
      await qr.release();
    }
  }

  /**
   * Claims whose execution was never created (the process was killed between claim and start):
   * `claimed`, no execution, older than two ticks (at least 10 s), and nobody holding the fire
   * time's lock any more. Under that lock, one process takes each: it starts the run once more
   * (a second attempt), or records the fire `lost` when a retry was already lost, or when the fire
   * time is now missed and the schedule's policy is `skip`.
   */
  private async recoverStaleClaims(refs: ScheduleRef[], now: Date): Promise<void> {
    const staleMs = Math.max(2 * (this.config.schedulerTickMs ?? 0), STALE_CLAIM_MIN_MS);
    const byId = new Map(refs.map((r) => [r.id, r]));
    const rows = await this.dataSource.query<
      Array<{ id: string; schedule_id: string; fire_time: Date; attempts: number }>
    >(
      `SELECT "id"::text AS id, "schedule_id", "fire_time", "attempts" FROM "schedule_fires"
        WHERE "status" = 'claimed' AND "execution_id" IS NULL AND "schedule_id" = ANY($1)
          AND "created_at" < now() - make_interval(secs => $2)
        ORDER BY "fire_time" LIMIT ${STALE_CLAIMS_PER_TICK}`,
      [[...byId.keys()], staleMs / 1000],
    );
    for (const row of rows) {
      if (this.stopped) return;
      const ref = byId.get(row.schedule_id)!;
      const fireTime = new Date(row.fire_time);
      await this.underFireLock(ref.id, fireTime, async () => {
        // Its run was created, but the process died before it said so: link it, never rerun.
        const made = await this.executions.byScheduleFire(fireLockName(ref.id, fireTime));
        if (made) {
          await this.dataSource.query(
            `UPDATE "schedule_fires" SET "status" = $2, "execution_id" = $3, "error" = $4
              WHERE "id" = $1 AND "status" = 'claimed' AND "execution_id" IS NULL`,
            [
              row.id,
              made.status === 'refused' ? 'refused' : 'started',
              made.id,
              made.status === 'refused' ? made.error : null,
            ],
          );
          return;
        }
        const late = now.getTime() - fireTime.getTime() > MISSED_AFTER_MS;
        const lostWhy =
          row.attempts >= 2
            ? `the process starting it stopped before its run was created, twice`
            : late && (ref.schedule.missed ?? 'skip') === 'skip'
              ? `the process starting it stopped before its run was created; missed: skip`
              : null;
        // Still the same stale claim (under the lock: nobody else is starting it)?
        const [taken] = await this.dataSource.query<Array<{ id: string }>>(
          `WITH u AS (
             UPDATE "schedule_fires" SET ${
               lostWhy
                 ? `"status" = 'lost', "error" = $3`
                 : `"attempts" = "attempts" + 1, "created_at" = now()`
             }
              WHERE "id" = $1 AND "status" = 'claimed' AND "execution_id" IS NULL
                AND "attempts" = $2
              RETURNING "id")
           SELECT "id"::text AS id FROM u`,
          lostWhy ? [row.id, row.attempts, lostWhy] : [row.id, row.attempts],
        );
        if (!taken) return;
        const at = fireTime.toISOString();
        if (lostWhy) {
          this.logger.warn(`schedule ${ref.id} at ${at} lost: ${lostWhy}`);
          await this.audit.record(
            { actorId: null, actorName: scheduleUsername(ref.def.name, ref.schedule.name) },
            {
              action: 'schedule.lost',
              outcome: 'failure',
              subjectType: 'Schedule',
              subjectId: ref.id,
              details: { fireTime: at, attempts: row.attempts, reason: lostWhy },
            },
          );
          return;
        }
        this.logger.warn(`schedule ${ref.id} at ${at}: its claim had no run; starting it again`);
        await this.startFire(ref, row.id, fireTime);
      });
    }
  }

  /** Starts the run of a claimed fire time and records how it went. */
  private async startFire(ref: ScheduleRef, fireId: string, fireTime: Date): Promise<void> {
    const req: StartRequest = {
      runbook: ref.def.name,
      options: ref.schedule.options ?? {},
      ...(ref.schedule.targets?.length ? { nodes: ref.schedule.targets } : {}),
      trigger: 'schedule',
      scheduleFire: fireLockName(ref.id, fireTime),
    };
    let actor: Actor | undefined;
    try {
      actor = await this.actorOf(ref);
      const e = await this.executions.start(req, actor);
      await this.dataSource.query(
        `UPDATE "schedule_fires" SET "status" = 'started', "execution_id" = $2 WHERE "id" = $1`,
        [fireId, e.id],
      );
    } catch (err) {
      const message = (err as Error).message;
      this.logger.warn(`schedule ${ref.id} at ${fireTime.toISOString()} refused: ${message}`);
      // A refusal (freeze, concurrency, access, no node) is kept as a `refused` execution too,
      // so it shows on the execution list where on-call people look.
      const refused =
        actor && err instanceof DomainException && err.status < 500
          ? await this.executions.recordRefusal(req, actor, err).catch((e: Error) => {
              this.logger.warn(`schedule ${ref.id}: the refusal was not recorded: ${e.message}`);
              return null;
            })
          : null;
      await this.dataSource.query(
        `UPDATE "schedule_fires" SET "status" = 'refused', "error" = $2, "execution_id" = $3 WHERE "id" = $1`,
        [fireId, message.slice(0, 2000), refused?.id ?? null],
      );
    }
  }

  /**
   * The schedule's service identity (created on its first fire, no password: it never logs in),
   * role operator: the runbook's `access.run` decides whether it may run it.
   */
  private async actorOf(ref: ScheduleRef): Promise<Actor> {
    const username = scheduleUsername(ref.def.name, ref.schedule.name);
    let user = await this.users.findByUsername(username);
    if (!user) {
      try {
        user = await this.users.create(
          {
            username,
            displayName: `Schedule ${ref.schedule.name} of ${ref.def.name}`,
            roles: ['operator'],
            groups: [],
          },
          { actorId: null, actorName: 'system' },
        );
      } catch {
        user = await this.users.findByUsername(username); // another process created it
      }
    }
    if (!user || user.disabled)
      throw new Error(`the service identity ${username} is missing or disabled`);
    const principal = toPrincipal(user, 'integration');
    return {
      principal,
      ability: this.abilities.create(principal),
      audit: { actorId: user.id, actorName: user.username },
    };
  }
}
