import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuditService, type AuditContext } from '../audit/audit.service.js';
import { Audit } from '../auth/current.decorator.js';
import { CheckAbility } from '../common/access/acl.decorator.js';
import { DomainException } from '../common/errors.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { RunbooksService } from '../runbooks/runbooks.service.js';
import { hasErrors, importRunbooks, writeImport } from './index.js';
import { ImportRequestDto } from './import.dto.js';
import { RUNBOOK_IMPORTERS } from './kinds.js';

@ApiTags('runbooks')
@ApiBearerAuth()
@Controller('runbooks')
export class ImportController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly runbooks: RunbooksService,
    private readonly audit: AuditService,
  ) {}

  /**
   * The console's upload: converts (Rundeck jobs, …) and returns the report; with `write: true`
   * writes every runbook into RUNBOOKS_DIR or none (each checked as `firebreak lint` does, an
   * existing file only replaced with `overwrite: true`) and syncs. Admins only (it writes files).
   */
  @Post('import')
  @HttpCode(200)
  @CheckAbility('create', 'Runbook')
  @ApiOperation({
    summary: 'Import runbooks from another tool (report; write: true to write and sync)',
  })
  async import(@Body() body: ImportRequestDto, @Audit() ctx: AuditContext) {
    if (!RUNBOOK_IMPORTERS[body.kind])
      throw new DomainException('VALIDATION_FAILED', `kind: unknown import kind "${body.kind}"`, [
        {
          path: 'kind',
          message: `expected one of ${Object.keys(RUNBOOK_IMPORTERS).join(', ')}`,
        },
      ]);
    const names = body.files.map((f) => f.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup)
      throw new DomainException('VALIDATION_FAILED', `files: the name ${dup} is given twice`, [
        { path: `files[${names.lastIndexOf(dup)}].name`, message: 'given twice' },
      ]);
    const result = importRunbooks(
      body.kind,
      body.files.map((f) => ({ file: f.name, text: f.content })),
    );
    const report = { files: result.files, findings: result.findings, written: [] as string[] };
    const details = { kind: body.kind, inputs: names, runbooks: result.files.map((f) => f.name) };
    if (!body.write) {
      await this.audit.record(ctx, {
        action: 'runbook.import',
        outcome: 'success',
        details: { ...details, write: false, errors: hasErrors(result) },
      });
      return report;
    }
    if (hasErrors(result)) {
      await this.audit.record(ctx, {
        action: 'runbook.import',
        outcome: 'failure',
        details: { ...details, reason: 'the report has errors' },
      });
      return report;
    }
    const outcome = await writeImport(
      this.config.runbooksDir,
      result.files,
      Boolean(body.overwrite),
    );
    if (outcome.existing.length) {
      await this.audit.record(ctx, {
        action: 'runbook.import',
        outcome: 'failure',
        details: { ...details, existing: outcome.existing },
      });
      throw new DomainException(
        'CONFLICT',
        `files exist in RUNBOOKS_DIR: ${outcome.existing.join(', ')}; nothing was written (overwrite: true replaces them)`,
        outcome.existing.map((p) => ({ path: 'overwrite', message: `${p} exists` })),
      );
    }
    if (outcome.clashes.length) {
      await this.audit.record(ctx, {
        action: 'runbook.import',
        outcome: 'failure',
        details: { ...details, clashes: outcome.clashes },
      });
      throw new DomainException(
        'CONFLICT',
        `runbooks already defined by other files in RUNBOOKS_DIR: ${outcome.clashes.join(', ')}; nothing was written`,
        outcome.clashes.map((c) => ({ path: 'files', message: `${c} already defines it` })),
      );
    }
    await this.audit.record(ctx, {
      action: 'runbook.import',
      outcome: 'success',
      details: { ...details, written: outcome.written, overwrite: Boolean(body.overwrite) },
    });
    const sync = await this.runbooks.sync(ctx);
    return { ...report, written: outcome.written, sync };
  }
}
