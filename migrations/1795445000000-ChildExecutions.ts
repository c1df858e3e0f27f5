import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `runbook` steps run another runbook as an execution of its own: the child names its parent
 * execution and the parent's step.
 * No foreign key: retention may prune a parent before its children.
 */
export class ChildExecutions1795445000000 implements MigrationInterface {
  name = 'ChildExecutions1795445000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "executions" ADD "parent_execution_id" uuid`);
    await queryRunner.query(`ALTER TABLE "executions" ADD "parent_step" character varying(63)`);
    await queryRunner.query(
      `CREATE INDEX "executions_parent_idx" ON "executions" ("parent_execution_id") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."executions_parent_idx"`);
    await queryRunner.query(`ALTER TABLE "executions" DROP COLUMN "parent_step"`);
    await queryRunner.query(`ALTER TABLE "executions" DROP COLUMN "parent_execution_id"`);
  }
}
