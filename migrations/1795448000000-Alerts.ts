import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Alert intake: integrations (a source type, a hashed secret, defaults and a service identity),
 * the deliveries as received (processed after the 202, off the request path), and one alert per
 * (integration, fingerprint).
 */
export class Alerts1795448000000 implements MigrationInterface {
  name = 'Alerts1795448000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "alert_integrations" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" character varying(48) NOT NULL, "type" character varying(32) NOT NULL, "secret_hash" character varying(64) NOT NULL, "user_id" uuid NOT NULL, "username" character varying(64) NOT NULL, "settings" jsonb NOT NULL, "disabled" boolean NOT NULL DEFAULT false, "created_by" character varying(128) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "alert_integrations_pkey" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "alert_integrations_name_key" ON "alert_integrations" ("name") `,
    );
    await queryRunner.query(
      `CREATE TABLE "alert_deliveries" ("id" BIGSERIAL NOT NULL, "integration_id" uuid NOT NULL, "state" character varying(16) NOT NULL, "group_key" text NOT NULL, "alerts" jsonb NOT NULL, "runs" jsonb NOT NULL DEFAULT '[]', "error" text, "attempts" integer NOT NULL DEFAULT '0', "next_attempt_at" TIMESTAMP WITH TIME ZONE, "received_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "processed_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "alert_deliveries_pkey" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "alert_deliveries_pending_idx" ON "alert_deliveries" ("id") WHERE "processed_at" IS NULL`,
    );
    await queryRunner.query(
      `CREATE TABLE "alerts" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "integration_id" uuid NOT NULL, "fingerprint" character varying(128) NOT NULL, "status" character varying(16) NOT NULL, "labels" jsonb NOT NULL, "annotations" jsonb NOT NULL, "starts_at" TIMESTAMP WITH TIME ZONE, "ends_at" TIMESTAMP WITH TIME ZONE, "generator_url" text, "group_key" text NOT NULL, "incident_id" uuid, "last_delivery_id" bigint NOT NULL, "first_seen_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "last_seen_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "alerts_pkey" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "alerts_integration_fingerprint_key" ON "alerts" ("integration_id", "fingerprint") `,
    );
    await queryRunner.query(
      `CREATE INDEX "alerts_group_idx" ON "alerts" ("integration_id", "group_key") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "alerts"`);
    await queryRunner.query(`DROP TABLE "alert_deliveries"`);
    await queryRunner.query(`DROP TABLE "alert_integrations"`);
  }
}
