import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from 'typeorm';
import type { RunbookDefinition } from './runbook.schema.js';
import { RunbookEntity } from './runbook.entity.js';

/**
 * One immutable version of a runbook. A new version exists only when the normalized content
 * (sha256 of the canonical definition) differs from the current one. Never updated or deleted.
 */
@Entity('runbook_versions')
@Index('runbook_versions_runbook_version_key', ['runbookId', 'version'], { unique: true })
export class RunbookVersionEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'runbook_id', type: 'uuid' })
  runbookId: string;

  @ManyToOne(() => RunbookEntity, { onDelete: 'RESTRICT', nullable: false })
  @JoinColumn({ name: 'runbook_id', foreignKeyConstraintName: 'runbook_versions_runbook_id_fkey' })
  runbook?: RunbookEntity;

  @Column({ type: 'integer' })
  version: number;

  @Column({ name: 'content_hash', type: 'char', length: 64 })
  contentHash: string;

  /** The YAML as written, comments included. */
  @Column({ type: 'text' })
  source: string;

  /** The validated, normalized definition the engine runs. */
  @Column({ type: 'jsonb' })
  definition: RunbookDefinition;

  @Column({ name: 'source_kind', type: 'varchar', length: 8 })
  sourceKind: 'file' | 'api';

  @Column({ name: 'source_path', type: 'varchar', length: 500, nullable: true })
  sourcePath: string | null;

  @Column({ name: 'git_commit', type: 'varchar', length: 40, nullable: true })
  gitCommit: string | null;

  @Column({ name: 'author_id', type: 'uuid', nullable: true })
  authorId: string | null;

  @Column({ name: 'author_name', type: 'varchar', length: 128 })
  authorName: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
