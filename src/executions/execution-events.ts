import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import pg from 'pg';
import { DATABASE_URL } from '../config/config.js';
import { EXECUTION_CHANNEL, type ExecutionNotice } from './log-writer.js';

type Listener = (notice: ExecutionNotice) => void;

/**
 * Postgres LISTEN/NOTIFY for execution events (new log lines, status changes, cancel requests),
 * so an SSE viewer on one api process sees output written by a worker in another. One dedicated
 * connection per process, reconnected if it drops.
 */
@Injectable()
export class ExecutionEvents implements OnModuleDestroy {
  private readonly logger = new Logger(ExecutionEvents.name);
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly any = new Set<Listener>();
  private closed = false;

  constructor(@Inject(DATABASE_URL) private readonly url: string) {}

  /** Calls `fn` for notices about one execution id, or about all with '*'; returns the unsubscribe. */
  async subscribe(executionId: string, fn: Listener): Promise<() => void> {
    await this.ensureConnected();
    const set =
      executionId === '*' ? this.any : (this.listeners.get(executionId) ?? new Set<Listener>());
    set.add(fn);
    if (executionId !== '*') this.listeners.set(executionId, set);
    return () => {
      set.delete(fn);
      if (executionId !== '*' && set.size === 0) this.listeners.delete(executionId);
    };
  }

  private ensureConnected(): Promise<void> {
    if (this.client || this.closed) return Promise.resolve();
    this.connecting ??= (async () => {
      const client = new pg.Client({
        connectionString: this.url,
        application_name: 'firebreak-events',
      });
      client.on('notification', (msg) => {
        if (msg.channel !== EXECUTION_CHANNEL || !msg.payload) return;
        try {
          const notice = JSON.parse(msg.payload) as ExecutionNotice;
          for (const fn of [...(this.listeners.get(notice.id) ?? []), ...this.any]) fn(notice);
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
