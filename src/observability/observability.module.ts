import { Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller.js';
import { MetricsService } from './metrics.service.js';
import { RedisHealthIndicator } from './redis.health.js';

@Global()
@Module({
  imports: [TerminusModule.forRoot({ logger: false, errorLogStyle: 'pretty' })],
  controllers: [HealthController],
  providers: [MetricsService, RedisHealthIndicator],
  exports: [MetricsService],
})
export class ObservabilityModule {}
