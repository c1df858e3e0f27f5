import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryColumn,
  PrimaryGeneratedColumn,
} from 'typeorm';

/** A Slack account (workspace + user) linked to the Firebreak user every command runs as. */
@Entity('slack_links')
@Index('slack_links_account_key', ['teamId', 'slackUserId'], { unique: true })
@Index('slack_links_user_id_key', ['userId'], { unique: true })
export class SlackLinkEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'slack_links_pkey' })
  id: string;

  @Column({ name: 'team_id', type: 'varchar', length: 32 })
  teamId: string;

  @Column({ name: 'slack_user_id', type: 'varchar', length: 32 })
  slackUserId: string;

  /** The Firebreak user (auth's users.id; no foreign key across modules). */
  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  /** How the link was made: a one-time code from the console, or a verified e-mail. */
  @Column({ type: 'varchar', length: 16 })
  via: 'code' | 'email';

  @CreateDateColumn({ name: 'linked_at', type: 'timestamptz' })
  linkedAt: Date;
}

/** A one-time link code (only its SHA-256 is kept): 10 minutes, single use. */
@Entity('slack_link_codes')
@Index('slack_link_codes_user_id_idx', ['userId'])
export class SlackLinkCodeEntity {
  @PrimaryColumn({
    name: 'code_hash',
    type: 'char',
    length: 64,
    primaryKeyConstraintName: 'slack_link_codes_pkey',
  })
  codeHash: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  @Column({ name: 'used_at', type: 'timestamptz', nullable: true })
  usedAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}

/**
 * Signatures of the Slack requests already accepted, so a replay inside the 5-minute window is
 * refused by every process (the key is the signature; rows older than the window are pruned).
 */
@Entity('slack_seen_requests')
@Index('slack_seen_requests_seen_at_idx', ['seenAt'])
export class SlackSeenRequestEntity {
  @PrimaryColumn({
    type: 'varchar',
    length: 80,
    primaryKeyConstraintName: 'slack_seen_requests_pkey',
  })
  signature: string;

  @Column({ name: 'seen_at', type: 'timestamptz', default: () => 'now()' })
  seenAt: Date;
}

/**
 * A message the bot posted: an approval request (updated on the decision), or an incident
 * timeline entry (the row is claimed first, so one process posts it).
 */
@Entity('slack_messages')
@Index('slack_messages_subject_key', ['kind', 'subjectId', 'channel'], { unique: true })
export class SlackMessageEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'slack_messages_pkey' })
  id: string;

  @Column({ type: 'varchar', length: 16 })
  kind: 'approval' | 'timeline';

  /** An approval request's id, or an incident timeline entry's. */
  @Column({ name: 'subject_id', type: 'varchar', length: 64 })
  subjectId: string;

  @Column({ type: 'varchar', length: 32 })
  channel: string;

  /** Slack's message timestamp (its id within the channel), for chat.update. */
  @Column({ type: 'varchar', length: 32 })
  ts: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}

/**
 * A run started from Slack whose end is still to be posted to the command's response_url
 * (valid 30 minutes). Kept in Postgres so a restart does not lose the finish message: every api
 * process follows the open ones at start, and the one whose DELETE takes the row posts it.
 */
@Entity('slack_follows')
export class SlackFollowEntity {
  @PrimaryColumn({
    name: 'execution_id',
    type: 'uuid',
    primaryKeyConstraintName: 'slack_follows_pkey',
  })
  executionId: string;

  @Column({ name: 'response_url', type: 'varchar', length: 2048 })
  responseUrl: string;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;
}
