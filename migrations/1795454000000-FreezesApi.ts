import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What is left of schedules and freezes (#17): a scheduled run's business key on its execution
 * (`schedule_fire`, unique: one execution per fire time), the attempts of a fire (a claim whose
 * process died is started once more), change freezes made through the API (`freezes`, the same
 * definition as a file freeze), and a break-glass run's freeze and reason on its execution (its
 * child runbook steps inherit it).
 */
export class FreezesApi1795454000000 implements MigrationInterface {
  name = 'FreezesApi1795454000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "schedule_fires" ADD "attempts" smallint NOT NULL DEFAULT 1`,
    );
    await queryRunner.query(
      `CREATE INDEX "schedule_fires_claimed_idx" ON "schedule_fires" ("created_at") WHERE "status" = 'claimed'`,
    );
    await queryRunner.query(`ALTER TABLE "executions" ADD "schedule_fire" character varying(200)`);
    await queryRunner.query(`ALTER TABLE "executions" ADD "break_glass" jsonb`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "executions_schedule_fire_key" ON "executions" ("schedule_fire") `,
    );
    await queryRunner.query(
      `CREATE TABLE "freezes" ("name" character varying(63) NOT NULL, "definition" jsonb NOT NULL, "created_by" character varying(128) NOT NULL, "updated_by" character varying(128) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "freezes_pkey" PRIMARY KEY ("name"))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "freezes"`);
    await queryRunner.query(`DROP INDEX "public"."executions_schedule_fire_key"`);
    await queryRunner.query(`ALTER TABLE "executions" DROP COLUMN "break_glass"`);
    await queryRunner.query(`ALTER TABLE "executions" DROP COLUMN "schedule_fire"`);
    await queryRunner.query(`DROP INDEX "public"."schedule_fires_claimed_idx"`);
    await queryRunner.query(`ALTER TABLE "schedule_fires" DROP COLUMN "attempts"`);
  }
}
