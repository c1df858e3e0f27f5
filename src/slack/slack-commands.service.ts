import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { DomainException } from '../common/errors.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { isFinal } from '../executions/execution-state.js';
import type { ExecutionEntity } from '../executions/execution.entity.js';
import { ExecutionEvents } from '../executions/execution-events.js';
import { ExecutionsService, type Actor } from '../executions/executions.service.js';
import { IncidentExecutionsService } from '../incidents/incident-executions.service.js';
import { ICS_ROLES, SEVERITIES, type Severity } from '../incidents/incident-rules.js';
import { IncidentsService } from '../incidents/incidents.service.js';
import { RunbooksService } from '../runbooks/runbooks.service.js';
import { parseRunArgs, UsageError, words, type RunArgs } from './slack-args.js';
import { SlackClient } from './slack-client.js';
import { SlackIdentityService, type SlackAccount } from './slack-identity.service.js';
import {
  codeText,
  ephemeral,
  esc,
  inChannel,
  INCIDENT_USAGE,
  link,
  RUNBOOK_USAGE,
  type SlackMessage,
} from './slack-messages.js';

/** A slash command as Slack posts it (the fields Firebreak reads). */
export interface SlashCommand {
  command: string;
  text: string;
  teamId: string;
  userId: string;
  channelId: string;
  responseUrl: string;
  /** The HTTP request's id and source, for the audit entries of what it does. */
  requestId: string | null;
  sourceIp: string | null;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INC_RE = /^INC-\d{1,9}$/i;
const EXCERPT_LINES = 8;
const incidentRef = (i: { number: number }) => `INC-${i.number}`;

/** A refusal or problem to show the user; `usage` adds the command's usage. */
class Reply extends Error {
  constructor(
    message: string,
    readonly usage = false,
  ) {
    super(message);
  }
}

/** How long Slack accepts posts to a slash command's response_url. */
const RESPONSE_URL_TTL_SECONDS = 30 * 60;

/**
 * `/runbook` and `/incident`: each runs as the linked Firebreak user through the same services
 * (ExecutionsService, IncidentsService, IncidentExecutionsService, RunbooksService), so the same
 * CASL checks, guards and audit apply as in the API; a route-level permission the API checks
 * with @CheckAbility is checked here the same way and its denial audited alike. Help, usage,
 * link and unlink answer at once; everything else is acknowledged at once and its result posted
 * to the command's response_url (a run: when it starts and when it ends).
 */
@Injectable()
export class SlackCommandsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(SlackCommandsService.name);
  private readonly pending = new Set<Promise<void>>();
  private readonly follows = new Set<() => void>();
  private closing = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly identity: SlackIdentityService,
    private readonly client: SlackClient,
    private readonly audit: AuditService,
    private readonly runbooks: RunbooksService,
    private readonly executions: ExecutionsService,
    private readonly events: ExecutionEvents,
    private readonly incidents: IncidentsService,
    private readonly incidentExecutions: IncidentExecutionsService,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  /** Takes up the follows a stopped process left (their response_url still valid). */
  async onApplicationBootstrap(): Promise<void> {
    await this.dataSource.query(`DELETE FROM slack_follows WHERE expires_at <= now()`);
    const open = await this.dataSource.query<Array<{ execution_id: string; response_url: string }>>(
      `SELECT execution_id, response_url FROM slack_follows ORDER BY expires_at`,
    );
    for (const f of open)
      await this.follow(f.execution_id, f.response_url).catch((err: Error) =>
        this.logger.warn(`following execution ${f.execution_id} for Slack: ${err.message}`),
      );
  }

  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    for (const stop of this.follows) stop();
    await Promise.race([
      Promise.allSettled([...this.pending]),
      new Promise((r) => setTimeout(r, 5000)),
    ]);
  }

  private url(path: string): string {
    return `${this.config.publicUrl}${path}`;
  }

  /** The immediate answer to a slash command (Slack waits 3 s for it). */
  async handle(cmd: SlashCommand): Promise<SlackMessage> {
    const kind = cmd.command === '/incident' ? 'incident' : 'runbook';
    const usage = kind === 'incident' ? INCIDENT_USAGE : RUNBOOK_USAGE;
    let argv: string[];
    try {
      argv = words(cmd.text);
    } catch (e) {
      return ephemeral(`${(e as Error).message}\n\n${usage}`);
    }
    const [sub = 'help', ...rest] = argv;
    const account: SlackAccount = { teamId: cmd.teamId, userId: cmd.userId };
    const ctx = { requestId: cmd.requestId, sourceIp: cmd.sourceIp };
    if (sub === 'help') return ephemeral(usage);
    if (kind === 'runbook' && sub === 'link') {
      if (rest.length !== 1) return ephemeral(`usage: \`/runbook link CODE\`\n\n${usage}`);
      const r = await this.identity.redeem(account, rest[0], ctx);
      if (r.outcome === 'throttled')
        return ephemeral(
          `Too many link attempts from your Slack account: try again in ${Math.ceil(r.retryAfterSeconds / 60)} minute(s).`,
        );
      return ephemeral(
        r.outcome === 'linked'
          ? `Linked: your Slack commands now run as *${esc(r.user.username)}* in Firebreak.`
          : `That code is unknown, used or expired. Create a new one at ${link(this.url('/settings/slack'), 'Settings → Slack')} and type \`/runbook link CODE\` within 10 minutes.`,
      );
    }
    const actor = await this.identity.actorFor(account, ctx);
    if (!actor) {
      await this.audit.record(
        { ...ctx, actorId: null, actorName: `slack:${cmd.teamId}/${cmd.userId}` },
        {
          action: 'slack.command',
          outcome: 'denied',
          subjectType: 'SlackAccount',
          subjectId: `${cmd.teamId}/${cmd.userId}`,
          details: { command: cmd.command, subcommand: sub, reason: 'not linked' },
        },
      );
      return ephemeral(
        `This Slack account is not linked to a Firebreak user. Sign in to Firebreak, open ${link(this.url('/settings/slack'), 'Settings → Slack')} to get a one-time code, then type \`/runbook link CODE\` here.`,
      );
    }
    if (kind === 'runbook' && sub === 'unlink') {
      await this.identity.unlinkUser(actor.principal.id, actor.audit);
      return ephemeral('Unlinked: this Slack account no longer acts for you in Firebreak.');
    }
    let work: () => Promise<SlackMessage | null>;
    try {
      work =
        kind === 'runbook'
          ? this.runbookWork(sub, rest, actor, cmd)
          : this.incidentWork(sub, rest, actor, cmd.teamId);
    } catch (e) {
      if (e instanceof UsageError || e instanceof Reply)
        return ephemeral(`${e.message}\n\n${usage}`);
      throw e;
    }
    await this.audit.record(actor.audit, {
      action: 'slack.command',
      subjectType: 'SlackAccount',
      subjectId: `${cmd.teamId}/${cmd.userId}`,
      // The subcommand and its first word (a runbook or incident), never option values.
      details: {
        command: cmd.command,
        subcommand: sub,
        target: rest[0] ?? null,
        channel: cmd.channelId,
      },
    });
    this.background(cmd.responseUrl, usage, work);
    return ephemeral(`Working on \`${esc(cmd.command)} ${esc(sub)}\`…`);
  }

  /** Runs `work` after the answer; its message, or the error, goes to response_url. */
  private background(
    responseUrl: string,
    usage: string,
    work: () => Promise<SlackMessage | null>,
  ): void {
    const p = (async () => {
      let message: SlackMessage | null;
      try {
        message = await work();
      } catch (e) {
        message = this.errorMessage(e, usage);
      }
      if (message) await this.post(responseUrl, message);
    })().finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  private async post(responseUrl: string, message: SlackMessage): Promise<void> {
    try {
      await this.client.respond(responseUrl, message);
    } catch (e) {
      this.logger.warn(`Slack response_url: ${(e as Error).message}`);
    }
  }

  private errorMessage(e: unknown, usage: string): SlackMessage {
    if (e instanceof UsageError || e instanceof Reply)
      return ephemeral(`${e.message}${e instanceof UsageError || e.usage ? `\n\n${usage}` : ''}`);
    if (e instanceof DomainException) {
      if (e.code === 'FORBIDDEN') return ephemeral(`not allowed: ${esc(e.message)}`);
      if (e.code === 'VALIDATION_FAILED') {
        const problems = Array.isArray(e.details)
          ? (e.details as Array<{ path: string; message: string }>)
          : [];
        const lines = problems.map((p) => `• \`${esc(p.path)}\`: ${esc(p.message)}`);
        return ephemeral(`invalid:\n${lines.join('\n') || esc(e.message)}\n\n${usage}`);
      }
      return ephemeral(`${e.code === 'NOT_FOUND' ? 'not found: ' : ''}${esc(e.message)}`);
    }
    this.logger.error(`Slack command failed: ${(e as Error).message}`);
    return ephemeral(
      'Something went wrong in Firebreak; nothing more is known here (see its logs).',
    );
  }

  /** Route-level permissions, as the API's @CheckAbility checks and audits them. */
  private async require(actor: Actor, action: string, subject: string, what: string) {
    if (actor.ability.can(action, subject)) return;
    const roles = actor.principal.roles.join(', ') || 'none';
    const reason = `your roles (${roles}) do not allow ${action} on ${subject}`;
    await this.audit.record(actor.audit, {
      action: 'access.denied',
      outcome: 'denied',
      subjectType: subject,
      details: { attempted: action, route: `slack ${what}`, reason },
    });
    throw new DomainException('FORBIDDEN', reason, { action, subject });
  }

  // ---- /runbook -------------------------------------------------------------------------------

  private runbookWork(
    sub: string,
    rest: string[],
    actor: Actor,
    cmd: SlashCommand,
  ): () => Promise<SlackMessage | null> {
    switch (sub) {
      case 'list': {
        if (rest.length > 1) throw new UsageError('`list` takes one filter word at most');
        return () => this.list(rest[0], actor);
      }
      case 'show': {
        if (rest.length !== 1) throw new UsageError('usage: `/runbook show NAME`');
        return () => this.show(rest[0], actor);
      }
      case 'plan':
      case 'run': {
        const [name, ...args] = rest;
        if (!name) throw new UsageError(`usage: \`/runbook ${sub} NAME key=value …\``);
        const parsed = parseRunArgs(args, sub === 'run');
        return sub === 'plan'
          ? () => this.plan(name, parsed, actor)
          : () => this.run(name, parsed, actor, cmd.responseUrl);
      }
      case 'status':
      case 'cancel': {
        if (rest.length !== 1 || !UUID_RE.test(rest[0]))
          throw new UsageError(`usage: \`/runbook ${sub} ID\` (the execution's id)`);
        return sub === 'status'
          ? () => this.status(rest[0], actor)
          : () => this.cancel(rest[0], actor);
      }
      default:
        throw new UsageError(`unknown subcommand \`${esc(sub)}\``);
    }
  }

  private async list(filter: string | undefined, actor: Actor): Promise<SlackMessage> {
    await this.require(actor, 'read', 'Runbook', '/runbook list');
    const rows = await this.runbooks.list({ q: filter }, actor.ability);
    if (rows.length === 0)
      return ephemeral(
        filter ? `No runbook matches "${esc(filter)}".` : 'No runbooks you may see.',
      );
    const lines = rows
      .slice(0, 25)
      .map(
        ({ runbook }) =>
          `• ${link(this.url(`/runbooks/${runbook.name}`), runbook.name)} — ${esc(codeText(runbook.description, 120))}`,
      );
    if (rows.length > 25) lines.push(`…and ${rows.length - 25} more`);
    return ephemeral(lines.join('\n'));
  }

  private async show(name: string, actor: Actor): Promise<SlackMessage> {
    await this.require(actor, 'read', 'Runbook', '/runbook show');
    const { runbook, version } = await this.runbooks.get(name, actor.ability);
    const def = version.definition;
    const options = (def.options ?? []).map((o) => {
      const dflt =
        'default' in o && o.default !== undefined ? ` = ${JSON.stringify(o.default)}` : '';
      return `• \`${o.name}\` (${o.type}${o.required ? ', required' : ''})${esc(dflt)}${o.description ? ` — ${esc(codeText(o.description, 120))}` : ''}`;
    });
    return ephemeral(
      [
        `*${link(this.url(`/runbooks/${runbook.name}`), runbook.name)}* v${version.version} (${def.kind})${runbook.disabled ? ' — *disabled*' : ''}`,
        esc(codeText(def.description, 500)),
        options.length ? `*Options*\n${options.join('\n')}` : '_No options._',
        def.approval ? '_Needs approval before it runs._' : '',
      ]
        .filter(Boolean)
        .join('\n'),
    );
  }

  /** Secure options are never typed into Slack: refused, with a link to the console's run form. */
  private async refuseSecure(name: string, args: RunArgs, actor: Actor): Promise<void> {
    const { version } = await this.runbooks.get(name, actor.ability);
    const secure = (version.definition.options ?? []).filter((o) => o.type === 'secure');
    const given = secure.filter((o) => Object.hasOwn(args.options, o.name)).map((o) => o.name);
    const missing = secure
      .filter((o) => o.required && !Object.hasOwn(args.options, o.name))
      .map((o) => o.name);
    if (given.length === 0 && missing.length === 0) return;
    const form = this.url(
      `/runbooks/${name}/run${args.incident ? `?incident=${encodeURIComponent(args.incident)}` : ''}`,
    );
    throw new Reply(
      given.length
        ? `option ${given.map((n) => `\`${n}\``).join(', ')} is secure: secure values are never typed into Slack (this message was not run). Use the console's ${link(form, 'run form')}.`
        : `${name} needs secure option ${missing.map((n) => `\`${n}\``).join(', ')}, which is never typed into Slack: use the console's ${link(form, 'run form')}.`,
    );
  }

  private async plan(name: string, args: RunArgs, actor: Actor): Promise<SlackMessage> {
    await this.require(actor, 'read', 'Runbook', '/runbook plan');
    await this.refuseSecure(name, args, actor);
    const p = await this.runbooks.plan(name, { options: args.options }, actor.ability, actor.audit);
    const targets = args.nodes
      ? p.plan.targets.filter((t) => args.nodes!.includes(t.name))
      : p.plan.targets;
    const unknown = (args.nodes ?? []).filter((n) => !p.plan.targets.some((t) => t.name === n));
    if (unknown.length) throw new Reply(`on ${unknown.join(',')}: not among ${name}'s targets`);
    const steps = p.plan.steps.slice(0, 10).map((s) => {
      const action = (s as { actions?: Array<{ node?: string; command?: string }> }).actions?.[0];
      return `• ${esc(s.name)}${action?.command ? `: \`${codeText(action.command, 150)}\`` : ''}`;
    });
    return ephemeral(
      [
        `*Plan of ${esc(name)}* v${p.version} on ${targets.length} node(s): ${esc(
          targets
            .map((t) => t.name)
            .slice(0, 10)
            .join(', ') || 'none',
        )}`,
        p.plan.approval.required
          ? `_Needs approval: ${esc(p.plan.approval.reasons.join('; '))}_`
          : '',
        ...steps,
        p.canRun ? `Run it: \`/runbook run ${esc(name)} …\`` : '_You may not run it._',
      ]
        .filter(Boolean)
        .join('\n'),
    );
  }

  private async run(
    name: string,
    args: RunArgs,
    actor: Actor,
    responseUrl: string,
  ): Promise<SlackMessage | null> {
    await this.require(actor, 'run', 'Runbook', '/runbook run');
    await this.refuseSecure(name, args, actor);
    const req = { runbook: name, options: args.options, nodes: args.nodes };
    const e = args.incident
      ? await this.incidentExecutions.start(args.incident, req, actor, 'slack')
      : await this.executions.start({ ...req, trigger: 'slack' }, actor);
    const where = `${link(this.url(`/executions/${e.id}`), `${e.runbookName} v${e.runbookVersion}`)}`;
    const forInc = args.incident
      ? ` for ${link(this.url(`/incidents/${args.incident}`), args.incident)}`
      : '';
    await this.post(
      responseUrl,
      inChannel(
        e.status === 'awaiting_approval'
          ? `${esc(actor.principal.username)} asked to run ${where}${forInc} on ${e.targets.length} node(s): *waiting for approval* (${link(this.url('/approvals'), 'approvals')}). Id \`${e.id}\``
          : `${esc(actor.principal.username)} started ${where}${forInc} on ${e.targets.length} node(s). Id \`${e.id}\``,
      ),
    );
    await this.follow(e.id, responseUrl);
    return null;
  }

  /**
   * Posts the run's end (status, duration, a short masked excerpt, the link) when it comes. The
   * follow is kept in `slack_follows` until then, so a restarted api process takes it up again
   * (onApplicationBootstrap); the process whose DELETE takes the row posts, exactly once.
   */
  private async follow(id: string, responseUrl: string): Promise<void> {
    if (this.closing) return;
    await this.dataSource.query(
      `INSERT INTO slack_follows (execution_id, response_url, expires_at)
       VALUES ($1, $2, now() + make_interval(secs => $3)) ON CONFLICT (execution_id) DO NOTHING`,
      [id, responseUrl, RESPONSE_URL_TTL_SECONDS],
    );
    let done = false;
    let checking = Promise.resolve();
    const check = () => {
      checking = checking.then(async () => {
        if (done) return;
        const e = await this.executions.getForSystem(id);
        if (!e || !isFinal(e.status)) return;
        done = true;
        stop();
        // An UPDATE/DELETE answers [rows, count].
        const [taken] = await this.dataSource.query<
          [Array<{ response_url: string; valid: boolean }>, number]
        >(
          `DELETE FROM slack_follows WHERE execution_id = $1
           RETURNING response_url, expires_at > now() AS valid`,
          [id],
        );
        // Another process posted it, or Slack no longer takes the response_url.
        if (!taken[0]?.valid) return;
        await this.post(taken[0].response_url, inChannel(await this.finishedText(e)));
      });
      return checking;
    };
    const sub: { off?: () => void } = {};
    const stop = () => {
      sub.off?.();
      this.follows.delete(stop);
    };
    this.follows.add(stop);
    sub.off = await this.events.subscribe(id, (n) => {
      if (n.kind === 'status' || n.kind === 'approval') void check().catch(() => undefined);
    });
    if (done || this.closing) stop();
    // It may have ended before the subscription was in place.
    await check();
  }

  private async finishedText(e: ExecutionEntity): Promise<string> {
    const took =
      e.startedAt && e.finishedAt
        ? ` in ${((e.finishedAt.getTime() - e.startedAt.getTime()) / 1000).toFixed(1)} s`
        : '';
    const icon = e.status === 'succeeded' ? ':white_check_mark:' : ':x:';
    // Stored lines are already masked (secure values never reach the log).
    const rows = await this.executions.logs(e.id, { limit: 2000 });
    const tail = rows
      .slice(-EXCERPT_LINES)
      .map((r) => codeText(`${r.node ?? '-'}: ${r.line}`, 160));
    return [
      `${icon} ${link(this.url(`/executions/${e.id}`), `${e.runbookName} v${e.runbookVersion}`)} *${e.status}*${took}${e.error ? `: ${esc(codeText(e.error, 200))}` : ''}`,
      tail.length ? `\`\`\`${tail.join('\n')}\`\`\`` : '',
    ]
      .filter(Boolean)
      .join('\n');
  }

  private async status(id: string, actor: Actor): Promise<SlackMessage> {
    const e = await this.executions.get(id, actor);
    const text = isFinal(e.status)
      ? await this.finishedText(e)
      : `${link(this.url(`/executions/${e.id}`), `${e.runbookName} v${e.runbookVersion}`)} is *${e.status}* (started by ${esc(e.actorName)})`;
    return ephemeral(text);
  }

  private async cancel(id: string, actor: Actor): Promise<SlackMessage> {
    const e = await this.executions.cancel(id, actor);
    return inChannel(
      `${esc(actor.principal.username)} asked to cancel ${link(this.url(`/executions/${e.id}`), e.runbookName)} (${e.status}).`,
    );
  }

  // ---- /incident ------------------------------------------------------------------------------

  private incidentWork(
    sub: string,
    rest: string[],
    actor: Actor,
    teamId: string,
  ): () => Promise<SlackMessage> {
    const ref = (w: string | undefined, usage: string) => {
      if (!w || !INC_RE.test(w)) throw new UsageError(`usage: \`/incident ${usage}\``);
      return w.toUpperCase();
    };
    switch (sub) {
      case 'declare': {
        const [sev, ...title] = rest;
        const severity = sev?.toUpperCase();
        if (!severity || !(SEVERITIES as readonly string[]).includes(severity))
          throw new UsageError(`declare: expected a severity (${SEVERITIES.join(', ')}) first`);
        if (title.length === 0)
          throw new UsageError('declare: a title is required after the severity');
        return () => this.declare(severity as Severity, title.join(' '), actor);
      }
      case 'status': {
        if (rest.length > 1) throw new UsageError('usage: `/incident status [INC-42]`');
        const r = rest[0] === undefined ? undefined : ref(rest[0], 'status [INC-42]');
        return () => this.incidentStatus(r, actor);
      }
      case 'sev': {
        const r = ref(rest[0], 'sev INC-42 SEV1');
        const severity = rest[1]?.toUpperCase();
        if (rest.length !== 2 || !(SEVERITIES as readonly string[]).includes(severity))
          throw new UsageError(`sev: expected one of ${SEVERITIES.join(', ')}`);
        return () =>
          this.change(actor, 'update', '/incident sev', async () => {
            await this.incidents.changeSeverity(r, severity as Severity, 'from Slack', actor);
            return `${esc(actor.principal.username)} changed the severity of ${this.incLink(r)} to *${severity}*.`;
          });
      }
      case 'ack':
      case 'resolve': {
        const r = ref(rest[0], `${sub} INC-42`);
        if (rest.length !== 1) throw new UsageError(`usage: \`/incident ${sub} INC-42\``);
        const to = sub === 'ack' ? 'investigating' : 'resolved';
        return () =>
          this.change(actor, 'update', `/incident ${sub}`, async () => {
            await this.incidents.changeStatus(r, to, undefined, actor);
            return `${esc(actor.principal.username)} ${sub === 'ack' ? 'acknowledged' : 'resolved'} ${this.incLink(r)} (${to}).`;
          });
      }
      case 'note': {
        const r = ref(rest[0], 'note INC-42 text…');
        const text = rest.slice(1).join(' ');
        if (!text) throw new UsageError('note: the text is missing');
        return () =>
          this.change(
            actor,
            'create',
            '/incident note',
            async () => {
              await this.incidents.addNote(r, text, actor);
              return `${esc(actor.principal.username)} added a note to ${this.incLink(r)}.`;
            },
            'IncidentNote',
          );
      }
      case 'assign': {
        const r = ref(rest[0], 'assign INC-42 ROLE @user');
        const [role, who] = [rest[1], rest[2]];
        if (rest.length !== 3 || !(ICS_ROLES as readonly string[]).includes(role))
          throw new UsageError(`assign: expected a role (${ICS_ROLES.join(', ')}) and a user`);
        return () =>
          this.change(actor, 'update', '/incident assign', async () => {
            const username = await this.usernameOf(who, teamId);
            await this.incidents.assignRole(r, role, username, actor);
            return `${esc(actor.principal.username)} made ${esc(username)} ${role} of ${this.incLink(r)}.`;
          });
      }
      default:
        throw new UsageError(`unknown subcommand \`${esc(sub)}\``);
    }
  }

  private incLink(ref: string) {
    return link(this.url(`/incidents/${ref}`), ref);
  }

  private async change(
    actor: Actor,
    action: string,
    what: string,
    fn: () => Promise<string>,
    subject = 'Incident',
  ): Promise<SlackMessage> {
    await this.require(actor, action, subject, what);
    return inChannel(await fn());
  }

  /** `@user`: a Slack mention (`<@U123|name>`) of a linked account, or a Firebreak username. */
  private async usernameOf(who: string, teamId: string): Promise<string> {
    const mention = /^<@([A-Z0-9]+)(\|[^>]*)?>$/.exec(who);
    if (!mention) return who.replace(/^@/, '');
    const username = await this.identity.usernameOf({ teamId, userId: mention[1] });
    if (!username)
      throw new Reply(
        `<@${mention[1]}> has not linked a Firebreak user: name their Firebreak username instead`,
      );
    return username;
  }

  private async declare(severity: Severity, title: string, actor: Actor): Promise<SlackMessage> {
    await this.require(actor, 'create', 'Incident', '/incident declare');
    const { incident } = await this.incidents.declare({ title, severity }, actor);
    const r = incidentRef(incident);
    return inChannel(
      `:rotating_light: ${esc(actor.principal.username)} declared ${this.incLink(r)} *${severity}*: ${esc(title)} (commander: ${esc(actor.principal.username)})`,
    );
  }

  private async incidentStatus(ref: string | undefined, actor: Actor): Promise<SlackMessage> {
    await this.require(actor, 'read', 'Incident', '/incident status');
    const rows = ref
      ? [await this.incidents.get(ref)]
      : (await this.incidents.list({ limit: 50 })).filter((i) => i.incident.status !== 'resolved');
    if (rows.length === 0) return ephemeral('No open incidents.');
    return ephemeral(
      rows
        .slice(0, 15)
        .map(({ incident, roles }) => {
          const commander = roles.find((x) => x.role === 'commander')?.username ?? 'none';
          return `• ${this.incLink(incidentRef(incident))} *${incident.severity}* ${incident.status} — ${esc(codeText(incident.title, 120))} (commander: ${esc(commander)})`;
        })
        .join('\n'),
    );
  }
}
