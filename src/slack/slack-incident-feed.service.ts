import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { IncidentEvents } from '../incidents/incident-events.js';
import { IncidentTimelineService } from '../incidents/incident-timeline.service.js';
import { IncidentsService } from '../incidents/incidents.service.js';
import { SlackClient } from './slack-client.js';
import { codeText, esc, link } from './slack-messages.js';

/** Slack allows about one message per second per channel. */
export const CHANNEL_INTERVAL_MS = 1100;
/** Entries waiting past this many are dropped (a storm): the console has them all. */
const MAX_QUEUED = 200;

/**
 * Incident channel updates: each new timeline entry of any incident is posted to
 * SLACK_INCIDENT_CHANNEL (chat.postMessage) with a link back to the incident in the console, in
 * order, at most one message per CHANNEL_INTERVAL_MS. Every api process hears every entry; the
 * `slack_messages` row claimed per entry makes exactly one of them post it.
 */
@Injectable()
export class SlackIncidentFeedService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(SlackIncidentFeedService.name);
  private unsubscribe: (() => void) | undefined;
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  private lastPostAt = 0;
  private closing = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly client: SlackClient,
    private readonly events: IncidentEvents,
    private readonly timeline: IncidentTimelineService,
    private readonly incidents: IncidentsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const channel = this.config.slack.incidentChannel;
    if (this.config.role === 'worker' || !channel || !this.client.canPost) return;
    this.unsubscribe = await this.events.onIncident((n) => {
      if (this.closing) return;
      if (this.queued >= MAX_QUEUED) {
        this.logger.warn(`Slack incident feed: over ${MAX_QUEUED} entries waiting, one dropped`);
        return;
      }
      this.queued++;
      this.chain = this.chain
        .then(() => this.postEntry(channel, n.incidentId, n.seq))
        .catch((e: Error) => this.logger.warn(`Slack incident feed: ${e.message}`))
        .finally(() => this.queued--);
    });
  }

  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    this.unsubscribe?.();
    await Promise.race([this.chain, new Promise((r) => setTimeout(r, 5000))]);
  }

  private async postEntry(channel: string, incidentId: string, seq: number): Promise<void> {
    if (this.closing) return;
    const [entry] = await this.timeline.entriesAfter(incidentId, seq - 1, 1);
    if (!entry || entry.seq !== seq) return;
    const claimed = await this.dataSource.query<unknown[]>(
      `INSERT INTO slack_messages (kind, subject_id, channel, ts) VALUES ('timeline', $1, $2, '')
       ON CONFLICT DO NOTHING RETURNING id`,
      [entry.id, channel],
    );
    if (claimed.length === 0) return;
    const { incident } = await this.incidents.get(incidentId);
    const ref = `INC-${incident.number}`;
    const url = `${this.config.publicUrl}/incidents/${ref}`;
    const text = `${link(url, ref)} *${incident.severity}* ${esc(codeText(incident.title, 100))} — ${esc(entry.actorName)}: ${esc(codeText(entry.summary, 300))}`;
    const wait = this.lastPostAt + CHANNEL_INTERVAL_MS - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    try {
      const res = await this.client.call<{ ts: string }>('chat.postMessage', {
        channel,
        text,
        unfurl_links: false,
      });
      await this.dataSource.query(
        `UPDATE slack_messages SET ts = $1 WHERE kind = 'timeline' AND subject_id = $2 AND channel = $3`,
        [res.ts, entry.id, channel],
      );
    } finally {
      this.lastPostAt = Date.now();
    }
  }
}
