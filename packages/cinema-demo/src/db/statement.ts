/** A SQL statement with its parameters, as the SQL modules return them. */
export interface Statement {
  text: string;
  values: unknown[];
}

/** Anything that runs a statement: a pool, a client, or a participant of a 2PC transaction. */
export interface Db {
  query<R extends object = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

/** Runs a statement and returns its rows. */
export async function rows<R extends object>(db: Db, statement: Statement): Promise<R[]> {
  return (await db.query<R>(statement.text, statement.values)).rows;
}

/** The schema every demo table lives in, in each of the three databases. */
export const SCHEMA = 'cinema';
