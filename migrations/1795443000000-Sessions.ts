import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sessions and login throttling (#12 item 7). `auth_sessions` has a row per login, checked on
 * every request, so logout and a password, role or group change or disable end sessions at once.
 * `login_throttle` counts login attempts per (username, source) and per source in one upsert.
 * API tokens always expire: tokens that had no expiry get 30 days from now (the default
 * TOKEN_DEFAULT_TTL), revoked ones their revocation time.
 */
export class Sessions1795443000000 implements MigrationInterface {
  name = 'Sessions1795443000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "auth_sessions" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "user_id" uuid NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "ended_at" TIMESTAMP WITH TIME ZONE, "end_reason" character varying(64), "source_ip" character varying(64), CONSTRAINT "auth_sessions_pkey" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "auth_sessions_user_id_idx" ON "auth_sessions"  ("user_id") `,
    );
    await queryRunner.query(
      `CREATE INDEX "auth_sessions_expires_at_idx" ON "auth_sessions"  ("expires_at") `,
    );
    await queryRunner.query(
      `ALTER TABLE "auth_sessions" ADD CONSTRAINT "auth_sessions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `CREATE TABLE "login_throttle" ("scope" character varying(8) NOT NULL, "source" character varying(64) NOT NULL, "username" character varying(128) NOT NULL, "attempts" integer NOT NULL, "window_started_at" TIMESTAMP WITH TIME ZONE NOT NULL, "blocked_until" TIMESTAMP WITH TIME ZONE, "lockouts" integer NOT NULL DEFAULT '0', CONSTRAINT "login_throttle_pkey" PRIMARY KEY ("scope", "source", "username"))`,
    );
    await queryRunner.query(
      `UPDATE "api_tokens" SET "expires_at" = COALESCE("revoked_at", now() + interval '30 days') WHERE "expires_at" IS NULL`,
    );
    await queryRunner.query(`ALTER TABLE "api_tokens" ALTER COLUMN "expires_at" SET NOT NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "api_tokens" ALTER COLUMN "expires_at" DROP NOT NULL`);
    await queryRunner.query(`DROP TABLE "login_throttle"`);
    await queryRunner.query(
      `ALTER TABLE "auth_sessions" DROP CONSTRAINT "auth_sessions_user_id_fkey"`,
    );
    await queryRunner.query(`DROP INDEX "public"."auth_sessions_expires_at_idx"`);
    await queryRunner.query(`DROP INDEX "public"."auth_sessions_user_id_idx"`);
    await queryRunner.query(`DROP TABLE "auth_sessions"`);
  }
}
