import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, QueryRunner } from 'typeorm';
import { AuditService, SYSTEM_ACTOR } from '../audit/audit.service.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { FINAL_STATUSES } from './execution-state.js';

/** Advisory lock (class, key) held by the one process pruning at a time: 'FBRT', 1. */
const RETENTION_LOCK = [0x46425254, 1] as const;

interface Candidate {
  id: string;
  runbook_name: string;
  runbook_version: number;
  status: string;
  incident_id: string | null;
  created_at: Date;
  finished_at: Date;
}

export interface PruneResult {
  /** Ids of the executions pruned, oldest first. */
  pruned: string[];
  /** Log lines and step results deleted with them. */
  logLines: number;
  results: number;
}

/**
 * Retention: finished executions older than RETENTION_EXECUTIONS (by `finished_at`) are deleted
 * with their log lines and step results, every RETENTION_INTERVAL, by one process at a time (a
 * session advisory lock; the others skip the round). Never a queued, running or waiting one.
 *
 * Writers are never held up for long: each statement is small (log lines and results go in
 * `DELETE … WHERE seq IN (SELECT … LIMIT n)` chunks, each its own transaction; only rows of
 * finished runs, which nothing writes any more), and the executions of a batch go in one short
 * transaction together with one `execution.prune` audit entry each. Audit entries are kept (the
 * audit log is append-only); incident timeline entries keep their text and links (they hold the
 * execution's id, not a foreign key). A round stopped half-way (a crash, a restart) leaves the
 * execution row, so the next round finishes it.
 */
@Injectable()
export class RetentionService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(RetentionService.name);
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<unknown> | undefined;
  private closed = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.role === 'api' || this.config.retentionExecutionsSeconds === null) return;
    const tick = () => {
      if (this.round || this.closed) return;
      this.round = this.prune()
        .then((r) => {
          if (r?.pruned.length)
            this.logger.log(
              `retention: pruned ${r.pruned.length} execution(s) with ${r.logLines} log line(s) and ${r.results} step result(s)`,
            );
        })
        // Never rejects: a database outage must not take the process down; the next round retries.
        .catch((err: Error) => this.logger.warn(`retention: ${err.message}`))
        .finally(() => (this.round = undefined));
    };
    this.timer = setInterval(tick, this.config.retentionIntervalSeconds * 1000);
    this.timer.unref();
    tick();
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.round;
  }

  /**
   * One round: every finished execution older than the retention age, in batches. Null when
   * another process is pruning (or retention is off).
   */
  async prune(now = new Date()): Promise<PruneResult | null> {
    const age = this.config.retentionExecutionsSeconds;
    if (age === null) return null;
    const cutoff = new Date(now.getTime() - age * 1000);
    const batch = this.config.retentionBatch;
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      const [{ locked }] = await runner.manager.query<Array<{ locked: boolean }>>(
        'SELECT pg_try_advisory_lock($1, $2) AS locked',
        [...RETENTION_LOCK],
      );
      if (!locked) return null;
      try {
        const result: PruneResult = { pruned: [], logLines: 0, results: 0 };
        while (!this.closed) {
          const candidates = await runner.manager.query<Candidate[]>(
            `SELECT id, runbook_name, runbook_version, status, incident_id, created_at, finished_at
               FROM executions
              WHERE status = ANY($1) AND finished_at < $2
              ORDER BY finished_at, id LIMIT $3`,
            [FINAL_STATUSES, cutoff, batch],
          );
          if (!candidates.length) break;
          await this.pruneBatch(runner, candidates, age, result);
          if (candidates.length < batch) break;
        }
        return result;
      } finally {
        await runner.manager.query('SELECT pg_advisory_unlock($1, $2)', [...RETENTION_LOCK]);
      }
    } finally {
      await runner.release();
    }
  }

  private async pruneBatch(
    runner: QueryRunner,
    candidates: Candidate[],
    ageSeconds: number,
    result: PruneResult,
  ): Promise<void> {
    const counts = new Map<string, { logLines: number; results: number }>();
    for (const e of candidates) {
      counts.set(e.id, {
        logLines: await this.deleteInChunks(
          runner,
          `DELETE FROM execution_logs WHERE execution_id = $1 AND seq IN (
             SELECT seq FROM execution_logs WHERE execution_id = $1 ORDER BY seq LIMIT $2)`,
          e.id,
        ),
        results: await this.deleteInChunks(
          runner,
          `DELETE FROM execution_results WHERE id IN (
             SELECT id FROM execution_results WHERE execution_id = $1 LIMIT $2)`,
          e.id,
        ),
      });
    }
    await runner.startTransaction();
    try {
      // Still finished (a status never leaves a final one, but say so in the statement).
      const [deleted] = await runner.manager.query<[Array<{ id: string }>, number]>(
        'DELETE FROM executions WHERE id = ANY($1) AND status = ANY($2) RETURNING id',
        [candidates.map((e) => e.id), FINAL_STATUSES],
      );
      const gone = new Set(deleted.map((r) => r.id));
      for (const e of candidates.filter((c) => gone.has(c.id))) {
        const n = counts.get(e.id)!;
        await this.audit.record(
          SYSTEM_ACTOR,
          {
            action: 'execution.prune',
            subjectType: 'Execution',
            subjectId: e.id,
            details: {
              runbook: e.runbook_name,
              version: e.runbook_version,
              status: e.status,
              incidentId: e.incident_id,
              createdAt: e.created_at.toISOString(),
              finishedAt: e.finished_at.toISOString(),
              logLines: n.logLines,
              results: n.results,
              retentionSeconds: ageSeconds,
            },
          },
          runner.manager,
        );
        result.pruned.push(e.id);
        result.logLines += n.logLines;
        result.results += n.results;
      }
      await runner.commitTransaction();
    } catch (err) {
      await runner.rollbackTransaction();
      throw err;
    }
  }

  /** Runs a chunked DELETE (params: execution id, chunk size) until it deletes nothing. */
  private async deleteInChunks(runner: QueryRunner, sql: string, id: string): Promise<number> {
    const chunk = this.config.retentionBatch * 50;
    let total = 0;
    for (;;) {
      const [, n] = await runner.manager.query<[unknown[], number]>(sql, [id, chunk]);
      total += n;
      if (n < chunk) return total;
    }
  }
}
