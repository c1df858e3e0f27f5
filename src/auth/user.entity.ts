import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';

@Entity('users')
export class UserEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** Lower-case login name, unique. */
  @Index('users_username_key', { unique: true })
  @Column({ type: 'varchar', length: 128 })
  username: string;

  @Column({ name: 'display_name', type: 'varchar', length: 128 })
  displayName: string;

  @Column({ type: 'varchar', length: 254, nullable: true })
  email: string | null;

  /** argon2id hash; null means the user cannot log in with a password. Never leaves the service. */
  @Column({ name: 'password_hash', type: 'varchar', length: 256, nullable: true })
  passwordHash: string | null;

  /** Built-in roles: viewer, responder, operator, admin. */
  @Column({ type: 'text', array: true, default: () => "'{}'" })
  roles: string[];

  /** Team-defined groups, referenced by runbook access blocks. */
  @Column({ type: 'text', array: true, default: () => "'{}'" })
  groups: string[];

  @Column({ type: 'boolean', default: false })
  disabled: boolean;

  @Column({ name: 'last_login_at', type: 'timestamptz', nullable: true })
  lastLoginAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
