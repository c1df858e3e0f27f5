import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Incidents1795439030316 implements MigrationInterface {
  name = 'Incidents1795439030316';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "incident_roles" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "incident_id" uuid NOT NULL, "role" character varying(32) NOT NULL, "user_id" uuid NOT NULL, "username" character varying(64) NOT NULL, "display_name" character varying(128) NOT NULL, "assigned_at" TIMESTAMP WITH TIME ZONE NOT NULL, "assigned_by" character varying(128) NOT NULL, CONSTRAINT "PK_12577af05346d3906715ad180f1" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "incident_roles_single_key" ON "incident_roles"  ("incident_id", "role") WHERE "role" <> 'subject_matter_expert'`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "incident_roles_holder_key" ON "incident_roles"  ("incident_id", "role", "user_id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "incident_timeline" ("id" BIGSERIAL NOT NULL, "incident_id" uuid NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL, "kind" character varying(64) NOT NULL, "actor_id" uuid, "actor_name" character varying(128) NOT NULL, "summary" text NOT NULL, "details" jsonb NOT NULL DEFAULT '{}', "subject_type" character varying(64), "subject_id" character varying(128), "dedupe_key" character varying(200), CONSTRAINT "PK_33df8cb278555db4bf53065ab01" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "incident_timeline_dedupe_key" ON "incident_timeline"  ("dedupe_key") `,
    );
    await queryRunner.query(
      `CREATE INDEX "incident_timeline_incident_idx" ON "incident_timeline"  ("incident_id", "id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "incidents" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "number" SERIAL NOT NULL, "title" character varying(200) NOT NULL, "summary" text, "impact" text, "severity" character varying(8) NOT NULL, "status" character varying(16) NOT NULL, "services" text array NOT NULL DEFAULT '{}', "labels" jsonb NOT NULL DEFAULT '{}', "source" character varying(16) NOT NULL, "declared_by" uuid, "declared_by_name" character varying(128) NOT NULL, "acknowledged_at" TIMESTAMP WITH TIME ZONE, "identified_at" TIMESTAMP WITH TIME ZONE, "mitigated_at" TIMESTAMP WITH TIME ZONE, "resolved_at" TIMESTAMP WITH TIME ZONE, "action_items" jsonb NOT NULL DEFAULT '[]', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_ccb34c01719889017e2246469f9" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "incidents_number_key" ON "incidents"  ("number") `,
    );
    await queryRunner.query(`CREATE INDEX "incidents_created_idx" ON "incidents"  ("created_at") `);
    await queryRunner.query(`CREATE INDEX "incidents_status_idx" ON "incidents"  ("status") `);
    await queryRunner.query(`
      CREATE FUNCTION "incident_timeline_refuse_change"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'incident_timeline is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
      END
      $$`);
    await queryRunner.query(
      `CREATE TRIGGER "incident_timeline_append_only" BEFORE UPDATE OR DELETE ON "incident_timeline" FOR EACH ROW EXECUTE FUNCTION "incident_timeline_refuse_change"()`,
    );
    await queryRunner.query(
      `CREATE TRIGGER "incident_timeline_no_truncate" BEFORE TRUNCATE ON "incident_timeline" FOR EACH STATEMENT EXECUTE FUNCTION "incident_timeline_refuse_change"()`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER "incident_timeline_no_truncate" ON "incident_timeline"`);
    await queryRunner.query(`DROP TRIGGER "incident_timeline_append_only" ON "incident_timeline"`);
    await queryRunner.query(`DROP FUNCTION "incident_timeline_refuse_change"()`);
    await queryRunner.query(`DROP INDEX "public"."incidents_status_idx"`);
    await queryRunner.query(`DROP INDEX "public"."incidents_created_idx"`);
    await queryRunner.query(`DROP INDEX "public"."incidents_number_key"`);
    await queryRunner.query(`DROP TABLE "incidents"`);
    await queryRunner.query(`DROP INDEX "public"."incident_timeline_incident_idx"`);
    await queryRunner.query(`DROP INDEX "public"."incident_timeline_dedupe_key"`);
    await queryRunner.query(`DROP TABLE "incident_timeline"`);
    await queryRunner.query(`DROP INDEX "public"."incident_roles_holder_key"`);
    await queryRunner.query(`DROP INDEX "public"."incident_roles_single_key"`);
    await queryRunner.query(`DROP TABLE "incident_roles"`);
  }
}
