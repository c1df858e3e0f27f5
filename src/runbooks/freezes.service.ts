import { readFile, stat } from 'node:fs/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { SourceProblem } from '../common/yaml-source.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import {
  activeFreeze,
  nextWindow,
  parseFreezes,
  windowAt,
  type ActiveFreeze,
  type FreezeDefinition,
  type FreezeTarget,
} from './freezes.js';
import type { RunbookDefinition } from './runbook.schema.js';

export interface FreezeView extends FreezeDefinition {
  /** The window in effect now, if any. */
  active: { start: string; until: string } | null;
  /** The next window that starts after now, if any. */
  next: { start: string; until: string } | null;
}

/**
 * The change freezes of the reviewed freezes file, read again whenever it changes (a stat per
 * check). A file with problems never replaces the last valid one: its problems are logged and
 * shown by GET /freezes.
 */
@Injectable()
export class FreezesService {
  private readonly logger = new Logger(FreezesService.name);
  private freezes: FreezeDefinition[] = [];
  private problems: SourceProblem[] = [];
  private seen: string | null = null;
  private loading: Promise<void> | undefined;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

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
    return activeFreeze(this.freezes, def, targets, at);
  }

  async list(
    at = new Date(),
  ): Promise<{ file: string; freezes: FreezeView[]; problems: SourceProblem[] }> {
    await this.refresh();
    const iso = (w: { start: Date; until: Date } | null) =>
      w && { start: w.start.toISOString(), until: w.until.toISOString() };
    return {
      file: this.file,
      freezes: this.freezes.map((f) => ({
        ...f,
        active: iso(windowAt(f, at)),
        next: iso(nextWindow(f, at)),
      })),
      problems: this.problems,
    };
  }
}
