import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module.js';
import type { AppConfig } from '../config/config.js';
import { IncidentEvents } from './incident-events.js';
import { IncidentRoleEntity } from './incident-role.entity.js';
import { IncidentExecutionsService } from './incident-executions.service.js';
import { IncidentTimelineEntity } from './incident-timeline.entity.js';
import { IncidentTimelineService } from './incident-timeline.service.js';
import { IncidentEntity } from './incident.entity.js';
import { IncidentsAcl } from './incidents.acl.js';
import { IncidentsController } from './incidents.controller.js';
import { IncidentsService } from './incidents.service.js';
import { PostmortemService } from './postmortem.service.js';
import { ResponseMetricsService } from './response-metrics.service.js';

/**
 * Incidents; ExecutionsService comes from the global ExecutionsModule. A worker serves no
 * incident routes (it answers only /health and /metrics) but still offers the services.
 */
@Module({})
export class IncidentsModule {
  static register(config: AppConfig): DynamicModule {
    return {
      module: IncidentsModule,
      imports: [
        TypeOrmModule.forFeature([IncidentEntity, IncidentRoleEntity, IncidentTimelineEntity]),
        AuthModule,
      ],
      controllers: config.role === 'worker' ? [] : [IncidentsController],
      providers: [
        IncidentEvents,
        IncidentTimelineService,
        ResponseMetricsService,
        IncidentsService,
        IncidentExecutionsService,
        PostmortemService,
        IncidentsAcl,
      ],
      // Other modules append to a timeline through IncidentTimelineService.append.
      exports: [
        IncidentsService,
        IncidentTimelineService,
        IncidentExecutionsService,
        IncidentEvents,
      ],
    };
  }
}
