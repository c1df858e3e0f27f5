import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Executions1795437749611 implements MigrationInterface {
  name = 'Executions1795437749611';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "execution_logs" ("execution_id" uuid NOT NULL, "seq" integer NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL, "node" character varying(253), "step" character varying(63), "stream" character varying(8) NOT NULL, "line" text NOT NULL, CONSTRAINT "PK_c3de91a7f97db502ac8d191c54d" PRIMARY KEY ("execution_id", "seq"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "execution_logs_node_step_idx" ON "execution_logs"  ("execution_id", "node", "step") `,
    );
    await queryRunner.query(
      `CREATE TABLE "execution_results" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "execution_id" uuid NOT NULL, "step" character varying(63) NOT NULL, "node" character varying(253), "status" character varying(16) NOT NULL, "exit_code" integer, "attempt" integer NOT NULL DEFAULT '1', "error" text, "started_at" TIMESTAMP WITH TIME ZONE NOT NULL, "finished_at" TIMESTAMP WITH TIME ZONE, "duration_ms" integer, CONSTRAINT "PK_5b8f2d571d33eaafcf1c365640d" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "execution_results_execution_idx" ON "execution_results"  ("execution_id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "executions" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "runbook_name" character varying(63) NOT NULL, "runbook_version" integer NOT NULL, "version_id" uuid NOT NULL, "status" character varying(16) NOT NULL, "options" jsonb NOT NULL, "secret_options" bytea, "targets" jsonb NOT NULL, "actor_id" uuid, "actor_name" character varying(128) NOT NULL, "trigger" character varying(16) NOT NULL, "incident_id" character varying(64), "rerun_of" uuid, "cancel_requested" boolean NOT NULL DEFAULT false, "worker" character varying(128), "heartbeat_at" TIMESTAMP WITH TIME ZONE, "error" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "started_at" TIMESTAMP WITH TIME ZONE, "finished_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_703e64e0ef651986191844b7b8b" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "executions_actor_created_idx" ON "executions"  ("actor_name", "created_at") `,
    );
    await queryRunner.query(`CREATE INDEX "executions_status_idx" ON "executions"  ("status") `);
    await queryRunner.query(
      `CREATE INDEX "executions_runbook_created_idx" ON "executions"  ("runbook_name", "created_at") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."executions_runbook_created_idx"`);
    await queryRunner.query(`DROP INDEX "public"."executions_status_idx"`);
    await queryRunner.query(`DROP INDEX "public"."executions_actor_created_idx"`);
    await queryRunner.query(`DROP TABLE "executions"`);
    await queryRunner.query(`DROP INDEX "public"."execution_results_execution_idx"`);
    await queryRunner.query(`DROP TABLE "execution_results"`);
    await queryRunner.query(`DROP INDEX "public"."execution_logs_node_step_idx"`);
    await queryRunner.query(`DROP TABLE "execution_logs"`);
  }
}
