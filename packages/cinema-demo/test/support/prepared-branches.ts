import type { TestDatabases } from 'txkit/testing';
import { expect } from 'vitest';
import type { ApiProcess } from './api-process.js';

// An API process caught holding prepared 2PC branches, for the crash tests: whatever it holds when it is killed
// is work that another instance must take over.

/** Prepared branches of `instance` on the payments and tickets servers (b and c; seats carries the decision). */
export async function preparedBy(testDbs: TestDatabases, instance: ApiProcess): Promise<number> {
  // Both servers at once: a branch stays prepared only for the decision's commit, so the look must be quick.
  const counts = await Promise.all(
    (['b', 'c'] as const).map(async (db) => {
      const { rowCount } = await testDbs
        .on(db)
        .pool.query('SELECT 1 FROM pg_prepared_xacts WHERE starts_with(gid, $1)', [
          `tx:${instance.instanceId}:`,
        ]);
      return rowCount ?? 0;
    }),
  );
  return counts[0]! + counts[1]!;
}

/** PREPARE / COMMIT PREPARED statements of `instance` that the payments and tickets servers are still running. */
async function runningFor(testDbs: TestDatabases, instance: ApiProcess): Promise<number> {
  let n = 0;
  for (const db of ['b', 'c'] as const) {
    const { rowCount } = await testDbs
      .on(db)
      .pool.query(
        "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND strpos(query, $1) > 0 AND pid <> pg_backend_pid()",
        [`tx:${instance.instanceId}:`],
      );
    n += rowCount ?? 0;
  }
  return n;
}

/**
 * Freezes `instance` (SIGSTOP) at a moment it holds prepared branches that stay prepared: as soon as one shows up
 * it is stopped, the statements it had already sent are left to finish, and if nothing stays prepared it is
 * resumed and watched again (within `timeoutMs`). Returns how many branches it holds, frozen.
 *
 * @example
 * const held = await freezeWithPreparedBranches(testDbs, doomed);
 * await doomed.kill();
 */
export async function freezeWithPreparedBranches(
  testDbs: TestDatabases,
  instance: ApiProcess,
  timeoutMs = 60_000,
): Promise<number> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    if ((await preparedBy(testDbs, instance)) === 0) continue;
    instance.child.kill('SIGSTOP');
    await expect.poll(() => runningFor(testDbs, instance), { timeout: 5_000 }).toBe(0);
    const held = await preparedBy(testDbs, instance);
    if (held > 0) return held;
    instance.child.kill('SIGCONT');
  }
  throw new Error(`${instance.instanceId} never held a prepared branch under load`);
}
