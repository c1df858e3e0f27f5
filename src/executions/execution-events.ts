import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { PgNotifications } from '../database/pg-notifications.js';

/** The Postgres NOTIFY channel of execution events; nothing outside this file names it. */
const EXECUTION_CHANNEL = 'firebreak_execution';

export interface ExecutionNotice {
  id: string;
  /**
   * New log lines, a status change, a cancel request for the worker running it, or an approval
   * event (requested, approved, rejected, expired, reminder: what notification channels use).
   */
  kind: 'logs' | 'status' | 'cancel' | 'approval';
  approval?: 'requested' | 'approved' | 'rejected' | 'expired' | 'reminder';
  /**
   * `logs` of a small batch: the lines themselves (seq from + 1 … in order, masked, as stored),
   * so live viewers need no read. Only a shortcut: a viewer that missed it reads them by seq.
   */
  from?: number;
  lines?: Array<{
    seq: number;
    at: string;
    node: string | null;
    step: string | null;
    stream: string;
    line: string;
  }>;
}

/**
 * Execution events over Postgres NOTIFY, so an SSE viewer on one api process sees output written
 * by a worker in another and a cancel reaches whichever worker runs it. The only sender and the
 * one way to subscribe (the incidents module listens here for finished runs).
 */
@Injectable()
export class ExecutionEvents {
  constructor(
    private readonly notifications: PgNotifications,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  /**
   * Sends a notice; pass the transaction's manager so it is delivered only if (and when) the
   * change it announces commits.
   */
  async publish(
    notice: ExecutionNotice,
    m: EntityManager = this.dataSource.manager,
  ): Promise<void> {
    await m.query('SELECT pg_notify($1, $2)', [EXECUTION_CHANNEL, JSON.stringify(notice)]);
  }

  /**
   * The same notice as an SQL expression, to send it from within another statement (no round
   * trip of its own); `bind` adds a parameter and returns its placeholder.
   */
  noticeSql(notice: ExecutionNotice, bind: (value: unknown) => string): string {
    return `pg_notify(${bind(EXECUTION_CHANNEL)}, ${bind(JSON.stringify(notice))})`;
  }

  /**
   * Calls `fn` for notices about one execution id, or about all with '*'; returns the
   * unsubscribe. A subscriber to one id also gets a `logs` notice after the event connection came
   * back from a database outage (notices sent meanwhile are lost), so a live stream reads again.
   */
  subscribe(executionId: string, fn: (notice: ExecutionNotice) => void): Promise<() => void> {
    return this.notifications.listen(
      EXECUTION_CHANNEL,
      (payload) => {
        const notice = payload as ExecutionNotice;
        if (executionId === '*' || notice.id === executionId) fn(notice);
      },
      executionId === '*' ? undefined : () => fn({ id: executionId, kind: 'logs' }),
    );
  }
}
