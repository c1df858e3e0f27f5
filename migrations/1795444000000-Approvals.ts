import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Approvals: a request per hold (the run before it starts, or an `approval` step of a batch) with
 * its plan, approvers, required count, timeout and reminders; one decision per approver and
 * request. Executions get room for `awaiting_approval` and the checkpoint a paused run resumes
 * from.
 */
export class Approvals1795444000000 implements MigrationInterface {
  name = 'Approvals1795444000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "executions" ALTER COLUMN "status" TYPE character varying(32)`,
    );
    await queryRunner.query(`ALTER TABLE "executions" ADD "checkpoint" jsonb`);
    await queryRunner.query(
      `CREATE TABLE "approval_requests" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "execution_id" uuid NOT NULL, "key" character varying(160) NOT NULL, "step" character varying(63), "state" character varying(16) NOT NULL, "requested_by_id" uuid, "requested_by_name" character varying(128) NOT NULL, "reason" text NOT NULL, "plan" jsonb, "choices" jsonb, "approvers" jsonb NOT NULL, "required" integer NOT NULL DEFAULT '1', "on_timeout" character varying(8) NOT NULL DEFAULT 'reject', "timeout_at" TIMESTAMP WITH TIME ZONE, "remind_every_ms" integer, "next_reminder_at" TIMESTAMP WITH TIME ZONE, "reminders" integer NOT NULL DEFAULT '0', "choice" character varying(63), "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "decided_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "approval_requests_pkey" PRIMARY KEY ("id"), CONSTRAINT "approval_requests_execution_id_fkey" FOREIGN KEY ("execution_id") REFERENCES "executions"("id") ON DELETE CASCADE)`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "approval_requests_execution_key" ON "approval_requests" ("execution_id", "key") `,
    );
    await queryRunner.query(
      `CREATE INDEX "approval_requests_state_idx" ON "approval_requests" ("state") `,
    );
    await queryRunner.query(
      `CREATE TABLE "approval_decisions" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "request_id" uuid NOT NULL, "actor_id" uuid NOT NULL, "actor_name" character varying(128) NOT NULL, "decision" character varying(8) NOT NULL, "comment" text, "choice" character varying(63), "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "approval_decisions_pkey" PRIMARY KEY ("id"), CONSTRAINT "approval_decisions_request_id_fkey" FOREIGN KEY ("request_id") REFERENCES "approval_requests"("id") ON DELETE CASCADE)`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "approval_decisions_request_actor" ON "approval_decisions" ("request_id", "actor_id") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "approval_decisions"`);
    await queryRunner.query(`DROP TABLE "approval_requests"`);
    await queryRunner.query(`ALTER TABLE "executions" DROP COLUMN "checkpoint"`);
    await queryRunner.query(
      `ALTER TABLE "executions" ALTER COLUMN "status" TYPE character varying(16)`,
    );
  }
}
