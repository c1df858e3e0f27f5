import { Body, Controller, Headers, HttpCode, Inject, Post, Req } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { auditContextOf } from '../audit/request-audit.js';
import { DomainException, validationFailed } from '../common/errors.js';
import { storableText, UNSTORABLE_MESSAGE } from '../common/storable.js';
import { Public } from '../common/public.decorator.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { SLACK_WINDOW_SECONDS, verifySlackRequest } from './slack-signature.js';
import { SlackApprovalsService } from './slack-approvals.service.js';
import { SlackClient } from './slack-client.js';
import { SlackCommandsService } from './slack-commands.service.js';
import type { SlackMessage } from './slack-messages.js';

const PRUNE_EVERY_MS = 60_000;

/**
 * Slack's requests: slash commands and interactive actions. Public routes with their own
 * authentication: the `v0` signature over the raw body (kept as a Buffer for /slack/* only, see
 * app.ts), a timestamp inside 5 minutes, and a signature never seen before (Postgres, so a replay
 * is refused by every process). A bad one is 401, audited, and says nothing more.
 */
@ApiTags('slack')
@Controller('slack')
export class SlackController {
  private lastPrune = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
    private readonly commands: SlackCommandsService,
    private readonly approvals: SlackApprovalsService,
    private readonly client: SlackClient,
  ) {}

  @Post('commands')
  @Public()
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Slack slash commands (/runbook, /incident): authenticated by the Slack request signature (X-Slack-Signature)',
  })
  async command(
    @Body() body: unknown,
    @Headers('x-slack-request-timestamp') timestamp: string | undefined,
    @Headers('x-slack-signature') signature: string | undefined,
    @Req() req: Request,
  ): Promise<SlackMessage> {
    const form = await this.verified(req, body, timestamp, signature);
    const field = (name: string, pattern: RegExp) => {
      const v = form.get(name);
      if (v === null || !pattern.test(v))
        throw validationFailed([
          { path: name, message: v === null ? 'is required' : 'is not a valid value' },
        ]);
      return v;
    };
    const command = field('command', /^\/(runbook|incident)$/);
    const responseUrl = field('response_url', /^https?:\/\/\S+$/);
    // Not an SSRF door: follow-ups go only to Slack's hosts (SLACK_RESPONSE_URL_HOSTS).
    if (!this.client.responseUrlAllowed(responseUrl))
      throw validationFailed([
        { path: 'response_url', message: 'is not on a Slack host this service may call' },
      ]);
    return this.commands.handle({
      command,
      text: form.get('text') ?? '',
      teamId: field('team_id', /^[A-Z0-9]{1,32}$/),
      userId: field('user_id', /^[A-Z0-9]{1,32}$/),
      channelId: field('channel_id', /^[A-Z0-9]{1,32}$/),
      responseUrl,
      requestId: (req as Request & { id?: string }).id
        ? String((req as Request & { id?: string }).id)
        : null,
      sourceIp: req.ip ?? null,
    });
  }

  @Post('interactions')
  @Public()
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Slack interactivity (Approve / Reject buttons): authenticated by the Slack request signature',
  })
  async interaction(
    @Body() body: unknown,
    @Headers('x-slack-request-timestamp') timestamp: string | undefined,
    @Headers('x-slack-signature') signature: string | undefined,
    @Req() req: Request,
  ): Promise<Record<string, never>> {
    const form = await this.verified(req, body, timestamp, signature);
    const raw = form.get('payload');
    if (raw === null) throw validationFailed([{ path: 'payload', message: 'is required' }]);
    let payload: unknown;
    try {
      payload = JSON.parse(raw);
    } catch {
      throw validationFailed([{ path: 'payload', message: 'is not JSON' }]);
    }
    await this.approvals.handleInteraction(payload, {
      requestId: (req as Request & { id?: string }).id
        ? String((req as Request & { id?: string }).id)
        : null,
      sourceIp: req.ip ?? null,
    });
    return {};
  }

  /** Signature, window and replay checks on the raw body; then the form it holds. */
  private async verified(
    req: Request,
    body: unknown,
    timestamp: string | undefined,
    signature: string | undefined,
  ): Promise<URLSearchParams> {
    const secret = this.config.slack.signingSecret;
    if (!secret)
      throw new DomainException(
        'NOT_FOUND',
        'Slack is not configured on this server (SLACK_SIGNING_SECRET)',
      );
    const raw = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
    const check = verifySlackRequest(secret, { timestamp, signature }, raw, Date.now());
    let reason: string | null = check.ok ? null : check.reason;
    if (check.ok && !(await this.firstSight(check.signature))) reason = 'replayed request';
    if (reason) {
      await this.audit.record(auditContextOf(req, 'slack'), {
        action: 'slack.unauthenticated',
        outcome: 'denied',
        subjectType: 'SlackRequest',
        details: { route: `POST ${req.path}`, reason },
      });
      throw new DomainException('AUTH_REQUIRED', 'invalid or stale Slack request signature');
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded')
      throw new DomainException(
        'MALFORMED_REQUEST',
        'expected an application/x-www-form-urlencoded body',
        { path: 'body' },
      );
    const text = raw.toString('utf8');
    if (!/^[\w.~%+=&*-]*$/.test(text))
      throw new DomainException('MALFORMED_REQUEST', 'the form body is not URL-encoded', {
        path: 'body',
      });
    const form = new URLSearchParams(text);
    // `%00` decodes to a NUL, which Postgres cannot store (storable.ts): a 400, not a 500.
    for (const [k, v] of form)
      if (!storableText(k) || !storableText(v))
        throw validationFailed([{ path: k, message: UNSTORABLE_MESSAGE }]);
    return form;
  }

  /** Records a signature; false when some process has already accepted it (a replay). */
  private async firstSight(signature: string): Promise<boolean> {
    const now = Date.now();
    if (now - this.lastPrune > PRUNE_EVERY_MS) {
      this.lastPrune = now;
      await this.dataSource.query(
        `DELETE FROM slack_seen_requests WHERE seen_at < now() - make_interval(secs => $1)`,
        [SLACK_WINDOW_SECONDS * 2],
      );
    }
    const rows = await this.dataSource.query<unknown[]>(
      `INSERT INTO slack_seen_requests (signature) VALUES ($1) ON CONFLICT DO NOTHING RETURNING signature`,
      [signature],
    );
    return rows.length === 1;
  }
}
