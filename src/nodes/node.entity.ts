import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { CredentialEntity } from './credential.entity.js';

export const NODE_SOURCES = ['file', 'api', 'ansible', 'builtin'] as const;
export type NodeSource = (typeof NODE_SOURCES)[number];

/** How a node is reached: over SSH, or on the Firebreak host itself (the local executor). */
export const NODE_CONNECTIONS = ['ssh', 'local'] as const;
export type NodeConnection = (typeof NODE_CONNECTIONS)[number];

/**
 * A node runbooks run on. Nodes come from `inventory.yaml` (source `file`: the file owns them,
 * the API refuses to edit them), from the API, or from an Ansible import. A node that leaves the
 * file is disabled, never deleted, so past executions still name it. The built-in `localhost`
 * node (source `builtin`, connection `local`) is the service's own; the API cannot edit it.
 */
@Entity('nodes')
@Check('nodes_source_check', `source IN ('file', 'api', 'ansible', 'builtin')`)
@Check('nodes_connection_check', `connection IN ('ssh', 'local')`)
@Check('nodes_port_check', `port BETWEEN 1 AND 65535`)
@Index('nodes_credential_id_idx', ['credentialId'])
export class NodeEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Index('nodes_name_key', { unique: true })
  @Column({ type: 'varchar', length: 253 })
  name: string;

  @Column({ type: 'varchar', length: 253 })
  hostname: string;

  @Column({ type: 'integer', default: 22 })
  port: number;

  /** Login user; null: the credential's username, else `root`. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  username: string | null;

  @Column({ type: 'text', array: true, default: () => "'{}'" })
  tags: string[];

  /** String attributes that filters match, e.g. `{ environment: 'production' }`. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  attributes: Record<string, string>;

  @Column({ name: 'credential_id', type: 'uuid', nullable: true })
  credentialId: string | null;

  /** A credential in use cannot be deleted (the service answers 409 naming the nodes). */
  @ManyToOne(() => CredentialEntity, { onDelete: 'RESTRICT', nullable: true })
  @JoinColumn({ name: 'credential_id', foreignKeyConstraintName: 'nodes_credential_id_fkey' })
  credential?: CredentialEntity | null;

  /** Pinned host key, `SHA256:…` as `ssh-keygen -lf` prints it; null when not pinned yet. */
  @Column({ name: 'host_key_fingerprint', type: 'varchar', length: 100, nullable: true })
  hostKeyFingerprint: string | null;

  /** With no pinned key, accept and pin the first key seen. */
  @Column({ name: 'trust_on_first_use', type: 'boolean', default: false })
  trustOnFirstUse: boolean;

  @Column({ type: 'varchar', length: 8 })
  source: NodeSource;

  /** `local`: commands run on the Firebreak host (no SSH, no credential); else over SSH. */
  @Column({ type: 'varchar', length: 8, default: 'ssh' })
  connection: NodeConnection;

  /** The file a `file` node came from, relative to RUNBOOKS_DIR. */
  @Column({ name: 'source_path', type: 'varchar', length: 500, nullable: true })
  sourcePath: string | null;

  @Column({ type: 'boolean', default: false })
  disabled: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
