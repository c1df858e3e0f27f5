import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Concurrency policy: an execution keeps the runbook's `concurrency` (policy queue or reject,
 * scope runbook or node; null is allow) and, while it waits, the executions it waits for.
 * Retention: finished executions are pruned oldest `finished_at` first, so that column is indexed.
 */
export class ConcurrencyRetention1795446000000 implements MigrationInterface {
  name = 'ConcurrencyRetention1795446000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "executions" ADD "concurrency_policy" character varying(8)`,
    );
    await queryRunner.query(
      `ALTER TABLE "executions" ADD "concurrency_scope" character varying(8)`,
    );
    await queryRunner.query(`ALTER TABLE "executions" ADD "waiting_for" uuid array`);
    await queryRunner.query(
      `ALTER TABLE "executions" ADD CONSTRAINT "executions_concurrency_check" CHECK ((concurrency_policy IS NULL AND concurrency_scope IS NULL) OR (concurrency_policy IN ('queue', 'reject') AND concurrency_scope IN ('runbook', 'node')))`,
    );
    await queryRunner.query(
      `CREATE INDEX "executions_finished_idx" ON "executions"  ("finished_at") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."executions_finished_idx"`);
    await queryRunner.query(
      `ALTER TABLE "executions" DROP CONSTRAINT "executions_concurrency_check"`,
    );
    await queryRunner.query(`ALTER TABLE "executions" DROP COLUMN "waiting_for"`);
    await queryRunner.query(`ALTER TABLE "executions" DROP COLUMN "concurrency_scope"`);
    await queryRunner.query(`ALTER TABLE "executions" DROP COLUMN "concurrency_policy"`);
  }
}
