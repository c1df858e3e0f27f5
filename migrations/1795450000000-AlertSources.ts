import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * More alert sources (#14): an integration's secret also sealed (AES-256-GCM), because HMAC
 * sources (Grafana, PagerDuty, generic, CloudEvents) verify with the secret itself; a delivery's
 * source event id (a redelivery of one event is not a second delivery) and, for a rejected
 * delivery, the body as received.
 */
export class AlertSources1795450000000 implements MigrationInterface {
  name = 'AlertSources1795450000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "alert_integrations" ADD "secret_ciphertext" bytea, ADD "secret_iv" bytea, ADD "secret_auth_tag" bytea`,
    );
    await queryRunner.query(
      `ALTER TABLE "alert_deliveries" ADD "event_id" character varying(200), ADD "payload" bytea`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "alert_deliveries_event_key" ON "alert_deliveries" ("integration_id", "event_id") WHERE "event_id" IS NOT NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "alert_deliveries_event_key"`);
    await queryRunner.query(
      `ALTER TABLE "alert_deliveries" DROP COLUMN "payload", DROP COLUMN "event_id"`,
    );
    await queryRunner.query(
      `ALTER TABLE "alert_integrations" DROP COLUMN "secret_auth_tag", DROP COLUMN "secret_iv", DROP COLUMN "secret_ciphertext"`,
    );
  }
}
