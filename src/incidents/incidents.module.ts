import { Module, type DynamicModule } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import type { AppConfig } from '../config/config.js';
import { IncidentEvents } from './incident-events.js';
import { IncidentsAcl } from './incidents.acl.js';
import { IncidentsController } from './incidents.controller.js';
import { IncidentsService } from './incidents.service.js';

/**
 * Incidents; ExecutionsService comes from the global ExecutionsModule. A worker serves no
 * incident routes (it answers only /health and /metrics) but still offers the service.
 */
@Module({})
export class IncidentsModule {
  static register(config: AppConfig): DynamicModule {
    return {
      module: IncidentsModule,
      imports: [AuthModule],
      controllers: config.role === 'worker' ? [] : [IncidentsController],
      providers: [IncidentEvents, IncidentsService, IncidentsAcl],
      exports: [IncidentsService],
    };
  }
}
