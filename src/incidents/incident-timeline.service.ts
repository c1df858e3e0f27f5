import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Observable } from 'rxjs';
import { DataSource, type EntityManager } from 'typeorm';
import type { AuditContext } from '../audit/audit.service.js';
import { tailStream, type TailEvent } from '../database/tail-stream.js';
import { INCIDENT_CHANNEL, IncidentEvents, type IncidentNotice } from './incident-events.js';
import { findIncident } from './incident-lookup.js';
import { IncidentTimelineEntity } from './incident-timeline.entity.js';
import type { IncidentEntity } from './incident.entity.js';

/** What other modules (alerts, Slack, approvals) append; kinds are listed in docs/incidents.md. */
export interface TimelineEntry {
  kind: string;
  summary: string;
  details?: Record<string, unknown>;
  subjectType?: string | null;
  subjectId?: string | null;
  /** Appending twice with the same key records one entry. */
  dedupeKey?: string | null;
}

/**
 * An incident's one append-only timeline: appends (each notifies live viewers), pages in order,
 * and the live SSE stream. Other modules append through `append`, never through our tables.
 */
@Injectable()
export class IncidentTimelineService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly events: IncidentEvents,
  ) {}

  /**
   * For other modules (alerts, Slack, approvals): appends one entry to an incident's timeline.
   * Pass `manager` to make it part of the caller's transaction; `dedupeKey` makes it idempotent.
   * Returns null when an entry with the same key exists.
   */
  async append(
    ref: string,
    entry: TimelineEntry,
    ctx: AuditContext,
    manager?: EntityManager,
  ): Promise<IncidentTimelineEntity | null> {
    const write = async (m: EntityManager) =>
      this.insert(m, await findIncident(m, ref), ctx, entry);
    return manager ? write(manager) : this.dataSource.transaction(write);
  }

  /**
   * Inserts one entry (or nothing, on a duplicate dedupe key) and notifies live viewers.
   *
   * The entry takes the incident's next `seq` from `incidents.timeline_seq`, read and moved under
   * the incident's row lock that the transaction then holds to its commit: appends to one incident
   * take turns and commit in `seq` order, so a stream that moves its cursor past a `seq` never
   * skips an entry that commits later. Take it before other locks the transaction needs (the audit
   * chain's), as every caller here does. `at` is the database clock, once the lock is held, and
   * never before the previous entry's.
   */
  async insert(
    m: EntityManager,
    incident: IncidentEntity,
    ctx: Pick<AuditContext, 'actorId' | 'actorName'>,
    e: TimelineEntry,
  ): Promise<IncidentTimelineEntity | null> {
    // Waits for whoever appends to this incident now, then reads their committed count.
    const [{ last }] = await m.query<Array<{ last: number }>>(
      `SELECT "timeline_seq" AS last FROM "incidents" WHERE "id" = $1 FOR NO KEY UPDATE`,
      [incident.id],
    );
    const values = {
      incidentId: incident.id,
      seq: last + 1,
      kind: e.kind,
      actorId: ctx.actorId,
      actorName: ctx.actorName,
      summary: e.summary,
      details: e.details ?? {},
      subjectType: e.subjectType ?? null,
      subjectId: e.subjectId ?? null,
      dedupeKey: e.dedupeKey ?? null,
    };
    const notice: IncidentNotice = { incidentId: incident.id, seq: values.seq };
    // A new statement, so a new snapshot: it sees the entry of whoever held the lock before us.
    // The count moves only when an entry is inserted (a duplicate dedupe key leaves no gap).
    const rows = await m.query<Array<{ id: string; at: Date }>>(
      `WITH e AS (
         INSERT INTO "incident_timeline" ("incident_id", "seq", "at", "kind", "actor_id",
           "actor_name", "summary", "details", "subject_type", "subject_id", "dedupe_key")
         VALUES ($1, $2, GREATEST(clock_timestamp(), (SELECT "at" FROM "incident_timeline"
           WHERE "incident_id" = $1 ORDER BY "seq" DESC LIMIT 1)), $3, $4, $5, $6, $7::jsonb, $8,
           $9, $10)
         ON CONFLICT ("dedupe_key") DO NOTHING
         RETURNING "id", "at", "seq"),
       b AS (UPDATE "incidents" i SET "timeline_seq" = e."seq" FROM e WHERE i."id" = $1)
       SELECT e."id", e."at", pg_notify($11, $12) FROM e`,
      [
        values.incidentId,
        values.seq,
        values.kind,
        values.actorId,
        values.actorName,
        values.summary,
        JSON.stringify(values.details),
        values.subjectType,
        values.subjectId,
        values.dedupeKey,
        INCIDENT_CHANNEL,
        JSON.stringify(notice),
      ],
    );
    if (rows.length === 0) return null;
    return Object.assign(new IncidentTimelineEntity(), {
      id: String(rows[0].id),
      at: new Date(rows[0].at),
      ...values,
    });
  }

  /** A page of an incident's timeline (by `INC-42` or uuid), in order, after an entry's seq. */
  async page(ref: string, afterSeq: number, limit: number) {
    const incident = await findIncident(this.dataSource.manager, ref);
    return this.entriesAfter(incident.id, afterSeq, limit);
  }

  entriesAfter(incidentId: string, afterSeq: number, limit: number) {
    return this.dataSource
      .getRepository(IncidentTimelineEntity)
      .createQueryBuilder('t')
      .where('t.incident_id = :incidentId AND t.seq > :afterSeq', { incidentId, afterSeq })
      .orderBy('t.seq', 'ASC')
      .limit(limit)
      .getMany();
  }

  /**
   * The timeline as server-sent events: every entry after `afterSeq` (the Last-Event-ID), then new
   * ones as any process appends them (LISTEN/NOTIFY), in `seq` order. Never ends by itself.
   */
  stream(incidentId: string, afterSeq: number): Observable<TailEvent<IncidentTimelineEntity>> {
    return tailStream({
      after: afterSeq,
      fetch: (after, limit) => this.entriesAfter(incidentId, after, limit),
      pageSize: 500,
      cursorOf: (r) => r.seq,
      toEvent: (r) => ({ id: String(r.seq), type: 'entry', data: r }),
      subscribe: (wake) =>
        this.events.onIncident((n) => {
          if (n.incidentId === incidentId) wake();
        }),
    });
  }
}
