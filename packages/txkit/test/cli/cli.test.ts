import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/cli.js';
import { createTestDatabases, type TestDatabases, testCluster } from '../../src/testing/index.js';

// The CLI against real servers: prepared transactions are produced directly in SQL (the states a crashed
// coordinator leaves), then the CLI is run in-process through `main(argv)`, and once as the built bin.

describe('txkit CLI', () => {
  const cluster = testCluster();
  let dbs: TestDatabases;
  let env: NodeJS.ProcessEnv;

  async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t), env });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  /** Prepares one branch per database as coordinator `coordinator` would, and returns the transaction's gids. */
  async function prepareTransaction(
    coordinator = 'api-1',
  ): Promise<{ id: string; seats: string; payments: string }> {
    const id = randomBytes(16).toString('base64url');
    const gids = { id, seats: `tx:${coordinator}:${id}:seats`, payments: `tx:${coordinator}:${id}:payments` };
    for (const [name, db] of [
      ['seats', dbs.on('a')],
      ['payments', dbs.on('b')],
    ] as const) {
      const client = await db.pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('INSERT INTO things (tx) VALUES ($1)', [id]);
        await client.query(`PREPARE TRANSACTION '${gids[name]}'`);
      } finally {
        client.release();
      }
    }
    return gids;
  }

  const decisionOf = async (id: string) =>
    (
      await dbs
        .on('a')
        .pool.query<{ outcome: string }>(
          'SELECT outcome FROM txkit.two_phase_decisions WHERE transaction_id = $1',
          [id],
        )
    ).rows[0]?.outcome;
  const recordDecision = (id: string, outcome: 'commit' | 'abort') =>
    dbs.on('a').pool.query(
      `INSERT INTO txkit.two_phase_decisions (transaction_id, coordinator_id, outcome, participants)
         VALUES ($1, 'api-1', $2, ARRAY['seats','payments'])`,
      [id, outcome],
    );
  const rowsOf = async (id: string) => {
    const counts = await Promise.all(
      (['a', 'b'] as const).map(async (n) => {
        const { rows } = await dbs.on(n).pool.query('SELECT 1 FROM things WHERE tx = $1', [id]);
        return rows.length;
      }),
    );
    return counts;
  };
  // Prepared transactions are per server, and a and b are two servers: ask each about its own database.
  const preparedBranches = async () => {
    const branches = await Promise.all(
      (['a', 'b'] as const).map(async (n) => {
        const { rows } = await dbs.on(n).pool.query<{ gid: string; ageMs: number }>(
          `SELECT gid, (extract(epoch FROM now() - prepared) * 1000)::float8 AS "ageMs"
             FROM pg_prepared_xacts WHERE database = current_database()`,
        );
        return rows;
      }),
    );
    return branches.flat();
  };
  const preparedGids = async () => (await preparedBranches()).map((b) => b.gid).sort();
  /** Waits until both branches of a transaction are older than `ms` by their servers' clocks (the age the CLI reads). */
  const untilOlderThan = (t: { seats: string; payments: string }, ms: number) =>
    expect
      .poll(
        async () => {
          const ages = (await preparedBranches())
            .filter((b) => b.gid === t.seats || b.gid === t.payments)
            .map((b) => b.ageMs);
          return ages.length === 2 ? Math.min(...ages) : -1;
        },
        { timeout: 10_000 },
      )
      .toBeGreaterThan(ms);

  beforeAll(async () => {
    dbs = await createTestDatabases(cluster, 'cli');
    for (const n of ['a', 'b'] as const) await dbs.on(n).pool.query('CREATE TABLE things (tx text NOT NULL)');
    env = {
      TXKIT_PARTICIPANTS: `seats=${dbs.on('a').connectionString},payments=${dbs.on('b').connectionString}`,
      TXKIT_LOG: 'seats',
    };
  });
  afterAll(() => dbs.drop());

  describe('usage errors exit 2 with a message', () => {
    it('no command, unknown command, unknown flag', async () => {
      expect(await cli()).toMatchObject({ code: 2, err: expect.stringContaining('no command given') });
      expect(await cli('frobnicate')).toMatchObject({
        code: 2,
        err: expect.stringContaining('unknown command'),
      });
      expect(await cli('status', '--bogus')).toMatchObject({
        code: 2,
        err: expect.stringContaining("'--bogus'"),
      });
    });

    it('missing or malformed connection settings', async () => {
      const saved = env;
      env = {};
      try {
        expect(await cli('status')).toMatchObject({
          code: 2,
          err: expect.stringContaining('no participants'),
        });
        expect(await cli('status', '--participant', 'seats')).toMatchObject({
          code: 2,
          err: expect.stringContaining('expected <name>=<postgres-url>'),
        });
        expect(await cli('status', '--participant', 'seats=postgres://x/y', '--log', 'nope')).toMatchObject({
          code: 2,
          err: expect.stringContaining('neither a participant name'),
        });
      } finally {
        env = saved;
      }
    });

    it('resolve needs one gid and exactly one of --commit / --abort', async () => {
      expect((await cli('resolve', '--commit')).code).toBe(2);
      expect((await cli('resolve', 'tx:a:b:c', '--commit', '--abort')).code).toBe(2);
      expect(await cli('resolve', 'not-a-gid', '--abort')).toMatchObject({
        code: 2,
        err: expect.stringContaining('not a txkit gid'),
      });
    });

    it('prints help with exit 0', async () => {
      expect(await cli('--help')).toMatchObject({ code: 0, out: expect.stringContaining('Exit codes') });
    });
  });

  it('a server that cannot be reached fails with exit 1', async () => {
    const r = await cli('migrate', '--participant', 'x=postgres://nobody@127.0.0.1:1/none', '--log', 'x');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^txkit migrate: .*ECONNREFUSED/);
  });

  it('migrate creates the logs (idempotent) and the other components on request', async () => {
    const first = await cli('migrate', '--json');
    expect(first.code).toBe(0);
    expect(JSON.parse(first.out).migrations).toEqual([
      { component: 'two-phase', database: 'log' },
      { component: 'saga', database: 'saga log', applied: [1, 2] },
    ]);
    expect(JSON.parse((await cli('migrate', '--json')).out).migrations[1].applied).toEqual([]);
    const more = await cli('migrate', '--components', 'outbox,barrier', '--json');
    expect(more.code).toBe(0);
    expect(
      JSON.parse(more.out).migrations.map(
        (m: { component: string; database: string }) => `${m.component}@${m.database}`,
      ),
    ).toEqual(['outbox@seats', 'barrier@seats', 'outbox@payments', 'barrier@payments']);
    expect((await cli('migrate', '--components', 'nope')).code).toBe(2);
  });

  describe('with the logs migrated', () => {
    beforeAll(async () => {
      expect((await cli('migrate')).code).toBe(0);
    });
    beforeEach(async () => {
      for (const n of ['a', 'b'] as const) {
        const { rows } = await dbs
          .on(n)
          .pool.query<{ gid: string }>(
            'SELECT gid FROM pg_prepared_xacts WHERE database = current_database()',
          );
        for (const { gid } of rows) await dbs.on(n).pool.query(`ROLLBACK PREPARED '${gid}'`);
      }
      await dbs.on('a').pool.query('TRUNCATE txkit.saga, txkit.saga_step');
    });

    it('status: a schema without txkit tables says so instead of failing', async () => {
      const r = await cli('status', '--schema', 'not_migrated', '--json');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out)).toMatchObject({ decisionLog: 'missing', sagas: null, prepared: [] });
      expect((await cli('status', '--schema', 'not_migrated')).out).toContain(
        'no saga log in schema not_migrated',
      );
    });

    it('status: nothing to report exits 0', async () => {
      const r = await cli('status');
      expect(r.code).toBe(0);
      expect(r.out).toContain('Nothing needs attention');
    });

    it('status: a young undecided branch is in flight, an old one in doubt (exit 3), a decided one pending', async () => {
      const young = await prepareTransaction();
      let r = await cli('status', '--json', '--prepare-timeout-ms', '600000');
      expect(r.code).toBe(0);
      const report = JSON.parse(r.out);
      expect(report.prepared).toHaveLength(2);
      expect(report.prepared.map((p: { state: string }) => p.state)).toEqual(['in-flight', 'in-flight']);
      expect(report.prepared[0]).toMatchObject({
        transactionId: young.id,
        coordinatorId: 'api-1',
        decision: null,
      });
      expect(report.prepared[0].ageMs).toBeGreaterThanOrEqual(0);

      await untilOlderThan(young, 10);
      r = await cli('status', '--prepare-timeout-ms', '10');
      expect(r.code).toBe(3);
      expect(r.out).toMatch(/seats\s+in-doubt !/);
      expect(r.out).toContain(young.seats);

      await recordDecision(young.id, 'commit');
      r = await cli('status', '--json', '--prepare-timeout-ms', '600000');
      expect(JSON.parse(r.out).prepared.map((p: { state: string }) => p.state)).toEqual([
        'commit-pending',
        'commit-pending',
      ]);
      // Another coordinator's view: --coordinator-id filters by gid prefix.
      r = await cli('status', '--json', '--coordinator-id', 'api-2');
      expect(JSON.parse(r.out).prepared).toEqual([]);
    });

    it('status: the coordinators the log knows, alive or dead, with their prepared branches', async () => {
      await prepareTransaction('api-1');
      const seats = dbs.on('a').pool;
      await seats.query(
        `INSERT INTO txkit.two_phase_coordinators (coordinator_id, lease_until, prepare_timeout_ms, process)
         VALUES ('api-1', now() - interval '1 minute', 10000, 'host-a:101'),
                ('api-2', now() + interval '1 minute', 10000, 'host-b:202')`,
      );
      try {
        const report = JSON.parse((await cli('status', '--json', '--prepare-timeout-ms', '600000')).out);
        expect(report.coordinators).toEqual([
          {
            coordinatorId: 'api-2',
            process: 'host-b:202',
            alive: true,
            leaseMs: expect.any(Number),
            prepared: 0,
          },
          {
            coordinatorId: 'api-1',
            process: 'host-a:101',
            alive: false,
            leaseMs: expect.any(Number),
            prepared: 2,
          },
        ]);
        expect(report.coordinators[1].leaseMs).toBeLessThan(-50_000);
        const text = (await cli('status', '--prepare-timeout-ms', '600000')).out;
        expect(text).toMatch(/api-1\s+expired 1m \d\ds ago\s+2\s+host-a:101/);
        expect(text).not.toContain('no live coordinator');
        await seats.query(
          "UPDATE txkit.two_phase_coordinators SET lease_until = now() WHERE coordinator_id = 'api-2'",
        );
        expect((await cli('status', '--prepare-timeout-ms', '600000')).out).toContain(
          '! no live coordinator',
        );
      } finally {
        await seats.query(
          "DELETE FROM txkit.two_phase_coordinators WHERE coordinator_id IN ('api-1', 'api-2')",
        );
      }
    });

    it('status: failed sagas and running sagas with an expired lease need attention', async () => {
      await dbs.on('a').pool.query(
        `INSERT INTO txkit.saga (id, name, input, status, owner, lease_token, lease_until, failed_step, reason,
                                 failed_compensation, created_at)
         VALUES (gen_random_uuid(), 'book', '{}', 'failed', 'api-1', gen_random_uuid(), now(), 'pay', 'declined',
                 'reserve', now() - interval '2 hours')`,
      );
      let r = await cli('status');
      expect(r.code).toBe(3);
      expect(r.out).toMatch(/failed !\s+2h 0\dm/);
      expect(r.out).toContain('compensation reserve gave up (step pay: declined)');

      await dbs.on('a').pool.query('TRUNCATE txkit.saga, txkit.saga_step');
      await dbs.on('a').pool.query(
        `INSERT INTO txkit.saga (id, name, input, status, owner, lease_token, lease_until)
         VALUES (gen_random_uuid(), 'book', '{}', 'running', 'api-1', gen_random_uuid(), now() + interval '1 hour')`,
      );
      r = await cli('status', '--json');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out).sagas).toMatchObject([
        { status: 'running', lease_expired: false, attention: false },
      ]);
      await dbs.on('a').pool.query(`UPDATE txkit.saga SET lease_until = now() - interval '1 second'`);
      r = await cli('status', '--json');
      expect(r.code).toBe(3);
      expect(JSON.parse(r.out).sagas).toMatchObject([
        { status: 'running', lease_expired: true, attention: true },
      ]);
    });

    it('recover: commits a decided transaction and aborts an undecided one past the timeout', async () => {
      const decided = await prepareTransaction();
      await recordDecision(decided.id, 'commit');
      const undecided = await prepareTransaction('api-2');
      await untilOlderThan(undecided, 10);
      const r = await cli('recover', '--json', '--prepare-timeout-ms', '10');
      expect(r.code).toBe(0);
      const report = JSON.parse(r.out);
      expect(report.committed.sort()).toEqual([decided.payments, decided.seats].sort());
      expect(report.aborted.sort()).toEqual([undecided.payments, undecided.seats].sort());
      expect(await preparedGids()).toEqual([]);
      expect(await rowsOf(decided.id)).toEqual([1, 1]);
      expect(await rowsOf(undecided.id)).toEqual([0, 0]);
      expect(await decisionOf(undecided.id)).toBe('abort');
    });

    it('recover: leaves a young undecided transaction alone', async () => {
      const young = await prepareTransaction();
      const r = await cli('recover', '--prepare-timeout-ms', '600000');
      expect(r.code).toBe(0);
      expect(r.out).toContain(`waiting   ${young.seats}`);
      expect(await preparedGids()).toHaveLength(2);
    });

    it('resolve --abort of an undecided transaction records abort first, then rolls back every branch', async () => {
      const t = await prepareTransaction();
      const r = await cli('resolve', t.seats, '--abort', '--json');
      expect(r.code).toBe(0);
      const report = JSON.parse(r.out);
      expect(report).toMatchObject({ outcome: 'abort', decision: 'recorded', previous: null });
      expect(report.branches.map((b: { result: string }) => b.result)).toEqual(['finished', 'finished']);
      expect(await decisionOf(t.id)).toBe('abort');
      expect(await preparedGids()).toEqual([]);
      expect(await rowsOf(t.id)).toEqual([0, 0]);
    });

    it('resolve refuses to contradict a recorded decision without --force, and overrides it with --force', async () => {
      const t = await prepareTransaction();
      await recordDecision(t.id, 'commit');
      let r = await cli('resolve', t.payments, '--abort');
      expect(r.code).toBe(1);
      expect(r.err).toContain('recorded as commit; refusing to abort');
      expect(await decisionOf(t.id)).toBe('commit');
      expect(await preparedGids()).toHaveLength(2);

      r = await cli('resolve', t.payments, '--abort', '--force');
      expect(r.code).toBe(0);
      expect(r.out).toContain('overrode commit with abort');
      expect(await decisionOf(t.id)).toBe('abort');
      expect(await rowsOf(t.id)).toEqual([0, 0]);
      expect(await preparedGids()).toEqual([]);
    });

    it('resolve --commit follows a recorded commit, and needs --force when nothing is recorded', async () => {
      const decided = await prepareTransaction();
      await recordDecision(decided.id, 'commit');
      let r = await cli('resolve', decided.seats, '--commit');
      expect(r.code).toBe(0);
      expect(r.out).toContain('the log already said commit');
      expect(await rowsOf(decided.id)).toEqual([1, 1]);

      const undecided = await prepareTransaction();
      await untilOlderThan(undecided, 10);
      r = await cli('resolve', undecided.seats, '--commit', '--json', '--prepare-timeout-ms', '10');
      expect(r.code).toBe(1);
      expect(JSON.parse(r.out).refused).toContain('presumed abort');
      expect(await decisionOf(undecided.id)).toBeUndefined();
      expect(await preparedGids()).toHaveLength(2);

      // Within the prepare timeout its coordinator may still decide: refused even with --force.
      r = await cli('resolve', undecided.seats, '--commit', '--force', '--prepare-timeout-ms', '600000');
      expect(r).toMatchObject({ code: 1, err: expect.stringContaining('within the prepare timeout') });
      expect(await decisionOf(undecided.id)).toBeUndefined();

      r = await cli('resolve', undecided.seats, '--commit', '--force', '--prepare-timeout-ms', '10');
      expect(r.code).toBe(0);
      expect(await decisionOf(undecided.id)).toBe('commit');
      expect(await rowsOf(undecided.id)).toEqual([1, 1]);
      expect(await preparedGids()).toEqual([]);
    });

    it('resolve of a gid that is not prepared anywhere is refused and records nothing', async () => {
      const id = randomBytes(16).toString('base64url');
      const r = await cli('resolve', `tx:api-1:${id}:seats`, '--abort');
      expect(r).toMatchObject({
        code: 1,
        err: expect.stringContaining('not prepared on any configured participant'),
      });
      expect(await decisionOf(id)).toBeUndefined();
    });

    it('the built bin: exit code and JSON through a real process', async () => {
      const bin = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
      expect(existsSync(bin), 'build the package first (npm run build)').toBe(true);
      const t = await prepareTransaction();
      const run = promisify(execFile);
      const { stdout } = await run(
        process.execPath,
        [bin, 'status', '--json', '--prepare-timeout-ms', '600000'],
        {
          env: { ...process.env, ...env },
        },
      );
      expect(
        JSON.parse(stdout)
          .prepared.map((p: { gid: string }) => p.gid)
          .sort(),
      ).toEqual([t.payments, t.seats].sort());
      const failed = await run(process.execPath, [bin, 'resolve', 'garbage', '--abort'], {
        env: { ...process.env, ...env },
      }).catch((error: { code: number; stderr: string }) => error);
      expect(failed).toMatchObject({ code: 2, stderr: expect.stringContaining('not a txkit gid') });
    });
  });
});
