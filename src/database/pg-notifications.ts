import { Global, Inject, Injectable, Logger, Module, type OnModuleDestroy } from '@nestjs/common';
import pg from 'pg';
import { DATABASE_URL } from '../config/config.js';

type Handler = (payload: unknown) => void;

/**
 * Postgres LISTEN/NOTIFY for the whole process: one dedicated connection, LISTEN on each channel
 * someone subscribes to, JSON payloads, re-LISTEN after a reconnect. Modules build their events
 * on it (execution output and status, incident timeline appends), so a viewer on one process sees
 * what a worker in another wrote.
 */
@Injectable()
export class PgNotifications implements OnModuleDestroy {
  private readonly logger = new Logger(PgNotifications.name);
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private readonly handlers = new Map<string, Set<Handler>>();
  private closed = false;
  /** LISTEN statements go one at a time (pg deprecates overlapping queries on one client). */
  private statements: Promise<unknown> = Promise.resolve();

  constructor(@Inject(DATABASE_URL) private readonly url: string) {}

  /** Calls `fn` with each notification's parsed payload on `channel`; returns the unsubscribe. */
  async listen(channel: string, fn: Handler): Promise<() => void> {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`bad channel name ${channel}`);
    const isNew = !this.handlers.has(channel);
    const set = this.handlers.get(channel) ?? new Set<Handler>();
    set.add(fn);
    this.handlers.set(channel, set);
    const client = await this.connect();
    if (isNew && this.client === client) await this.run(client, `LISTEN ${channel}`);
    return () => set.delete(fn);
  }

  private connect(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= (async () => {
      const client = new pg.Client({
        connectionString: this.url,
        application_name: 'firebreak-events',
      });
      client.on('notification', (msg) => {
        if (!msg.payload) return;
        let payload: unknown;
        try {
          payload = JSON.parse(msg.payload);
        } catch {
          return;
        }
        for (const fn of [...(this.handlers.get(msg.channel) ?? [])]) fn(payload);
      });
      client.on('error', (err) => {
        this.logger.warn(`event connection lost: ${err.message}; reconnecting`);
        this.client = undefined;
        if (!this.closed)
          setTimeout(() => void this.connect().catch(() => undefined), 1000).unref();
      });
      await client.connect();
      for (const channel of this.handlers.keys()) await this.run(client, `LISTEN ${channel}`);
      this.client = client;
      return client;
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private run(client: pg.Client, sql: string): Promise<unknown> {
    const next = this.statements.then(() => client.query(sql));
    this.statements = next.catch(() => undefined);
    return next;
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }
}

@Global()
@Module({ providers: [PgNotifications], exports: [PgNotifications] })
export class PgNotificationsModule {}
