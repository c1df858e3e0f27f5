import { Injectable } from '@nestjs/common';
import { IncidentTimelineService } from './incident-timeline.service.js';
import { incidentRef } from './incident.entity.js';
import { IncidentsService } from './incidents.service.js';
import { renderPostmortem } from './postmortem.js';

/** The postmortem of an incident as Markdown, from the incident, its roles and its timeline. */
@Injectable()
export class PostmortemService {
  constructor(
    private readonly incidents: IncidentsService,
    private readonly timeline: IncidentTimelineService,
  ) {}

  async markdown(ref: string): Promise<string> {
    const { incident, roles } = await this.incidents.get(ref);
    const entries = await this.timeline.entriesAfter(incident.id, 0, 10_000);
    const started = entries.filter((e) => e.kind === 'execution.started');
    const finished = new Map(
      entries.filter((e) => e.kind === 'execution.finished').map((e) => [e.subjectId, e]),
    );
    return renderPostmortem({
      ref: incidentRef(incident),
      title: incident.title,
      summary: incident.summary,
      impact: incident.impact,
      severity: incident.severity,
      status: incident.status,
      source: incident.source,
      services: incident.services,
      declaredBy: incident.declaredByName,
      declaredAt: incident.createdAt,
      acknowledgedAt: incident.acknowledgedAt,
      identifiedAt: incident.identifiedAt,
      mitigatedAt: incident.mitigatedAt,
      resolvedAt: incident.resolvedAt,
      roles: roles.map((r) => ({ role: r.role, username: r.username, displayName: r.displayName })),
      timeline: entries.map((e) => ({
        at: e.at,
        kind: e.kind,
        actorName: e.actorName,
        summary: e.summary,
        link: typeof e.details.link === 'string' ? e.details.link : null,
      })),
      executions: started.map((s) => ({
        id: s.subjectId!,
        runbook: String(s.details.runbook),
        status: (finished.get(s.subjectId)?.details.status as string | undefined) ?? 'running',
        actorName: s.actorName,
        at: s.at,
        logs: String(s.details.logs),
      })),
      actionItems: incident.actionItems,
    });
  }
}
