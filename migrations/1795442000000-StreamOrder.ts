import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Timeline streams follow commit order: each incident counts its entries (`timeline_seq`, bumped
 * under the row lock in the appending transaction) and each entry carries its `seq`, the SSE
 * event id and page cursor. Existing entries are numbered in id order.
 */
export class StreamOrder1795442000000 implements MigrationInterface {
  name = 'StreamOrder1795442000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "incidents" ADD "timeline_seq" integer NOT NULL DEFAULT '0'`,
    );
    await queryRunner.query(`ALTER TABLE "incident_timeline" ADD "seq" integer`);
    // The table is append-only; numbering the rows that exist is the one update it ever gets.
    await queryRunner.query(
      `ALTER TABLE "incident_timeline" DISABLE TRIGGER "incident_timeline_append_only"`,
    );
    await queryRunner.query(
      `UPDATE "incident_timeline" t SET "seq" = n.seq
         FROM (SELECT "id", row_number() OVER (PARTITION BY "incident_id" ORDER BY "id") AS seq
                 FROM "incident_timeline") n
        WHERE t."id" = n."id"`,
    );
    await queryRunner.query(
      `ALTER TABLE "incident_timeline" ENABLE TRIGGER "incident_timeline_append_only"`,
    );
    await queryRunner.query(
      `UPDATE "incidents" i SET "timeline_seq" = c.n
         FROM (SELECT "incident_id", max("seq") AS n FROM "incident_timeline" GROUP BY 1) c
        WHERE i."id" = c."incident_id"`,
    );
    await queryRunner.query(`ALTER TABLE "incident_timeline" ALTER COLUMN "seq" SET NOT NULL`);
    await queryRunner.query(`DROP INDEX "public"."incident_timeline_incident_idx"`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "incident_timeline_incident_seq_key" ON "incident_timeline"  ("incident_id", "seq") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."incident_timeline_incident_seq_key"`);
    await queryRunner.query(
      `CREATE INDEX "incident_timeline_incident_idx" ON "incident_timeline"  ("incident_id", "id") `,
    );
    await queryRunner.query(`ALTER TABLE "incident_timeline" DROP COLUMN "seq"`);
    await queryRunner.query(`ALTER TABLE "incidents" DROP COLUMN "timeline_seq"`);
  }
}
