import { Injectable } from '@nestjs/common';
import { PgNotifications } from '../database/pg-notifications.js';
import { ExecutionEvents, type ExecutionNotice } from '../executions/execution-events.js';

export const INCIDENT_CHANNEL = 'firebreak_incident';

/** Sent (in the appending transaction) for each new timeline entry. */
export interface IncidentNotice {
  incidentId: string;
  /** The entry's place in the incident's timeline. */
  seq: number;
}

type IncidentListener = (n: IncidentNotice) => void;
type ExecutionListener = (n: ExecutionNotice) => void;

/**
 * Incident timeline appends (live SSE on any api process) and execution status notices (to record
 * when an incident's execution finishes), on the process's one LISTEN connection.
 */
@Injectable()
export class IncidentEvents {
  constructor(
    private readonly notifications: PgNotifications,
    private readonly executions: ExecutionEvents,
  ) {}

  onIncident(fn: IncidentListener): Promise<() => void> {
    return this.notifications.listen(INCIDENT_CHANNEL, (p) => fn(p as IncidentNotice));
  }

  onExecution(fn: ExecutionListener): Promise<() => void> {
    return this.executions.subscribe('*', (n) => {
      if (n.kind === 'status' || n.kind === 'approval') fn(n);
    });
  }
}
