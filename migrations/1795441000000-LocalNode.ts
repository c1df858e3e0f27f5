import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Nodes say how they are reached: `ssh` (every node so far) or `local` (commands run on the
 * Firebreak host through the local executor, like Rundeck's server node). The built-in
 * `localhost` node has its own source, `builtin`, which the API cannot edit.
 */
export class LocalNode1795441000000 implements MigrationInterface {
  name = 'LocalNode1795441000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "nodes" ADD "connection" character varying(8) NOT NULL DEFAULT 'ssh'`,
    );
    await queryRunner.query(
      `ALTER TABLE "nodes" ADD CONSTRAINT "nodes_connection_check" CHECK (connection IN ('ssh', 'local'))`,
    );
    await queryRunner.query(`ALTER TABLE "nodes" DROP CONSTRAINT "nodes_source_check"`);
    await queryRunner.query(
      `ALTER TABLE "nodes" ADD CONSTRAINT "nodes_source_check" CHECK (source IN ('file', 'api', 'ansible', 'builtin'))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM "nodes" WHERE source = 'builtin'`);
    await queryRunner.query(`ALTER TABLE "nodes" DROP CONSTRAINT "nodes_source_check"`);
    await queryRunner.query(
      `ALTER TABLE "nodes" ADD CONSTRAINT "nodes_source_check" CHECK (source IN ('file', 'api', 'ansible'))`,
    );
    await queryRunner.query(`ALTER TABLE "nodes" DROP CONSTRAINT "nodes_connection_check"`);
    await queryRunner.query(`ALTER TABLE "nodes" DROP COLUMN "connection"`);
  }
}
