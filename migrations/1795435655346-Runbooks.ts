import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Runbooks1795435655346 implements MigrationInterface {
  name = 'Runbooks1795435655346';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "runbooks" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" character varying(63) NOT NULL, "kind" character varying(16) NOT NULL, "description" text NOT NULL, "tags" text array NOT NULL DEFAULT '{}', "current_version" integer NOT NULL, "disabled" boolean NOT NULL DEFAULT false, "disabled_reason" character varying(500), "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_dc7c67d04939cf8155244322cff" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "runbooks_name_key" ON "runbooks"  ("name") `);
    await queryRunner.query(
      `CREATE TABLE "runbook_versions" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "runbook_id" uuid NOT NULL, "version" integer NOT NULL, "content_hash" character(64) NOT NULL, "source" text NOT NULL, "definition" jsonb NOT NULL, "source_kind" character varying(8) NOT NULL, "source_path" character varying(500), "git_commit" character varying(40), "author_id" uuid, "author_name" character varying(128) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_3eec00486bdbb5ebfa7b69ab9b5" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "runbook_versions_runbook_version_key" ON "runbook_versions"  ("runbook_id", "version") `,
    );
    await queryRunner.query(
      `ALTER TABLE "runbook_versions" ADD CONSTRAINT "runbook_versions_runbook_id_fkey" FOREIGN KEY ("runbook_id") REFERENCES "runbooks"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );

    // Hand-written: versions are immutable history; the database refuses to change them.
    await queryRunner.query(
      `CREATE FUNCTION "runbook_versions_refuse_change"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'runbook_versions are immutable: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
      END
      $$`,
    );
    await queryRunner.query(
      `CREATE TRIGGER "runbook_versions_immutable" BEFORE UPDATE OR DELETE ON "runbook_versions" FOR EACH ROW EXECUTE FUNCTION "runbook_versions_refuse_change"()`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER "runbook_versions_immutable" ON "runbook_versions"`);
    await queryRunner.query(`DROP FUNCTION "runbook_versions_refuse_change"()`);
    await queryRunner.query(
      `ALTER TABLE "runbook_versions" DROP CONSTRAINT "runbook_versions_runbook_id_fkey"`,
    );
    await queryRunner.query(`DROP INDEX "public"."runbook_versions_runbook_version_key"`);
    await queryRunner.query(`DROP TABLE "runbook_versions"`);
    await queryRunner.query(`DROP INDEX "public"."runbooks_name_key"`);
    await queryRunner.query(`DROP TABLE "runbooks"`);
  }
}
