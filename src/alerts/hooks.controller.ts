import { Body, Controller, Headers, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { AuditService } from '../audit/audit.service.js';
import { auditContextOf } from '../audit/request-audit.js';
import { DomainException, notFound, validationFailed } from '../common/errors.js';
import { Public } from '../common/public.decorator.js';
import { adaptAlertmanager } from './adapters/alertmanager.js';
import { AlertIntakeService } from './alert-intake.service.js';
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

/**
 * Alert webhooks: public routes with their own authentication (the integration's secret, as a
 * bearer token or a basic-auth password, compared in constant time). 202 once the delivery is
 * stored; what it means (incidents, timeline, runs) is worked out after, by AlertProcessor.
 */
@ApiTags('alerts')
@Controller('hooks')
export class HooksController {
  constructor(
    private readonly integrations: IntegrationsService,
    private readonly intake: AlertIntakeService,
    private readonly audit: AuditService,
  ) {}

  @Post('alertmanager/:id')
  @Public()
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Alertmanager webhook (v4): authenticated by the integration secret (Authorization: Bearer, or basic auth password)',
  })
  async alertmanager(
    @Param('id') id: string,
    @Headers('authorization') authorization: string | undefined,
    @Body() body: unknown,
    @Req() req: Request,
  ) {
    const integration = await this.integrations.forHook('alertmanager', id);
    if (!integration) throw notFound('Integration', id);
    if (!this.integrations.verify(integration, presentedSecret(authorization))) {
      await this.audit.record(auditContextOf(req), {
        action: 'alert.unauthenticated',
        outcome: 'denied',
        subjectType: 'Integration',
        subjectId: integration.id,
        details: {
          integration: integration.name,
          reason: authorization ? 'wrong credentials' : 'no credentials',
        },
      });
      throw new DomainException('AUTH_REQUIRED', 'missing or wrong credentials for this hook');
    }
    const adapted = adaptAlertmanager(body);
    if (!adapted.ok) throw validationFailed(adapted.problems);
    const delivery = await this.intake.store(integration, adapted.batch, req);
    return { delivery, alerts: adapted.batch.alerts.length };
  }
}
