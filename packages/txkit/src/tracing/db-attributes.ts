import type pg from 'pg';
import type { SpanAttributes } from './span.js';

/**
 * OpenTelemetry's database attributes of a participant or log pool: `db.system.name` (and the older
 * `db.system`), `db.namespace` (the database), `server.address`, `server.port` — read from the pool's
 * options or its connection string, as pg itself would.
 *
 * @internal
 */
export function databaseAttributes(pool: pg.Pool): SpanAttributes {
  let attributes = known.get(pool);
  if (!attributes) {
    attributes = readAttributes(pool);
    known.set(pool, attributes);
  }
  return attributes;
}

/** Attributes by pool: a pool's options do not change, and a transaction asks for them on every branch. */
const known = new WeakMap<pg.Pool, SpanAttributes>();

function readAttributes(pool: pg.Pool): SpanAttributes {
  const options = (pool as unknown as { options?: pg.PoolConfig }).options ?? {};
  let url: URL | undefined;
  try {
    url = options.connectionString ? new URL(options.connectionString) : undefined;
  } catch {
    url = undefined; // a malformed string fails at connect, with pg's own message
  }
  const database = options.database ?? (url?.pathname.slice(1) || undefined);
  const host = options.host ?? (url?.hostname || undefined);
  const port = options.port ?? (url?.port ? Number(url.port) : undefined);
  return {
    'db.system.name': 'postgresql',
    'db.system': 'postgresql',
    'db.namespace': database ? decodeURIComponent(database) : undefined,
    'server.address': host,
    'server.port': port,
  };
}
