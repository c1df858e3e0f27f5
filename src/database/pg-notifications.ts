import { Global, Inject, Injectable, Logger, Module, type OnModuleDestroy } from '@nestjs/common';
import pg from 'pg';
import { DATABASE_URL } from '../config/config.js';
import { backoffDelay } from './db-retry.js';

type Handler = (payload: unknown) => void;

/**
 * Postgres LISTEN/NOTIFY for the whole process: one dedicated connection, LISTEN on each channel
 * someone subscribes to, JSON payloads. Modules build their events on it (execution output and
 * status, incident timeline appends), so a viewer on one process sees what a worker in another
 * wrote.
 *
 * The connection survives database restarts: when it is lost (or cannot be opened) it is opened
 * again with backoff (250 ms doubling to 10 s) until it works, every channel is LISTENed again,
 * and each subscriber's `resync` runs, since notifications sent while it was away are gone for
 * good (a live stream re-reads what it may have missed). Subscribing never fails for want of a
 * connection: the subscription starts working once the connection is back.
 */
@Injectable()
export class PgNotifications implements OnModuleDestroy {
  private readonly logger = new Logger(PgNotifications.name);
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private readonly handlers = new Map<string, Set<Handler>>();
  private readonly resyncs = new Set<() => void>();
  private closed = false;
  private everConnected = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  /** LISTEN statements go one at a time (pg deprecates overlapping queries on one client). */
  private statements: Promise<unknown> = Promise.resolve();

  constructor(@Inject(DATABASE_URL) private readonly url: string) {}

  /** Whether the LISTEN connection is up (for health and tests). */
  get connected(): boolean {
    return this.client !== undefined;
  }

  /**
   * Calls `fn` with each notification's parsed payload on `channel`, and `resync` after the
   * connection came back from a loss; returns the unsubscribe.
   */
  async listen(channel: string, fn: Handler, resync?: () => void): Promise<() => void> {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`bad channel name ${channel}`);
    const isNew = !this.handlers.has(channel);
    const set = this.handlers.get(channel) ?? new Set<Handler>();
    set.add(fn);
    this.handlers.set(channel, set);
    if (resync) this.resyncs.add(resync);
    const unsubscribe = () => {
      set.delete(fn);
      if (resync) this.resyncs.delete(resync);
    };
    let client: pg.Client;
    try {
      client = await this.connect();
    } catch (err) {
      // The reconnect loop LISTENs on every channel once the database is back.
      this.logger.warn(`event connection unavailable: ${(err as Error).message}; retrying`);
      this.scheduleReconnect();
      return unsubscribe;
    }
    if (isNew && this.client === client)
      await this.run(client, `LISTEN ${channel}`).catch((err: Error) => this.lost(client, err));
    return unsubscribe;
  }

  private connect(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(): Promise<pg.Client> {
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
      for (const fn of [...(this.handlers.get(msg.channel) ?? [])]) {
        try {
          fn(payload);
        } catch (err) {
          this.logger.warn(`a ${msg.channel} subscriber failed: ${(err as Error).message}`);
        }
      }
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection closed')));
    try {
      await client.connect();
      for (const channel of [...this.handlers.keys()]) await client.query(`LISTEN ${channel}`);
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      throw new Error('closed');
    }
    this.client = client;
    this.attempt = 0;
    if (this.everConnected) {
      this.logger.log('event connection restored');
      for (const fn of [...this.resyncs]) {
        try {
          fn();
        } catch (err) {
          this.logger.warn(`resync after reconnect failed: ${(err as Error).message}`);
        }
      }
    }
    this.everConnected = true;
    return client;
  }

  private lost(client: pg.Client, err: Error): void {
    if (this.client !== client) return; // an old client's late events, or one never in use
    this.client = undefined;
    client.removeAllListeners('end');
    void client.end().catch(() => undefined);
    if (this.closed) return;
    this.logger.warn(`event connection lost: ${err.message}; reconnecting`);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer || this.client) return;
    const delay = backoffDelay(++this.attempt, 250, 10_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect().catch((err: Error) => {
        if (this.closed) return;
        this.logger.warn(`event connection: reconnect failed (${err.message}); retrying`);
        this.scheduleReconnect();
      });
    }, delay);
    this.retryTimer.unref();
  }

  private run(client: pg.Client, sql: string): Promise<unknown> {
    const next = this.statements.then(() => client.query(sql));
    this.statements = next.catch(() => undefined);
    return next;
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    client?.removeAllListeners('end');
    await client?.end().catch(() => undefined);
  }
}

@Global()
@Module({ providers: [PgNotifications], exports: [PgNotifications] })
export class PgNotificationsModule {}
