import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Slack (#16). `slack_links` maps a Slack account (workspace + user) to the Firebreak user its
 * commands run as; `slack_link_codes` holds the SHA-256 of one-time link codes (10 minutes, one
 * use); `slack_seen_requests` the signatures of accepted Slack requests (replays inside the
 * 5-minute window are refused by every process); `slack_messages` the bot's messages that change
 * later (approval requests, updated on the decision).
 */
export class Slack1795453000000 implements MigrationInterface {
  name = 'Slack1795453000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "slack_links" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "team_id" character varying(32) NOT NULL, "slack_user_id" character varying(32) NOT NULL, "user_id" uuid NOT NULL, "via" character varying(16) NOT NULL, "linked_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "slack_links_pkey" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "slack_links_account_key" ON "slack_links" ("team_id", "slack_user_id") `,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "slack_links_user_id_key" ON "slack_links" ("user_id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "slack_link_codes" ("code_hash" character(64) NOT NULL, "user_id" uuid NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "used_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "slack_link_codes_pkey" PRIMARY KEY ("code_hash"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "slack_link_codes_user_id_idx" ON "slack_link_codes" ("user_id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "slack_seen_requests" ("signature" character varying(80) NOT NULL, "seen_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "slack_seen_requests_pkey" PRIMARY KEY ("signature"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "slack_seen_requests_seen_at_idx" ON "slack_seen_requests" ("seen_at") `,
    );
    await queryRunner.query(
      `CREATE TABLE "slack_messages" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "kind" character varying(16) NOT NULL, "subject_id" character varying(64) NOT NULL, "channel" character varying(32) NOT NULL, "ts" character varying(32) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "slack_messages_pkey" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "slack_messages_subject_key" ON "slack_messages" ("kind", "subject_id", "channel") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."slack_messages_subject_key"`);
    await queryRunner.query(`DROP TABLE "slack_messages"`);
    await queryRunner.query(`DROP INDEX "public"."slack_seen_requests_seen_at_idx"`);
    await queryRunner.query(`DROP TABLE "slack_seen_requests"`);
    await queryRunner.query(`DROP INDEX "public"."slack_link_codes_user_id_idx"`);
    await queryRunner.query(`DROP TABLE "slack_link_codes"`);
    await queryRunner.query(`DROP INDEX "public"."slack_links_user_id_key"`);
    await queryRunner.query(`DROP INDEX "public"."slack_links_account_key"`);
    await queryRunner.query(`DROP TABLE "slack_links"`);
  }
}
