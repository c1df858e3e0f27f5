import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditService, type AuditContext } from '../audit/audit.service.js';
import { DomainException, validationFailed } from '../common/errors.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { ApprovalsService, type ApprovalView } from '../executions/approvals.service.js';
import { ExecutionEvents } from '../executions/execution-events.js';
import { ExecutionsService } from '../executions/executions.service.js';
import { SlackClient } from './slack-client.js';
import { SlackIdentityService } from './slack-identity.service.js';
import { SlackMessageEntity } from './slack-link.entity.js';
import { codeText, ephemeral, esc, link } from './slack-messages.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const APPROVE_ACTION = 'firebreak.approve';
export const REJECT_ACTION = 'firebreak.reject';

interface BlockAction {
  action_id?: unknown;
  value?: unknown;
}

/**
 * Interactive approvals: an approval request is posted to SLACK_APPROVALS_CHANNEL as a Block Kit
 * message with the plan summary and Approve / Reject buttons (each process hears the notice; the
 * `slack_messages` row makes one of them post it). A click is a signed `block_actions` request:
 * the clicker's linked user decides through ApprovalsService.decide, so four eyes, approvers and
 * audit hold as in the console. Whoever decides, wherever (Slack or the console), the message is
 * updated with the state and who decided.
 */
@Injectable()
export class SlackApprovalsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(SlackApprovalsService.name);
  private unsubscribe: (() => void) | undefined;
  private readonly pending = new Set<Promise<void>>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly client: SlackClient,
    private readonly identity: SlackIdentityService,
    private readonly audit: AuditService,
    private readonly approvals: ApprovalsService,
    private readonly executions: ExecutionsService,
    private readonly events: ExecutionEvents,
  ) {}

  /** The runbook's own approvals channel, else the global one; none without a bot token. */
  private channelFor(runbook: string): string | undefined {
    if (!this.client.canPost) return undefined;
    return this.config.slack.runbookApprovalChannels[runbook] ?? this.config.slack.approvalsChannel;
  }

  async onApplicationBootstrap(): Promise<void> {
    const s = this.config.slack;
    const any = !!s.approvalsChannel || Object.keys(s.runbookApprovalChannels).length > 0;
    if (this.config.role === 'worker' || !this.client.canPost || !any) return;
    this.unsubscribe = await this.events.subscribe('*', (n) => {
      if (n.kind !== 'approval' || n.approval === 'reminder') return;
      this.track(this.sync(n.id));
    });
  }

  async onModuleDestroy(): Promise<void> {
    this.unsubscribe?.();
    await Promise.race([
      Promise.allSettled([...this.pending]),
      new Promise((r) => setTimeout(r, 5000)),
    ]);
  }

  private track(p: Promise<void>) {
    const q = p
      .catch((e: Error) => this.logger.warn(`Slack approval message: ${e.message}`))
      .finally(() => this.pending.delete(q));
    this.pending.add(q);
  }

  /** Posts the execution's new approval requests and updates the messages of decided ones. */
  async sync(executionId: string): Promise<void> {
    const e = await this.executions.getForSystem(executionId);
    if (!e) return;
    const channel = this.channelFor(e.runbookName);
    if (!channel) return;
    const views = await this.executions.approvalsForSystem(e);
    const repo = this.dataSource.getRepository(SlackMessageEntity);
    for (const a of views) {
      const existing = await repo.findOneBy({ kind: 'approval', subjectId: a.id, channel });
      if (existing) {
        if (existing.ts)
          await this.client.call('chat.update', { channel, ts: existing.ts, ...this.message(a) });
        continue;
      }
      if (a.state !== 'pending') continue;
      // Claim the post: only the process whose insert wins posts it.
      const claimed = await this.dataSource.query<unknown[]>(
        `INSERT INTO slack_messages (kind, subject_id, channel, ts) VALUES ('approval', $1, $2, '')
         ON CONFLICT DO NOTHING RETURNING id`,
        [a.id, channel],
      );
      if (claimed.length === 0) continue;
      try {
        const res = await this.client.call<{ ts: string; channel: string }>('chat.postMessage', {
          channel,
          ...this.message(a),
        });
        await repo.update({ kind: 'approval', subjectId: a.id, channel }, { ts: res.ts });
        // Decided meanwhile: the update that notice asked for found no ts yet.
        const [now] = (await this.executions.approvalsForSystem(e)).filter((v) => v.id === a.id);
        if (now && now.state !== 'pending')
          await this.client.call('chat.update', { channel, ts: res.ts, ...this.message(now) });
      } catch (err) {
        await repo.delete({ kind: 'approval', subjectId: a.id, channel });
        throw err;
      }
    }
  }

  /** The Block Kit message of an approval request in its current state. */
  message(a: ApprovalView): { text: string; blocks: unknown[] } {
    const url = `${this.config.publicUrl}/executions/${a.executionId}`;
    const at = a.step ? ` at step *${esc(a.step)}*` : '';
    const head = `${link(url, `${a.runbook} v${a.version}`)}${at} — requested by *${esc(a.requestedBy)}*: ${esc(a.reason)}`;
    const plan = a.plan
      ? [
          `Targets (${a.plan.targets.length}): ${esc(
            a.plan.targets
              .map((t) => t.name)
              .slice(0, 10)
              .join(', ') || 'none',
          )}`,
          ...a.plan.steps.slice(0, 6).map((s) => {
            const cmd = s.actions[0]?.command;
            return `• ${esc(s.name)}${cmd ? `: \`${codeText(cmd, 150)}\`` : ''}`;
          }),
        ].join('\n')
      : '';
    const decided = a.decisions.map(
      (d) => `${d.decision === 'approve' ? 'approved' : 'rejected'} by *${esc(d.actor)}*`,
    );
    const stateText =
      a.state === 'pending'
        ? `Waiting for ${a.required} approval(s) from ${esc(a.approvers.join(', '))}${decided.length ? ` — so far ${decided.join(', ')}` : ''}`
        : `*${a.state}*${decided.length ? `: ${decided.join(', ')}` : ''}`;
    const blocks: unknown[] = [
      { type: 'section', text: { type: 'mrkdwn', text: `:lock: Approval needed: ${head}` } },
      ...(plan ? [{ type: 'section', text: { type: 'mrkdwn', text: plan } }] : []),
      { type: 'context', elements: [{ type: 'mrkdwn', text: stateText }] },
    ];
    if (a.state === 'pending') {
      const choices = a.choices ?? [null];
      blocks.push({
        type: 'actions',
        block_id: `approval:${a.id}`,
        elements: [
          ...choices.map((c, i) => ({
            type: 'button',
            action_id: `${APPROVE_ACTION}${c === null ? '' : `.${i}`}`,
            style: 'primary',
            text: { type: 'plain_text', text: c === null ? 'Approve' : `Approve: ${c}` },
            value: JSON.stringify({
              execution: a.executionId,
              ...(c === null ? {} : { choice: c }),
            }),
          })),
          {
            type: 'button',
            action_id: REJECT_ACTION,
            style: 'danger',
            text: { type: 'plain_text', text: 'Reject' },
            value: JSON.stringify({ execution: a.executionId }),
          },
        ],
      });
    }
    return {
      text: `Approval ${a.state}: ${a.runbook} v${a.version} requested by ${a.requestedBy}`,
      blocks,
    };
  }

  /** A signed interactive payload: a button click on an approval message. */
  async handleInteraction(
    payload: unknown,
    ctx: Omit<AuditContext, 'actorId' | 'actorName'>,
  ): Promise<void> {
    const p = payload as {
      type?: unknown;
      user?: { id?: unknown; team_id?: unknown };
      team?: { id?: unknown };
      actions?: BlockAction[];
      response_url?: unknown;
    };
    const bad = (path: string, message: string) => validationFailed([{ path, message }]);
    if (typeof p !== 'object' || p === null || p.type !== 'block_actions')
      throw bad('payload.type', 'expected block_actions');
    const teamId = p.team?.id ?? p.user?.team_id;
    const userId = p.user?.id;
    if (typeof teamId !== 'string' || typeof userId !== 'string')
      throw bad('payload.user', 'expected user.id and team.id');
    const action = p.actions?.[0];
    if (!action || typeof action.action_id !== 'string' || typeof action.value !== 'string')
      throw bad('payload.actions[0]', 'expected an action with action_id and value');
    const approve =
      action.action_id === APPROVE_ACTION || action.action_id.startsWith(`${APPROVE_ACTION}.`);
    if (!approve && action.action_id !== REJECT_ACTION)
      throw bad('payload.actions[0].action_id', 'not a Firebreak action');
    let value: { execution?: unknown; choice?: unknown };
    try {
      value = JSON.parse(action.value) as typeof value;
    } catch {
      throw bad('payload.actions[0].value', 'is not JSON');
    }
    if (typeof value.execution !== 'string' || !UUID_RE.test(value.execution))
      throw bad('payload.actions[0].value', 'expected an execution id');
    const responseUrl = typeof p.response_url === 'string' ? p.response_url : null;
    const reply = async (text: string) => {
      if (responseUrl)
        await this.client
          .respond(responseUrl, { ...ephemeral(text), replace_original: false })
          .catch((e: Error) => this.logger.warn(`Slack response_url: ${e.message}`));
    };
    const actor = await this.identity.actorFor({ teamId, userId }, ctx);
    if (!actor) {
      await this.audit.record(
        { ...ctx, actorId: null, actorName: `slack:${teamId}/${userId}` },
        {
          action: 'slack.action',
          outcome: 'denied',
          subjectType: 'Execution',
          subjectId: value.execution,
          details: { action: action.action_id, reason: 'not linked' },
        },
      );
      await reply(
        `This Slack account is not linked to a Firebreak user: open ${link(`${this.config.publicUrl}/settings/slack`, 'Settings → Slack')} for a code, then \`/runbook link CODE\`.`,
      );
      return;
    }
    const executionId = value.execution;
    try {
      await this.approvals.decide(
        executionId,
        {
          decision: approve ? 'approve' : 'reject',
          comment: 'from Slack',
          ...(typeof value.choice === 'string' ? { choice: value.choice } : {}),
        },
        actor,
      );
    } catch (e) {
      if (e instanceof DomainException) {
        await reply(e.code === 'FORBIDDEN' ? `not allowed: ${esc(e.message)}` : esc(e.message));
        return;
      }
      throw e;
    }
    this.track(this.sync(executionId));
  }
}
