import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';

/** A runbook by name: its current version, searchable fields, and whether it may run. */
@Entity('runbooks')
export class RunbookEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Index('runbooks_name_key', { unique: true })
  @Column({ type: 'varchar', length: 63 })
  name: string;

  @Column({ type: 'varchar', length: 16 })
  kind: 'diagnostic' | 'remediation';

  @Column({ type: 'text' })
  description: string;

  @Column({ type: 'text', array: true, default: () => "'{}'" })
  tags: string[];

  @Column({ name: 'current_version', type: 'integer' })
  currentVersion: number;

  @Column({ type: 'boolean', default: false })
  disabled: boolean;

  @Column({ name: 'disabled_reason', type: 'varchar', length: 500, nullable: true })
  disabledReason: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
