import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { Redis } from 'ioredis';
import { APP_CONFIG, type AppConfig } from '../config/config.js';

/** Redis is checked only when REDIS_URL is configured; PING within a second or it is down. */
@Injectable()
export class RedisHealthIndicator implements OnModuleDestroy {
  private client: Redis | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly indicator: HealthIndicatorService,
  ) {}

  get configured(): boolean {
    return Boolean(this.config.redisUrl);
  }

  async check(key = 'redis') {
    const check = this.indicator.check(key);
    this.client ??= new Redis(this.config.redisUrl!, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      connectTimeout: 1000,
      enableOfflineQueue: false,
    });
    try {
      if (this.client.status === 'wait' || this.client.status === 'end')
        await this.client.connect();
      const pong = await Promise.race([
        this.client.ping(),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('timed out after 1000 ms')), 1000).unref(),
        ),
      ]);
      return pong === 'PONG'
        ? check.up()
        : check.down({ message: `unexpected reply ${String(pong)}` });
    } catch (err) {
      return check.down({ message: (err as Error).message });
    }
  }

  onModuleDestroy(): void {
    this.client?.disconnect();
  }
}
