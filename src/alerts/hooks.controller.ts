import { Controller, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import {
  DomainException,
  notFound,
  validationFailed,
  type FieldProblem,
} from '../common/errors.js';
import { Public } from '../common/public.decorator.js';
import { UNSTORABLE_MESSAGE, unstorablePath } from '../common/storable.js';
import { adaptAlertmanager } from './adapters/alertmanager.js';
import { adaptCloudEvent } from './adapters/cloudevents.js';
import type { SourceResult } from './adapters/common.js';
import { adaptGeneric } from './adapters/generic.js';
import { adaptGrafana } from './adapters/grafana.js';
import { adaptPagerDuty } from './adapters/pagerduty.js';
import { AlertIntakeService } from './alert-intake.service.js';
import { HookRejections } from './hook-rejections.js';
import {
  verifyFirebreak,
  verifyGrafana,
  verifyPagerDuty,
  type SignatureCheck,
} from './hook-signatures.js';
import type { IntegrationEntity, IntegrationType } from './integration.entity.js';
import { IntegrationsService } from './integrations.service.js';

/** The secret of an `Authorization` header: a bearer token, or a basic-auth password. */
export function presentedSecret(header: string | undefined): string | null {
  if (!header) return null;
  const [scheme, value] = header.trim().split(/\s+/, 2);
  if (!value) return null;
  if (/^bearer$/i.test(scheme)) return value;
  if (/^basic$/i.test(scheme)) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : null;
  }
  return null;
}

const header = (req: Request, name: string): string | undefined => {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
};

const isJsonType = (ct: string | undefined) =>
  !ct || /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(ct);

type Parsed = { ok: true; value: unknown } | { ok: false; problems: FieldProblem[] };

/** The body as JSON, from the exact bytes received. */
function parseJson(raw: Buffer): Parsed {
  if (!raw.length)
    return { ok: false, problems: [{ path: 'body', message: 'expected a JSON body' }] };
  try {
    return { ok: true, value: JSON.parse(raw.toString('utf8')) };
  } catch (e) {
    return {
      ok: false,
      problems: [{ path: 'body', message: `malformed JSON: ${(e as Error).message}` }],
    };
  }
}

const SIGNATURE_REASONS: Record<Exclude<SignatureCheck, 'ok'>, string> = {
  missing: 'no signature',
  mismatch: 'wrong signature',
  stale: 'signature timestamp outside the replay window',
};

/**
 * Alert webhooks: public routes, each with its source's own authentication, checked before the
 * body is read (bearer or basic-auth secret, or the HMAC signature over the exact bytes
 * received: app.ts keeps /hooks bodies raw). An integration answers only on its own type's URL.
 * 202 once the delivery is stored; AlertProcessor works out what it means after. A body the
 * adapter does not understand is stored as rejected, counted and answered 400 naming the field.
 */
@ApiTags('alerts')
@Controller('hooks')
export class HooksController {
  constructor(
    private readonly integrations: IntegrationsService,
    private readonly intake: AlertIntakeService,
    private readonly rejections: HookRejections,
  ) {}

  /** One hook request by its URL's type (hook-lane.ts answers the hook URLs through this). */
  handle(type: IntegrationType, id: string, req: Request): Promise<unknown> {
    switch (type) {
      case 'alertmanager':
        return this.alertmanager(id, req);
      case 'grafana':
        return this.grafana(id, req);
      case 'pagerduty':
        return this.pagerduty(id, req);
      case 'generic':
        return this.generic(id, req);
      case 'cloudevents':
        return this.cloudevents(id, req);
    }
  }

  private async integrationFor(type: IntegrationType, id: string): Promise<IntegrationEntity> {
    const integration = await this.integrations.forHook(type, id);
    if (!integration) throw notFound('Integration', id);
    return integration;
  }

  private async deny(integration: IntegrationEntity, reason: string, req: Request): Promise<never> {
    await this.rejections.unauthenticated(integration, reason, req);
    throw new DomainException('AUTH_REQUIRED', 'missing or wrong credentials for this hook');
  }

  /** The integration's secret as a bearer token or basic-auth password. */
  private async requireToken(integration: IntegrationEntity, req: Request) {
    const authorization = header(req, 'authorization');
    if (!this.integrations.verify(integration, presentedSecret(authorization)))
      await this.deny(integration, authorization ? 'wrong credentials' : 'no credentials', req);
  }

  private async requireSignature(
    integration: IntegrationEntity,
    req: Request,
    check: (secret: string) => SignatureCheck,
  ) {
    const secret = this.integrations.signingSecret(integration);
    if (!secret)
      return this.deny(integration, 'no signing secret stored: set the secret again', req);
    const result = check(secret);
    if (result !== 'ok') await this.deny(integration, SIGNATURE_REASONS[result], req);
  }

  /** Stored as rejected, counted, and answered 400 naming the fields. */
  private async refuse(
    integration: IntegrationEntity,
    raw: Buffer,
    problems: FieldProblem[],
    req: Request,
  ): Promise<never> {
    await this.rejections.invalid(integration, raw, problems, req);
    throw validationFailed(problems);
  }

  private async finish(
    integration: IntegrationEntity,
    raw: Buffer,
    result: SourceResult,
    req: Request,
  ) {
    if (!result.ok) return this.refuse(integration, raw, result.problems, req);
    if (result.batch === null) {
      await this.rejections.ignored(integration, result.ignored, req);
      return { delivery: null, alerts: 0, ignored: result.ignored };
    }
    // Every adapter's schema refuses such text where it reads it; this is the one check no
    // adapter (nor a value it builds) can walk around: a path of the internal alert shape.
    const unstorable = unstorablePath({
      groupKey: result.batch.groupKey,
      eventId: result.batch.eventId,
      alerts: result.batch.alerts,
    });
    if (unstorable !== null)
      return this.refuse(
        integration,
        raw,
        [{ path: unstorable, message: UNSTORABLE_MESSAGE }],
        req,
      );
    const delivery = await this.intake.store(integration, result.batch, req);
    return { delivery, alerts: result.batch.alerts.length };
  }

  private async json(
    integration: IntegrationEntity,
    raw: Buffer,
    req: Request,
    adapt: (body: unknown) => SourceResult,
  ) {
    const parsed = parseJson(raw);
    return this.finish(integration, raw, parsed.ok ? adapt(parsed.value) : parsed, req);
  }

  @Post('alertmanager/:id')
  @Public()
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Alertmanager webhook (v4): authenticated by the integration secret (Authorization: Bearer, or basic auth password)',
  })
  async alertmanager(@Param('id') id: string, @Req() req: Request) {
    const integration = await this.integrationFor('alertmanager', id);
    await this.requireToken(integration, req);
    return this.json(integration, rawOf(req), req, adaptAlertmanager);
  }

  @Post('grafana/:id')
  @Public()
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Grafana alerting webhook contact point: the integration secret as its Authorization header or basic auth password, or as its HMAC signature secret (signature header, optional timestamp header)',
  })
  async grafana(@Param('id') id: string, @Req() req: Request) {
    const integration = await this.integrationFor('grafana', id);
    const raw = rawOf(req);
    const s = integration.settings;
    const signature = header(req, s.signatureHeader ?? 'X-Grafana-Alerting-Signature');
    if (signature !== undefined) {
      const timestamp = s.timestampHeader ? (header(req, s.timestampHeader) ?? null) : undefined;
      await this.requireSignature(integration, req, (secret) =>
        verifyGrafana(secret, raw, signature, timestamp, nowSeconds()),
      );
    } else if (s.timestampHeader) {
      // Configured for signed, timestamped requests: an unsigned one is refused.
      await this.deny(integration, 'no signature', req);
    } else await this.requireToken(integration, req);
    return this.json(integration, raw, req, adaptGrafana);
  }

  @Post('pagerduty/:id')
  @Public()
  @HttpCode(202)
  @ApiOperation({
    summary:
      'PagerDuty V3 webhook subscription: X-PagerDuty-Signature (v1=<hex HMAC-SHA256 of the body>, any match) with the subscription secret',
  })
  async pagerduty(@Param('id') id: string, @Req() req: Request) {
    const integration = await this.integrationFor('pagerduty', id);
    const raw = rawOf(req);
    await this.requireSignature(integration, req, (secret) =>
      verifyPagerDuty(secret, raw, header(req, 'x-pagerduty-signature')),
    );
    return this.json(integration, raw, req, adaptPagerDuty);
  }

  /** Generic and CloudEvents: `X-Firebreak-Signature` with `X-Firebreak-Timestamp`, or a token. */
  private async signedOrToken(integration: IntegrationEntity, raw: Buffer, req: Request) {
    const signature = header(req, 'x-firebreak-signature');
    if (signature === undefined) return this.requireToken(integration, req);
    await this.requireSignature(integration, req, (secret) =>
      verifyFirebreak(secret, raw, signature, header(req, 'x-firebreak-timestamp'), nowSeconds()),
    );
  }

  @Post('generic/:id')
  @Public()
  @HttpCode(202)
  @ApiOperation({
    summary:
      "Generic JSON alerts (docs/alerts.md): the integration secret as a bearer token, or X-Firebreak-Signature: sha256=<hex HMAC of '<X-Firebreak-Timestamp>.<body>'>",
  })
  async generic(@Param('id') id: string, @Req() req: Request) {
    const integration = await this.integrationFor('generic', id);
    const raw = rawOf(req);
    await this.signedOrToken(integration, raw, req);
    return this.json(integration, raw, req, adaptGeneric);
  }

  @Post('cloudevents/:id')
  @Public()
  @HttpCode(202)
  @ApiOperation({
    summary:
      'CloudEvents 1.0 over HTTP, structured (application/cloudevents+json) or binary (ce-* headers) mode; authenticated as generic JSON',
  })
  async cloudevents(@Param('id') id: string, @Req() req: Request) {
    const integration = await this.integrationFor('cloudevents', id);
    const raw = rawOf(req);
    await this.signedOrToken(integration, raw, req);
    const ct = header(req, 'content-type');
    if (ct && /^application\/cloudevents-batch\+json/i.test(ct)) {
      const problems = [
        {
          path: 'header content-type',
          message: 'batched mode is not supported: send one event per request',
        },
      ];
      await this.rejections.invalid(integration, raw, problems, req);
      throw new DomainException('UNSUPPORTED_MEDIA_TYPE', problems[0].message, problems);
    }
    if (ct && /^application\/cloudevents\+json/i.test(ct)) {
      const parsed = parseJson(raw);
      return this.finish(
        integration,
        raw,
        parsed.ok
          ? adaptCloudEvent({ mode: 'structured', headers: req.headers, body: parsed.value })
          : parsed,
        req,
      );
    }
    let data: unknown;
    if (raw.length && isJsonType(ct)) {
      const parsed = parseJson(raw);
      if (!parsed.ok) return this.finish(integration, raw, parsed, req);
      data = parsed.value;
    }
    return this.finish(
      integration,
      raw,
      adaptCloudEvent({ mode: 'binary', headers: req.headers, body: data }),
      req,
    );
  }
}

const rawOf = (req: Request): Buffer => (Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
const nowSeconds = () => Math.floor(Date.now() / 1000);
