import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Observable } from 'rxjs';
import { DataSource, type EntityManager } from 'typeorm';
import type { AuditContext } from '../audit/audit.service.js';
import { tailStream, type TailEvent } from '../database/tail-stream.js';
import { INCIDENT_CHANNEL, IncidentEvents } from './incident-events.js';
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
  at?: Date;
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

  /** Inserts one entry (or nothing, on a duplicate dedupe key) and notifies live viewers. */
  async insert(
    m: EntityManager,
    incident: IncidentEntity,
    ctx: Pick<AuditContext, 'actorId' | 'actorName'>,
    e: TimelineEntry,
  ): Promise<IncidentTimelineEntity | null> {
    const values = {
      incidentId: incident.id,
      at: e.at ?? new Date(),
      kind: e.kind,
      actorId: ctx.actorId,
      actorName: ctx.actorName,
      summary: e.summary,
      details: e.details ?? {},
      subjectType: e.subjectType ?? null,
      subjectId: e.subjectId ?? null,
      dedupeKey: e.dedupeKey ?? null,
    };
    const res = await m
      .createQueryBuilder()
      .insert()
      .into(IncidentTimelineEntity)
      .values(values as never)
      .orIgnore()
      .returning('id')
      .execute();
    const rows = res.raw as Array<{ id: string }>;
    if (rows.length === 0) return null;
    const id = String(rows[0].id);
    await m.query('SELECT pg_notify($1, $2)', [
      INCIDENT_CHANNEL,
      JSON.stringify({ incidentId: incident.id, entryId: id }),
    ]);
    return Object.assign(new IncidentTimelineEntity(), { id, ...values });
  }

  /** A page of an incident's timeline (by `INC-42` or uuid), in order, after an entry id. */
  async page(ref: string, afterId: string | undefined, limit: number) {
    const incident = await findIncident(this.dataSource.manager, ref);
    return this.entriesAfter(incident.id, afterId ?? '0', limit);
  }

  entriesAfter(incidentId: string, afterId: string, limit: number) {
    return this.dataSource
      .getRepository(IncidentTimelineEntity)
      .createQueryBuilder('t')
      .where('t.incident_id = :incidentId AND t.id > :afterId', { incidentId, afterId })
      .orderBy('t.id', 'ASC')
      .limit(limit)
      .getMany();
  }

  /**
   * The timeline as server-sent events: every entry after `afterId` (the Last-Event-ID), then new
   * ones as any process appends them (LISTEN/NOTIFY). Never ends by itself.
   */
  stream(incidentId: string, afterId: string): Observable<TailEvent<IncidentTimelineEntity>> {
    return tailStream({
      after: afterId,
      fetch: (after, limit) => this.entriesAfter(incidentId, after, limit),
      pageSize: 500,
      cursorOf: (r) => r.id,
      toEvent: (r) => ({ id: r.id, type: 'entry', data: r }),
      subscribe: (wake) =>
        this.events.onIncident((n) => {
          if (n.incidentId === incidentId) wake();
        }),
    });
  }
}
