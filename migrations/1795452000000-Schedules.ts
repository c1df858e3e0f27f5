import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Runbook schedules: each schedule's state (paused, and the fire time up to which it has been
 * handled) and one row per fire time, whose unique (schedule_id, fire_time) is the claim that
 * makes a fire exactly once across processes. Usernames widen to 128 characters for the schedule
 * service identities (`schedule:<runbook>/<name>`).
 */
export class Schedules1795452000000 implements MigrationInterface {
  name = 'Schedules1795452000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "schedule_states" ("id" character varying(128) NOT NULL, "runbook_name" character varying(63) NOT NULL, "name" character varying(48) NOT NULL, "paused" boolean NOT NULL DEFAULT false, "paused_by" character varying(128), "paused_at" TIMESTAMP WITH TIME ZONE, "handled_through" TIMESTAMP WITH TIME ZONE NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "schedule_states_pkey" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "schedule_fires" ("id" BIGSERIAL NOT NULL, "schedule_id" character varying(128) NOT NULL, "fire_time" TIMESTAMP WITH TIME ZONE NOT NULL, "kind" character varying(16) NOT NULL, "status" character varying(16) NOT NULL, "execution_id" uuid, "error" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "schedule_fires_pkey" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "schedule_fires_schedule_fire_time_key" ON "schedule_fires" ("schedule_id", "fire_time") `,
    );
    await queryRunner.query(
      `ALTER TABLE "users" ALTER COLUMN "username" TYPE character varying(128)`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "users" ALTER COLUMN "username" TYPE character varying(64)`,
    );
    await queryRunner.query(`DROP TABLE "schedule_fires"`);
    await queryRunner.query(`DROP TABLE "schedule_states"`);
  }
}
