import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module.js';
import type { AppConfig } from '../config/config.js';
import { RunbooksModule } from '../runbooks/runbooks.module.js';
import { ScheduleFireEntity } from './schedule-fire.entity.js';
import { ScheduleStateEntity } from './schedule-state.entity.js';
import { Scheduler } from './scheduler.js';
import { SchedulesController } from './schedules.controller.js';
import { SchedulesService } from './schedules.service.js';

/**
 * Runbook schedules: the scheduler (a tick in every api process; exactly once per fire time
 * through the schedule_fires claim) and the API (list, history, pause, resume).
 */
@Module({})
export class SchedulesModule {
  static register(config: AppConfig): DynamicModule {
    return {
      module: SchedulesModule,
      imports: [
        TypeOrmModule.forFeature([ScheduleStateEntity, ScheduleFireEntity]),
        AuthModule,
        RunbooksModule,
      ],
      controllers: config.role === 'worker' ? [] : [SchedulesController],
      providers: [Scheduler, SchedulesService],
    };
  }
}
