import type { DataSource } from 'typeorm';

/** What queryPrepared needs of node-postgres's Pool (TypeORM's `PostgresDriver.master`). */
interface PgPool {
  query<R>(q: { name: string; text: string; values: unknown[] }): Promise<{ rows: R[] }>;
}

/**
 * One statement as a named prepared statement on the data source's pool (node-postgres keeps it
 * per connection: parsed and planned once on each, then only bound and executed), outside any
 * transaction. For the few hot statements of a request path: Postgres parses, analyses and
 * plans a long statement on every plain query. `name` must be unique to `text`.
 */
export async function queryPrepared<R>(
  dataSource: DataSource,
  name: string,
  text: string,
  values: unknown[],
): Promise<R[]> {
  const pool = (dataSource.driver as unknown as { master?: PgPool }).master;
  if (!pool) return dataSource.query<R[]>(text, values);
  return (await pool.query<R>({ name, text, values })).rows;
}
