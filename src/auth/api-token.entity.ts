import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { UserEntity } from './user.entity.js';

/**
 * A personal API token. The secret is shown once at creation; only its SHA-256 is stored (the
 * token carries 256 random bits, so a fast hash is the right tool: it makes the lookup an index
 * hit and leaks nothing usable).
 */
@Entity('api_tokens')
@Index('api_tokens_user_id_idx', ['userId'])
export class ApiTokenEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'api_tokens_user_id_fkey' })
  user?: UserEntity;

  @Column({ type: 'varchar', length: 100 })
  name: string;

  @Index('api_tokens_token_hash_key', { unique: true })
  @Column({ name: 'token_hash', type: 'char', length: 64 })
  tokenHash: string;

  /** First characters of the token, to recognise it in a list (`fbk_AbC1…`). */
  @Column({ type: 'varchar', length: 16 })
  prefix: string;

  /** Always set: TOKEN_DEFAULT_TTL after creation unless asked for, never past TOKEN_MAX_TTL. */
  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
