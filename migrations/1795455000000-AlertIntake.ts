import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Alerts (#14): every change to an integration (its settings, secret, `disabled`, or a delete,
 * through the API or in SQL) sends its id on `firebreak_integration` when it commits, so every
 * process drops it from its hook cache (IntegrationsService.forHook). And the pending deliveries
 * of one alert group by id, for the processor's "an older one of its group first" check.
 */
export class AlertIntake1795455000000 implements MigrationInterface {
  name = 'AlertIntake1795455000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE FUNCTION "alert_integrations_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         PERFORM pg_notify('firebreak_integration', to_json(OLD."id"::text)::text);
         RETURN NULL;
       END $$`,
    );
    await queryRunner.query(
      `CREATE TRIGGER "alert_integrations_notify" AFTER UPDATE OR DELETE ON "alert_integrations"
         FOR EACH ROW EXECUTE FUNCTION "alert_integrations_notify"()`,
    );
    await queryRunner.query(
      `CREATE INDEX "alert_deliveries_group_pending_idx" ON "alert_deliveries" ("integration_id", "group_key", "id") WHERE "processed_at" IS NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."alert_deliveries_group_pending_idx"`);
    await queryRunner.query(`DROP TRIGGER "alert_integrations_notify" ON "alert_integrations"`);
    await queryRunner.query(`DROP FUNCTION "alert_integrations_notify"()`);
  }
}
