import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditEntryEntity, type AuditOutcome } from './audit-entry.entity.js';
import {
  chainHash,
  GENESIS_HASH,
  maskSecrets,
  verifySegment,
  type ChainBreak,
} from './audit-chain.js';

/** Who did it and from where; built from the request by the caller (or a system actor). */
export interface AuditContext {
  actorId: string | null;
  actorName: string;
  requestId?: string | null;
  sourceIp?: string | null;
}

export interface AuditEvent {
  action: string;
  outcome?: AuditOutcome;
  subjectType?: string | null;
  subjectId?: string | null;
  details?: Record<string, unknown>;
  /** Values to mask wherever they appear in details (secure options, credentials). */
  secretValues?: readonly string[];
}

export interface AuditQuery {
  actor?: string;
  action?: string;
  outcome?: AuditOutcome;
  subjectType?: string;
  subjectId?: string;
  from?: Date;
  to?: Date;
  /** Entries with id below this (newest first paging). */
  before?: string;
  limit: number;
}

export type VerifyResult =
  | { ok: true; checked: number; lastId: string | null }
  | { ok: false; checked: number; firstBad: ChainBreak };

/** Serializes appends: the chain is a single line, so writers take turns. */
const CHAIN_LOCK = 0x46424131; // 'FBA1'

export const SYSTEM_ACTOR: AuditContext = { actorId: null, actorName: 'system' };

@Injectable()
export class AuditService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Appends one entry. Pass `manager` to make the entry part of the caller's transaction, so a
   * change and its audit entry commit or roll back together.
   */
  async record(
    ctx: AuditContext,
    event: AuditEvent,
    manager?: EntityManager,
  ): Promise<AuditEntryEntity> {
    const [entry] = await this.recordMany([{ ctx, event }], manager);
    return entry;
  }

  /**
   * Appends entries in this order, one after the other on the chain: one wait for the chain's
   * lock, one read and one INSERT for all of them (a burst of webhook receipts is one).
   */
  async recordMany(
    items: ReadonlyArray<{ ctx: AuditContext; event: AuditEvent }>,
    manager?: EntityManager,
  ): Promise<AuditEntryEntity[]> {
    if (!items.length) return [];
    const write = async (m: EntityManager) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK]);
      // After the lock, in a statement of its own (its snapshot must see the entry the lock's
      // previous holder committed): the chain's last hash and the entries' ids in one round trip.
      const [{ hash: lastHash, ids }] = await m.query<
        Array<{ hash: string | null; ids: string[] }>
      >(
        `SELECT (SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1) AS hash,
                ARRAY(SELECT nextval('audit_log_id_seq')::text FROM generate_series(1, $1)) AS ids`,
        [items.length],
      );
      ids.sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
      // Millisecond precision round-trips exactly through timestamptz, so the hash is stable.
      const at = new Date();
      let prevHash = lastHash ?? GENESIS_HASH;
      const entries = items.map(({ ctx, event }, i) => {
        const entry = m.create(AuditEntryEntity, {
          id: ids[i],
          at,
          actorId: ctx.actorId,
          actorName: ctx.actorName,
          action: event.action,
          outcome: event.outcome ?? 'success',
          subjectType: event.subjectType ?? null,
          subjectId: event.subjectId ?? null,
          details: maskSecrets(event.details ?? {}, event.secretValues ?? []) as Record<
            string,
            unknown
          >,
          requestId: ctx.requestId ?? null,
          sourceIp: ctx.sourceIp ?? null,
          prevHash,
        });
        entry.hash = prevHash = chainHash(entry.prevHash, entry);
        return entry;
      });
      await m.getRepository(AuditEntryEntity).insert(entries as never);
      return entries;
    };
    return manager ? write(manager) : this.dataSource.transaction(write);
  }

  async list(q: AuditQuery): Promise<AuditEntryEntity[]> {
    const qb = this.dataSource.getRepository(AuditEntryEntity).createQueryBuilder('a');
    if (q.actor) qb.andWhere('a.actor_name = :actor', { actor: q.actor });
    if (q.action) {
      // `auth.login` matches itself and `auth.login.*`.
      qb.andWhere('(a.action = :action OR a.action LIKE :prefix)', {
        action: q.action,
        prefix: `${q.action}.%`,
      });
    }
    if (q.outcome) qb.andWhere('a.outcome = :outcome', { outcome: q.outcome });
    if (q.subjectType) qb.andWhere('a.subject_type = :st', { st: q.subjectType });
    if (q.subjectId) qb.andWhere('a.subject_id = :sid', { sid: q.subjectId });
    if (q.from) qb.andWhere('a.at >= :from', { from: q.from });
    if (q.to) qb.andWhere('a.at < :to', { to: q.to });
    if (q.before) qb.andWhere('a.id < :before', { before: q.before });
    return qb.orderBy('a.id', 'DESC').limit(q.limit).getMany();
  }

  /** Counts entries, e.g. failed logins for a user within a window (the login rate limit). */
  async count(
    action: string,
    outcome: AuditOutcome,
    since: Date,
    where: { actorName?: string; sourceIp?: string },
  ) {
    const qb = this.dataSource
      .getRepository(AuditEntryEntity)
      .createQueryBuilder('a')
      .where('a.action = :action AND a.outcome = :outcome AND a.at >= :since', {
        action,
        outcome,
        since,
      });
    if (where.actorName) qb.andWhere('a.actor_name = :n', { n: where.actorName });
    if (where.sourceIp) qb.andWhere('a.source_ip = :ip', { ip: where.sourceIp });
    return qb.getCount();
  }

  /** Walks the whole chain in id order, in pages, and names the first entry that does not match. */
  async verify(pageSize = 1000): Promise<VerifyResult> {
    const repo = this.dataSource.getRepository(AuditEntryEntity);
    let prev = GENESIS_HASH;
    let afterId = '0';
    let checked = 0;
    let lastId: string | null = null;
    for (;;) {
      const page = await repo
        .createQueryBuilder('a')
        .where('a.id > :afterId', { afterId })
        .orderBy('a.id', 'ASC')
        .limit(pageSize)
        .getMany();
      if (page.length === 0) return { ok: true, checked, lastId };
      const result = verifySegment(prev, page);
      if (!result.ok) {
        const index = page.findIndex((e) => e.id === result.broken.id);
        return { ok: false, checked: checked + index, firstBad: result.broken };
      }
      prev = result.lastHash;
      checked += page.length;
      lastId = afterId = page[page.length - 1].id;
    }
  }
}
