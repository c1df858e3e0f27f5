import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import type { NodeFilter } from './node-filter.schema.js';
import type { NodeSource } from './node.entity.js';

/**
 * A named group of nodes: either a node filter (`{ tags: [web] }`) or an explicit list of node
 * names and globs, never both. Membership is computed when nodes are resolved, so a node added
 * later joins every cluster it matches.
 */
@Entity('clusters')
@Check('clusters_source_check', `source IN ('file', 'api', 'ansible')`)
@Check('clusters_membership_check', `(filter IS NULL) <> (node_names IS NULL)`)
export class ClusterEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Index('clusters_name_key', { unique: true })
  @Column({ type: 'varchar', length: 63 })
  name: string;

  @Column({ type: 'varchar', length: 500, default: '' })
  description: string;

  @Column({ type: 'jsonb', nullable: true })
  filter: NodeFilter | null;

  /** Node names or globs (`web-*`). */
  @Column({ name: 'node_names', type: 'text', array: true, nullable: true })
  nodeNames: string[] | null;

  @Column({ type: 'varchar', length: 8 })
  source: NodeSource;

  @Column({ name: 'source_path', type: 'varchar', length: 500, nullable: true })
  sourcePath: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
