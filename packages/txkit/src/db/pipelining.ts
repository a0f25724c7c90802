import type pg from 'pg';

/** node-postgres's pipeline switch (declared read-only in its types, but read on every send: 8.23 has it). */
interface PipelineSwitch {
  pipeline?: boolean;
}

/**
 * Puts a borrowed client in node-postgres's pipeline mode until the returned function is called (before the
 * client goes back to its pool, so that the pool's other users get it as they configured it).
 *
 * Without it, node-postgres sends a client's next statement only once the previous one's reply is in: two
 * statements queued together cost two round trips. In pipeline mode both go out at once and the server answers
 * them in order, each with its own Sync: a failing statement does not swallow the next one, which then runs in
 * the same (now aborted) transaction and fails too — exactly what waiting in between would have done.
 *
 * With a node-postgres from before pipeline mode the flag is an unused property: statements are then sent one
 * after another, as before, and only the saving is lost.
 *
 * @example
 * const restore = pipelining(client);
 * const begun = client.query('BEGIN');
 * const row = await client.query('SELECT 1'); // on the wire right behind BEGIN
 * restore();
 */
export function pipelining(client: pg.PoolClient): () => void {
  const target = client as unknown as PipelineSwitch;
  const before = target.pipeline;
  target.pipeline = true;
  return () => {
    target.pipeline = before;
  };
}
