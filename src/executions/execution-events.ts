import { Injectable } from '@nestjs/common';
import { PgNotifications } from '../database/pg-notifications.js';
import { EXECUTION_CHANNEL, type ExecutionNotice } from './log-writer.js';

/**
 * Execution events (new log lines, status changes, cancel requests) over Postgres NOTIFY, so an
 * SSE viewer on one api process sees output written by a worker in another.
 */
@Injectable()
export class ExecutionEvents {
  constructor(private readonly notifications: PgNotifications) {}

  /** Calls `fn` for notices about one execution id, or about all with '*'; returns the unsubscribe. */
  subscribe(executionId: string, fn: (notice: ExecutionNotice) => void): Promise<() => void> {
    return this.notifications.listen(EXECUTION_CHANNEL, (payload) => {
      const notice = payload as ExecutionNotice;
      if (executionId === '*' || notice.id === executionId) fn(notice);
    });
  }
}
