import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryColumn,
  UpdateDateColumn,
} from 'typeorm';

export const CREDENTIAL_TYPES = ['ssh-key', 'password'] as const;
export type CredentialType = (typeof CREDENTIAL_TYPES)[number];

/**
 * A login secret for nodes: an SSH private key (with its passphrase, if any) or a password.
 * The secret is stored only as AES-256-GCM ciphertext (see credential-crypto.ts) bound to this
 * row's id; it is write-only through the API and decrypted only to open a connection.
 */
@Entity('credentials')
@Check('credentials_type_check', `type IN ('ssh-key', 'password')`)
export class CredentialEntity {
  /** Chosen by the service before encrypting: the id is part of the ciphertext's associated data. */
  @PrimaryColumn({ type: 'uuid' })
  id: string;

  @Index('credentials_name_key', { unique: true })
  @Column({ type: 'varchar', length: 63 })
  name: string;

  @Column({ type: 'varchar', length: 16 })
  type: CredentialType;

  /** Login user for nodes that name none themselves. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  username: string | null;

  @Column({ type: 'bytea' })
  ciphertext: Buffer;

  /** 12 random bytes, new for every encryption. */
  @Column({ type: 'bytea' })
  iv: Buffer;

  @Column({ name: 'auth_tag', type: 'bytea' })
  authTag: Buffer;

  /** `SHA256:…` of the public half of an SSH key, as `ssh-keygen -lf` prints it; null if unknown. */
  @Column({ name: 'public_fingerprint', type: 'varchar', length: 100, nullable: true })
  publicFingerprint: string | null;

  @Column({ name: 'rotated_at', type: 'timestamptz', nullable: true })
  rotatedAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
