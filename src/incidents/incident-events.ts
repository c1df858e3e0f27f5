import { Injectable } from '@nestjs/common';
import { PgNotifications } from '../database/pg-notifications.js';
import { EXECUTION_CHANNEL, type ExecutionNotice } from '../executions/log-writer.js';

export const INCIDENT_CHANNEL = 'firebreak_incident';

/** Sent (in the appending transaction) for each new timeline entry. */
export interface IncidentNotice {
  incidentId: string;
  entryId: string;
}

type IncidentListener = (n: IncidentNotice) => void;
type ExecutionListener = (n: ExecutionNotice) => void;

/**
 * Incident timeline appends (live SSE on any api process) and execution status notices (to record
 * when an incident's execution finishes), on the process's one LISTEN connection.
 */
@Injectable()
export class IncidentEvents {
  constructor(private readonly notifications: PgNotifications) {}

  onIncident(fn: IncidentListener): Promise<() => void> {
    return this.notifications.listen(INCIDENT_CHANNEL, (p) => fn(p as IncidentNotice));
  }

  onExecution(fn: ExecutionListener): Promise<() => void> {
    return this.notifications.listen(EXECUTION_CHANNEL, (p) => {
      const n = p as ExecutionNotice;
      if (n.kind === 'status') fn(n);
    });
  }
}
