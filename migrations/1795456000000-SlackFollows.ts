import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Slack: `slack_follows` keeps the runs started from Slack whose end is still to be posted to the
 * command's response_url, so an api restart does not lose the finish message.
 */
export class SlackFollows1795456000000 implements MigrationInterface {
  name = 'SlackFollows1795456000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "slack_follows" ("execution_id" uuid NOT NULL, "response_url" character varying(2048) NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "slack_follows_pkey" PRIMARY KEY ("execution_id"))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "slack_follows"`);
  }
}
