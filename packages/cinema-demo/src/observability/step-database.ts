import { trace } from '@opentelemetry/api';
import type pg from 'pg';

type Attributes = Record<string, string | number>;
const known = new WeakMap<pg.Pool, Attributes>();

/** OpenTelemetry's database attributes of a pool, from its connection string (read once per pool). */
function attributesOf(pool: pg.Pool): Attributes {
  let attributes = known.get(pool);
  if (!attributes) {
    const url = new URL(
      (pool as unknown as { options: pg.PoolConfig }).options.connectionString ?? 'postgres://',
    );
    attributes = { 'db.system.name': 'postgresql', 'db.system': 'postgresql' };
    if (url.pathname.length > 1) attributes['db.namespace'] = decodeURIComponent(url.pathname.slice(1));
    if (url.hostname) attributes['server.address'] = url.hostname;
    if (url.port) attributes['server.port'] = Number(url.port);
    known.set(pool, attributes);
  }
  return attributes;
}

/**
 * Tags the active span — txkit's span of a saga step attempt — with the database the step writes. txkit knows
 * the database of its local and guarded steps; the demo's payment and ticket steps open their own transaction
 * (behind the barrier), so they say it here, and a trace shows every step under its database. Without a
 * registered SDK there is no active span and this does nothing.
 *
 * @example
 * markStepDatabase(dbs.payments);
 */
export function markStepDatabase(pool: pg.Pool): void {
  const span = trace.getActiveSpan();
  if (span?.isRecording()) span.setAttributes(attributesOf(pool));
}
