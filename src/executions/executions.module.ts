import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { BullModule, getQueueToken } from '@nestjs/bull';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { Queue } from 'bull';
import type { AppConfig } from '../config/config.js';
import { QUEUE_HEALTH } from '../observability/queue-health.js';
import { AuthModule } from '../auth/auth.module.js';
import { NodesModule } from '../nodes/nodes.module.js';
import { RunbooksModule } from '../runbooks/runbooks.module.js';
import { ConcurrencyDispatcher } from './concurrency.js';
import { ExecutionEvents } from './execution-events.js';
import { ExecutionLogEntity } from './execution-log.entity.js';
import {
  BULL_QUEUE_NAME,
  BullExecutionQueue,
  EXECUTION_QUEUE,
  InProcessExecutionQueue,
} from './execution-queue.js';
import { ExecutionRepository } from './execution.repository.js';
import { ExecutionResultEntity } from './execution-result.entity.js';
import { ExecutionEntity } from './execution.entity.js';
import { ExecutionRunner } from './execution.runner.js';
import { ExecutionsProcessor } from './executions.processor.js';
import { ExecutionsController } from './executions.controller.js';
import { ExecutionsService } from './executions.service.js';
import { ApprovalDecisionEntity, ApprovalRequestEntity } from './approval.entity.js';
import { ApprovalsController } from './approvals.controller.js';
import { ApprovalsService } from './approvals.service.js';
import { RetentionService } from './retention.js';

/** Bull on Redis when REDIS_URL is set; otherwise the in-process queue behind the same interface. */
@Module({})
export class ExecutionsModule {
  static register(config: AppConfig): DynamicModule {
    const queue: Provider = config.redisUrl
      ? {
          provide: EXECUTION_QUEUE,
          inject: [getQueueToken(BULL_QUEUE_NAME)],
          useFactory: (q: Queue<{ executionId: string }>) => new BullExecutionQueue(q),
        }
      : { provide: EXECUTION_QUEUE, useFactory: () => new InProcessExecutionQueue() };
    return {
      module: ExecutionsModule,
      // Global so IncidentsModule (and later alerts, Slack) can start runs through the one service.
      global: true,
      imports: [
        TypeOrmModule.forFeature([
          ExecutionEntity,
          ExecutionResultEntity,
          ExecutionLogEntity,
          ApprovalRequestEntity,
          ApprovalDecisionEntity,
        ]),
        RunbooksModule,
        NodesModule,
        // runbook steps start their child as the parent's user (UsersService, AbilityFactory).
        AuthModule,
        ...(config.redisUrl
          ? [
              BullModule.forRoot({ url: config.redisUrl, prefix: 'firebreak' }),
              BullModule.registerQueue({ name: BULL_QUEUE_NAME }),
            ]
          : []),
      ],
      controllers: config.role === 'worker' ? [] : [ExecutionsController, ApprovalsController],
      providers: [
        queue,
        { provide: QUEUE_HEALTH, useExisting: EXECUTION_QUEUE },
        ExecutionEvents,
        ExecutionRepository,
        ExecutionRunner,
        ExecutionsProcessor,
        ExecutionsService,
        ApprovalsService,
        ConcurrencyDispatcher,
        RetentionService,
      ],
      // The one start path, and execution events for those who follow runs (incidents); the
      // queue's state for /health.
      exports: [ExecutionsService, ApprovalsService, ExecutionEvents, QUEUE_HEALTH],
    };
  }
}
