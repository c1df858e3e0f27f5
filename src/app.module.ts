import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LoggerModule } from 'nestjs-pino';
import { AlertsModule } from './alerts/alerts.module.js';
import { AuditModule } from './audit/audit.module.js';
import { AuthModule } from './auth/auth.module.js';
import { ConfigModule } from './config/config.module.js';
import type { AppConfig } from './config/config.js';
import { dataSourceOptions } from './database/data-source.js';
import { PgNotificationsModule } from './database/pg-notifications.js';
import { loggerOptions } from './observability/logging.js';
import { ExecutionsModule } from './executions/executions.module.js';
import { ImportModule } from './import/import.module.js';
import { IncidentsModule } from './incidents/incidents.module.js';
import { NodesModule } from './nodes/nodes.module.js';
import { ObservabilityModule } from './observability/observability.module.js';
import { RunbooksModule } from './runbooks/runbooks.module.js';
import { SlackModule } from './slack/slack.module.js';
import { SchedulesModule } from './schedules/schedules.module.js';

export interface AppModuleOptions {
  config: AppConfig;
  /** The resolved database URL: DATABASE_URL or the embedded server's. */
  databaseUrl: string;
}

@Module({})
export class AppModule {
  static forRoot({ config, databaseUrl }: AppModuleOptions): DynamicModule {
    // One instance, imported here and by the alerts module (modules are told apart by reference).
    const incidents = IncidentsModule.register(config);
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config, databaseUrl),
        LoggerModule.forRoot(loggerOptions(config)),
        // Each module registers its entities with TypeOrmModule.forFeature.
        TypeOrmModule.forRoot({
          ...dataSourceOptions(databaseUrl, [], {
            applicationName: `firebreak-${config.role}`,
            entities: [],
          }),
          autoLoadEntities: true,
        }),
        PgNotificationsModule,
        ObservabilityModule,
        AuditModule,
        AuthModule,
        RunbooksModule,
        ImportModule,
        NodesModule,
        ExecutionsModule.register(config),
        incidents,
        AlertsModule.register(config, incidents),
        SlackModule.register(config, incidents),
        SchedulesModule.register(config),
      ],
    };
  }
}
