import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { FreezeDefinition } from './freezes.js';

/** A change freeze made through the API (POST /freezes): the same definition as a file freeze. */
@Entity('freezes')
export class FreezeEntity {
  @PrimaryColumn({ type: 'varchar', length: 63, primaryKeyConstraintName: 'freezes_pkey' })
  name: string;

  @Column({ type: 'jsonb' })
  definition: FreezeDefinition;

  @Column({ name: 'created_by', type: 'varchar', length: 128 })
  createdBy: string;

  @Column({ name: 'updated_by', type: 'varchar', length: 128 })
  updatedBy: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
