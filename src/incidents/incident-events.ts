import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import pg from 'pg';
import { DATABASE_URL } from '../config/config.js';
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
 * One LISTEN connection per process for incident timeline appends (live SSE on any api process)
 * and execution status notices (to record when an incident's execution finishes).
 */
@Injectable()
export class IncidentEvents implements OnModuleDestroy {
  private readonly logger = new Logger(IncidentEvents.name);
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private readonly incident = new Set<IncidentListener>();
  private readonly execution = new Set<ExecutionListener>();
  private closed = false;

  constructor(@Inject(DATABASE_URL) private readonly url: string) {}

  async onIncident(fn: IncidentListener): Promise<() => void> {
    await this.ensureConnected();
    this.incident.add(fn);
    return () => this.incident.delete(fn);
  }

  async onExecution(fn: ExecutionListener): Promise<() => void> {
    await this.ensureConnected();
    this.execution.add(fn);
    return () => this.execution.delete(fn);
  }

  private ensureConnected(): Promise<void> {
    if (this.client || this.closed) return Promise.resolve();
    this.connecting ??= (async () => {
      const client = new pg.Client({
        connectionString: this.url,
        application_name: 'firebreak-incident-events',
      });
      client.on('notification', (msg) => {
        if (!msg.payload) return;
        try {
          if (msg.channel === INCIDENT_CHANNEL) {
            const n = JSON.parse(msg.payload) as IncidentNotice;
            for (const fn of [...this.incident]) fn(n);
          } else if (msg.channel === EXECUTION_CHANNEL) {
            const n = JSON.parse(msg.payload) as ExecutionNotice;
            if (n.kind === 'status') for (const fn of [...this.execution]) fn(n);
          }
        } catch {
          // not ours
        }
      });
      client.on('error', (err) => {
        this.logger.warn(`event connection lost: ${err.message}; reconnecting`);
        this.client = undefined;
        this.connecting = undefined;
        if (!this.closed)
          setTimeout(() => void this.ensureConnected().catch(() => undefined), 1000).unref();
      });
      await client.connect();
      await client.query(`LISTEN ${INCIDENT_CHANNEL}`);
      await client.query(`LISTEN ${EXECUTION_CHANNEL}`);
      this.client = client;
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }
}
