import {
  Controller,
  Get,
  Header,
  Inject,
  Optional,
  Res,
  ServiceUnavailableException,
} from '@nestjs/common';
import type { Response } from 'express';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { Public } from '../common/public.decorator.js';
import { MetricsService } from './metrics.service.js';
import { QUEUE_HEALTH, type QueueHealth } from './queue-health.js';
import { RedisHealthIndicator } from './redis.health.js';

@ApiTags('observability')
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly redis: RedisHealthIndicator,
    private readonly metrics: MetricsService,
    private readonly indicator: HealthIndicatorService,
    @Optional() @Inject(QUEUE_HEALTH) private readonly queue?: QueueHealth,
  ) {}

  /** The execution queue as this process sees it: down while starts would answer 503. */
  private queueCheck() {
    const check = this.indicator.check('queue');
    const reason = this.queue!.unavailable();
    return reason
      ? check.down({ kind: this.queue!.kind, message: reason })
      : check.up({ kind: this.queue!.kind });
  }

  @Public()
  @Get('health')
  @HealthCheck()
  @ApiOperation({
    summary:
      'Liveness and readiness: database, the execution queue, and Redis when configured (503 when down)',
  })
  async check(@Res({ passthrough: true }) res: Response) {
    try {
      return await this.health.check([
        () => this.db.pingCheck('database', { timeout: 2000 }),
        ...(this.queue ? [() => this.queueCheck()] : []),
        ...(this.redis.configured ? [() => this.redis.check('redis')] : []),
      ]);
    } catch (err) {
      // Down is an answer, not an error: same body shape as up, with 503.
      if (!(err instanceof ServiceUnavailableException)) throw err;
      res.status(503);
      return err.getResponse();
    }
  }

  @Public()
  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({ summary: 'Prometheus metrics (text exposition format)' })
  async scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
