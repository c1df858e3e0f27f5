import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Storm guard: per-window counters shared by every process (alerts received per integration,
 * automatic runs per runbook and node, whichever integration asked), a delivery held back by the ingest limit is marked
 * `limited`, a delivery's receipt is audited by the processor (the request path takes no audit
 * chain lock: `audited`, with the request id and source address kept for it), and alerts and deliveries belong to an existing integration (an integration with
 * alerts is disabled, never deleted: RESTRICT).
 */
export class StormGuard1795451000000 implements MigrationInterface {
  name = 'StormGuard1795451000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "alert_rate_windows" ("scope" character varying(200) NOT NULL, "window_start" TIMESTAMP WITH TIME ZONE NOT NULL, "integration_id" uuid, "count" integer NOT NULL DEFAULT '0', "suppressed" integer NOT NULL DEFAULT '0', "incident_id" uuid, CONSTRAINT "alert_rate_windows_pkey" PRIMARY KEY ("scope", "window_start"))`,
    );
    await queryRunner.query(
      `ALTER TABLE "alert_rate_windows" ADD CONSTRAINT "alert_rate_windows_integration_id_fkey" FOREIGN KEY ("integration_id") REFERENCES "alert_integrations"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "alert_deliveries" ADD "limited" boolean NOT NULL DEFAULT false`,
    );
    // Receipt audited by the processor (off the request path): rows stored before were audited
    // at intake.
    await queryRunner.query(
      `ALTER TABLE "alert_deliveries" ADD "audited" boolean NOT NULL DEFAULT true`,
    );
    await queryRunner.query(
      `ALTER TABLE "alert_deliveries" ALTER COLUMN "audited" SET DEFAULT false`,
    );
    await queryRunner.query(
      `ALTER TABLE "alert_deliveries" ADD "request_id" character varying(64)`,
    );
    await queryRunner.query(`ALTER TABLE "alert_deliveries" ADD "source_ip" character varying(64)`);
    await queryRunner.query(
      `ALTER TABLE "alert_deliveries" ADD "truncated" integer NOT NULL DEFAULT '0'`,
    );
    await queryRunner.query(
      `CREATE INDEX "alert_deliveries_unaudited_idx" ON "alert_deliveries" ("id") WHERE NOT "audited"`,
    );
    await queryRunner.query(
      `ALTER TABLE "alert_deliveries" ADD CONSTRAINT "alert_deliveries_integration_id_fkey" FOREIGN KEY ("integration_id") REFERENCES "alert_integrations"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "alerts" ADD CONSTRAINT "alerts_integration_id_fkey" FOREIGN KEY ("integration_id") REFERENCES "alert_integrations"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "alerts" DROP CONSTRAINT "alerts_integration_id_fkey"`);
    await queryRunner.query(
      `ALTER TABLE "alert_deliveries" DROP CONSTRAINT "alert_deliveries_integration_id_fkey"`,
    );
    await queryRunner.query(`DROP INDEX "public"."alert_deliveries_unaudited_idx"`);
    await queryRunner.query(`ALTER TABLE "alert_deliveries" DROP COLUMN "truncated"`);
    await queryRunner.query(`ALTER TABLE "alert_deliveries" DROP COLUMN "source_ip"`);
    await queryRunner.query(`ALTER TABLE "alert_deliveries" DROP COLUMN "request_id"`);
    await queryRunner.query(`ALTER TABLE "alert_deliveries" DROP COLUMN "audited"`);
    await queryRunner.query(`ALTER TABLE "alert_deliveries" DROP COLUMN "limited"`);
    await queryRunner.query(`DROP TABLE "alert_rate_windows"`);
  }
}
