import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module.js';
import type { AppConfig } from '../config/config.js';
import { NodesModule } from '../nodes/nodes.module.js';
import { RunbooksModule } from '../runbooks/runbooks.module.js';
import { AlertDeliveryEntity } from './alert-delivery.entity.js';
import { AlertEntity } from './alert.entity.js';
import { AlertRateWindowEntity } from './alert-rate-window.entity.js';
import { AlertIntakeService } from './alert-intake.service.js';
import { AlertProcessor } from './alert-processor.js';
import { AlertsAcl } from './alerts.acl.js';
import { HookRejections } from './hook-rejections.js';
import { HooksController } from './hooks.controller.js';
import { IntegrationEntity } from './integration.entity.js';
import { IntegrationsController } from './integrations.controller.js';
import { IntegrationsService } from './integrations.service.js';

/**
 * Alert webhooks: integrations (admin API), the hook routes (api processes), and the processor
 * that turns stored deliveries into incidents, timeline entries and diagnostic runs (every
 * process; one at a time per delivery).
 */
@Module({})
export class AlertsModule {
  /** `incidents`: the application's IncidentsModule (the same object, so one instance). */
  static register(config: AppConfig, incidents: DynamicModule): DynamicModule {
    return {
      module: AlertsModule,
      imports: [
        TypeOrmModule.forFeature([
          IntegrationEntity,
          AlertDeliveryEntity,
          AlertEntity,
          AlertRateWindowEntity,
        ]),
        AuthModule,
        RunbooksModule,
        NodesModule,
        incidents,
      ],
      controllers: config.role === 'worker' ? [] : [IntegrationsController, HooksController],
      providers: [
        IntegrationsService,
        AlertIntakeService,
        AlertProcessor,
        AlertsAcl,
        HookRejections,
      ],
    };
  }
}
