import { readFile, stat } from 'node:fs/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditService, type AuditContext } from '../audit/audit.service.js';
import { DomainException, notFound, validationFailed } from '../common/errors.js';
import type { SourceProblem } from '../common/yaml-source.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { FreezeEntity } from './freeze.entity.js';
import {
  activeFreeze,
  checkFreeze,
  nextWindow,
  parseFreezes,
  windowAt,
  type ActiveFreeze,
  type FreezeDefinition,
  type FreezeTarget,
} from './freezes.js';
import type { RunbookDefinition } from './runbook.schema.js';

export interface FreezeView extends FreezeDefinition {
  /** `file`: the reviewed freezes file (read-only here); `api`: made through POST /freezes. */
  source: 'file' | 'api';
  /** The window in effect now, if any. */
  active: { start: string; until: string } | null;
  /** The next window that starts after now, if any. */
  next: { start: string; until: string } | null;
}

/**
 * The change freezes: those of the reviewed freezes file, read again whenever it changes (a stat
 * per check; a file with problems never replaces the last valid one: its problems are logged and
 * shown by GET /freezes), and those made through the API (the `freezes` table, read on every
 * check, so every process sees a new one at once), validated exactly like the file's.
 */
@Injectable()
export class FreezesService {
  private readonly logger = new Logger(FreezesService.name);
  private freezes: FreezeDefinition[] = [];
  private problems: SourceProblem[] = [];
  private seen: string | null = null;
  private loading: Promise<void> | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {}

  private get repo() {
    return this.dataSource.getRepository(FreezeEntity);
  }

  private async apiFreezes(): Promise<FreezeDefinition[]> {
    return (await this.repo.find({ order: { name: 'ASC' } })).map((r) => r.definition);
  }

  get file(): string {
    return this.config.freezesFile;
  }

  private async refresh(): Promise<void> {
    this.loading ??= (async () => {
      let key: string;
      try {
        const s = await stat(this.file);
        key = `${s.mtimeMs}:${s.size}:${s.ino}`;
      } catch {
        key = 'absent';
      }
      if (key === this.seen) return;
      if (key === 'absent') {
        this.freezes = [];
        this.problems = [];
      } else {
        const r = parseFreezes(this.file, await readFile(this.file, 'utf8'));
        if (r.ok) {
          this.freezes = r.freezes;
          this.problems = [];
        } else {
          this.problems = r.problems;
          for (const p of r.problems)
            this.logger.error(`${p.file}:${p.line}:${p.col} ${p.path}: ${p.message}`);
        }
      }
      this.seen = key;
    })().finally(() => (this.loading = undefined));
    return this.loading;
  }

  /** The freeze a run of `def` on `targets` is refused by at `at`, or null. */
  async activeFor(
    def: Pick<RunbookDefinition, 'name' | 'kind' | 'tags'>,
    targets: readonly FreezeTarget[],
    at = new Date(),
  ): Promise<ActiveFreeze | null> {
    await this.refresh();
    return activeFreeze([...this.freezes, ...(await this.apiFreezes())], def, targets, at);
  }

  async list(
    at = new Date(),
  ): Promise<{ file: string; freezes: FreezeView[]; problems: SourceProblem[] }> {
    await this.refresh();
    const iso = (w: { start: Date; until: Date } | null) =>
      w && { start: w.start.toISOString(), until: w.until.toISOString() };
    return {
      file: this.file,
      freezes: [
        ...this.freezes.map((f) => ({ f, source: 'file' as const })),
        ...(await this.apiFreezes()).map((f) => ({ f, source: 'api' as const })),
      ].map(({ f, source }) => ({
        ...f,
        source,
        active: iso(windowAt(f, at)),
        next: iso(nextWindow(f, at)),
      })),
      problems: this.problems,
    };
  }

  /** A file freeze of this name: changed only in the reviewed file (409 naming it). */
  private async refuseFileFreeze(name: string, attempted: string): Promise<void> {
    await this.refresh();
    if (this.freezes.some((f) => f.name === name))
      throw new DomainException(
        'CONFLICT',
        `freeze ${name} is in ${this.file}: ${attempted} it there (through review), not through the API`,
        { freeze: name, file: this.file },
      );
  }

  private valid(body: unknown): FreezeDefinition {
    const r = checkFreeze(body);
    if (!r.ok) throw validationFailed(r.problems);
    return r.freeze;
  }

  private view(f: FreezeDefinition): FreezeView {
    const at = new Date();
    const iso = (w: { start: Date; until: Date } | null) =>
      w && { start: w.start.toISOString(), until: w.until.toISOString() };
    return { ...f, source: 'api', active: iso(windowAt(f, at)), next: iso(nextWindow(f, at)) };
  }

  /** POST /freezes: a new freeze, validated like the file's, audited `freeze.create`. */
  async create(body: unknown, audit: AuditContext): Promise<FreezeView> {
    const f = this.valid(body);
    await this.refuseFileFreeze(f.name, 'define');
    await this.dataSource.transaction(async (m) => {
      const inserted = await m.query<unknown[]>(
        `INSERT INTO "freezes" ("name", "definition", "created_by", "updated_by")
         VALUES ($1, $2, $3, $3) ON CONFLICT ("name") DO NOTHING RETURNING "name"`,
        [f.name, f, audit.actorName],
      );
      if (!inserted.length)
        throw new DomainException('CONFLICT', `freeze ${f.name} already exists`, {
          freeze: f.name,
        });
      await this.audit.record(
        audit,
        {
          action: 'freeze.create',
          subjectType: 'Freeze',
          subjectId: f.name,
          details: { freeze: f },
        },
        m,
      );
    });
    return this.view(f);
  }

  /**
   * PATCH /freezes/NAME: the given fields replace the freeze's (null removes one), and the whole
   * is checked again like the file's; the name stays. Audited `freeze.update` with before/after.
   */
  async update(name: string, patch: unknown, audit: AuditContext): Promise<FreezeView> {
    await this.refuseFileFreeze(name, 'change');
    if (!patch || typeof patch !== 'object' || Array.isArray(patch))
      throw validationFailed([{ path: '(body)', message: 'expected an object of fields' }]);
    const fields = patch as Record<string, unknown>;
    if ('name' in fields && fields.name !== name)
      throw validationFailed([
        { path: 'name', message: 'a freeze keeps its name (delete it and create another)' },
      ]);
    return this.dataSource.transaction(async (m) => {
      const row = await m.findOne(FreezeEntity, {
        where: { name },
        lock: { mode: 'pessimistic_write' },
      });
      if (!row) throw notFound('Freeze', name);
      const merged: Record<string, unknown> = { ...row.definition };
      for (const [k, v] of Object.entries(fields))
        if (v === null) delete merged[k];
        else merged[k] = v;
      const f = this.valid(merged);
      await m.update(FreezeEntity, { name }, { definition: f, updatedBy: audit.actorName });
      await this.audit.record(
        audit,
        {
          action: 'freeze.update',
          subjectType: 'Freeze',
          subjectId: name,
          details: { before: row.definition, after: f },
        },
        m,
      );
      return this.view(f);
    });
  }

  /** DELETE /freezes/NAME: audited `freeze.delete` with what it was. */
  async remove(name: string, audit: AuditContext): Promise<void> {
    await this.refuseFileFreeze(name, 'remove');
    await this.dataSource.transaction(async (m) => {
      const row = await m.findOneBy(FreezeEntity, { name });
      if (!row) throw notFound('Freeze', name);
      await m.delete(FreezeEntity, { name });
      await this.audit.record(
        audit,
        {
          action: 'freeze.delete',
          subjectType: 'Freeze',
          subjectId: name,
          details: { freeze: row.definition },
        },
        m,
      );
    });
  }
}
