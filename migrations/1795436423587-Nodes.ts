import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Nodes1795436423587 implements MigrationInterface {
  name = 'Nodes1795436423587';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "clusters" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" character varying(63) NOT NULL, "description" character varying(500) NOT NULL DEFAULT '', "filter" jsonb, "node_names" text array, "source" character varying(8) NOT NULL, "source_path" character varying(500), "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "clusters_membership_check" CHECK ((filter IS NULL) <> (node_names IS NULL)), CONSTRAINT "clusters_source_check" CHECK (source IN ('file', 'api', 'ansible')), CONSTRAINT "PK_56c8e201f375e1e961dcdd6831c" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "clusters_name_key" ON "clusters"  ("name") `);
    await queryRunner.query(
      `CREATE TABLE "credentials" ("id" uuid NOT NULL, "name" character varying(63) NOT NULL, "type" character varying(16) NOT NULL, "username" character varying(64), "ciphertext" bytea NOT NULL, "iv" bytea NOT NULL, "auth_tag" bytea NOT NULL, "public_fingerprint" character varying(100), "rotated_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "credentials_type_check" CHECK (type IN ('ssh-key', 'password')), CONSTRAINT "PK_1e38bc43be6697cdda548ad27a6" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "credentials_name_key" ON "credentials"  ("name") `,
    );
    await queryRunner.query(
      `CREATE TABLE "nodes" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" character varying(253) NOT NULL, "hostname" character varying(253) NOT NULL, "port" integer NOT NULL DEFAULT '22', "username" character varying(64), "tags" text array NOT NULL DEFAULT '{}', "attributes" jsonb NOT NULL DEFAULT '{}', "credential_id" uuid, "host_key_fingerprint" character varying(100), "trust_on_first_use" boolean NOT NULL DEFAULT false, "source" character varying(8) NOT NULL, "source_path" character varying(500), "disabled" boolean NOT NULL DEFAULT false, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "nodes_port_check" CHECK (port BETWEEN 1 AND 65535), CONSTRAINT "nodes_source_check" CHECK (source IN ('file', 'api', 'ansible')), CONSTRAINT "PK_682d6427523a0fa43d062ea03ee" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "nodes_name_key" ON "nodes"  ("name") `);
    await queryRunner.query(
      `CREATE INDEX "nodes_credential_id_idx" ON "nodes"  ("credential_id") `,
    );
    await queryRunner.query(
      `ALTER TABLE "nodes" ADD CONSTRAINT "nodes_credential_id_fkey" FOREIGN KEY ("credential_id") REFERENCES "credentials"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "nodes" DROP CONSTRAINT "nodes_credential_id_fkey"`);
    await queryRunner.query(`DROP INDEX "public"."nodes_credential_id_idx"`);
    await queryRunner.query(`DROP INDEX "public"."nodes_name_key"`);
    await queryRunner.query(`DROP TABLE "nodes"`);
    await queryRunner.query(`DROP INDEX "public"."credentials_name_key"`);
    await queryRunner.query(`DROP TABLE "credentials"`);
    await queryRunner.query(`DROP INDEX "public"."clusters_name_key"`);
    await queryRunner.query(`DROP TABLE "clusters"`);
  }
}
