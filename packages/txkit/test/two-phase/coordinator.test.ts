import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError, PrepareFailedError, TransactionTimeoutError } from '../../src/errors.js';
import {
  createTestDatabases,
  startPostgresCluster,
  type TestDatabases,
  testCluster,
} from '../../src/testing/index.js';
import { TwoPhaseCoordinator } from '../../src/two-phase/coordinator.js';
import type { CommittedEvent } from '../../src/two-phase/events.js';
import {
  coordinatorOptions,
  copiesOf,
  createBookingTables,
  expectSettled,
  type LogMode,
  participantPools,
  preparedLeft,
  startCoordinator,
  writeBooking,
} from './support.js';

describe('TwoPhaseCoordinator', () => {
  const cluster = testCluster();
  let dbs: TestDatabases;

  beforeAll(async () => {
    dbs = await createTestDatabases(cluster, '2pc coordinator');
    await createBookingTables(dbs);
  });
  afterAll(() => dbs.drop());

  describe.each<LogMode>(['in-participant', 'separate'])('decision log %s', (mode) => {
    let coordinator: TwoPhaseCoordinator;
    const committed: CommittedEvent[] = [];

    beforeAll(async () => {
      coordinator = await startCoordinator(coordinatorOptions(dbs, mode, { id: `basic-${mode}` }));
      coordinator.on('committed', (e) => committed.push(e));
    });

    it('commits across three databases and records the decision', async () => {
      const key = `three-${mode}`;
      let seenPrepared: { participants: string[]; gids: string[] } = { participants: [], gids: [] };
      coordinator.once('prepared', (e) => {
        seenPrepared = e;
      });
      await expect(coordinator.transaction(writeBooking(key))).resolves.toBe(key);
      await expectSettled(dbs, key, 3);
      const event = committed.at(-1)!;
      expect(event).toMatchObject({ onePhase: false, pending: [] });
      expect(event.participants.sort()).toEqual(['payments', 'seats', 'tickets']);
      const { rows } = await dbs
        .on('a')
        .pool.query('SELECT outcome, participants FROM txkit.two_phase_decisions WHERE transaction_id = $1', [
          event.transactionId,
        ]);
      expect(rows).toEqual([{ outcome: 'commit', participants: expect.arrayContaining(['seats']) }]);
      // The decision rides in the seats branch (not prepared) in-participant mode; all three prepare otherwise.
      const prepared = mode === 'in-participant' ? ['payments', 'tickets'] : ['payments', 'seats', 'tickets'];
      expect([...seenPrepared.participants].sort()).toEqual(prepared);
      expect(seenPrepared.gids.map((gid) => gid.split(':').at(-1)).sort()).toEqual(prepared);
      expect(coordinator.inFlightCount).toBe(0);
    });

    it('commits one participant one-phase, with no decision record', async () => {
      const key = `one-${mode}`;
      await coordinator.transaction(writeBooking(key, ['payments']));
      expect(await copiesOf(dbs, key)).toBe(1);
      const event = committed.at(-1)!;
      expect(event.onePhase).toBe(true);
      const { rowCount } = await dbs
        .on('a')
        .pool.query('SELECT 1 FROM txkit.two_phase_decisions WHERE transaction_id = $1', [
          event.transactionId,
        ]);
      expect(rowCount).toBe(0);
    });

    it('does nothing when no participant is touched', async () => {
      const before = committed.length;
      await expect(coordinator.transaction(async () => 42)).resolves.toBe(42);
      expect(committed.length).toBe(before);
    });

    it('rolls back everywhere when the callback throws, and rethrows its error', async () => {
      const key = `throws-${mode}`;
      const boom = new Error('boom');
      const aborted: unknown[] = [];
      coordinator.once('aborted', (e) => aborted.push(e.error));
      await expect(
        coordinator.transaction(async (tx) => {
          await writeBooking(key)(tx);
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect(aborted).toEqual([boom]);
      await expectSettled(dbs, key, 0);
    });

    it('rolls back everywhere when one participant fails to prepare (deferred constraint)', async () => {
      const key = `prepare-fails-${mode}`;
      await dbs
        .on('c')
        .pool.query(
          `CREATE TABLE IF NOT EXISTS deferred_check (id int, CONSTRAINT one UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)`,
        );
      await dbs
        .on('c')
        .pool.query('INSERT INTO deferred_check SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM deferred_check)');
      const error = await coordinator
        .transaction(async (tx) => {
          await writeBooking(key)(tx);
          // Accepted now, refused at PREPARE, which checks deferred constraints.
          await tx.query('tickets', 'INSERT INTO deferred_check VALUES (1)');
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PrepareFailedError);
      expect((error as PrepareFailedError).context.participant).toBe('tickets');
      expect((error as PrepareFailedError).cause).toMatchObject({ code: '23505' });
      await expectSettled(dbs, key, 0);
    });

    it('does not commit a branch whose statement failed even if the callback swallowed the error', async () => {
      const key = `swallowed-${mode}`;
      await expect(
        coordinator.transaction(async (tx) => {
          await writeBooking(key)(tx);
          await tx.query('seats', 'INSERT INTO bookings (key) VALUES ($1)', [key]).catch(() => {});
        }),
      ).rejects.toThrow(/earlier statement failed|current transaction is aborted/);
      await expectSettled(dbs, key, 0);
    });

    it('a failed first statement fails inside the branch: nothing after it commits', async () => {
      const key = `first-fails-${mode}`;
      await expect(
        coordinator.transaction(async (tx) => {
          // The first statement on payments fails in its branch.
          await tx.query('payments', 'SELECT 1/0').catch(() => {});
          // Had BEGIN not run first, this would commit on its own (autocommit); in the branch it is refused.
          await tx.query('payments', 'INSERT INTO bookings (key) VALUES ($1)', [key]).catch(() => {});
          await writeBooking(key, ['seats', 'tickets'])(tx);
        }),
      ).rejects.toThrow(/earlier statement failed/);
      await expectSettled(dbs, key, 0);
    });

    /** A coordinator that records which participants it is about to prepare. */
    async function recordingPrepares(id: string) {
      const prepared: string[] = [];
      const probe = await startCoordinator(
        coordinatorOptions(dbs, mode, {
          id,
          faults: (site) => {
            if (site.point === '2pc:before-prepare' && site.participant) prepared.push(site.participant);
          },
        }),
      );
      return { probe, prepared };
    }

    it('does not prepare a participant that only read; one writer left commits one-phase', async () => {
      const key = `read-only-${mode}`;
      const { probe, prepared } = await recordingPrepares(`read-only-${mode}`);
      const events: CommittedEvent[] = [];
      probe.on('committed', (e) => events.push(e));
      // Two readers and two writers: only the writers take part in the protocol.
      await probe.transaction(async (tx) => {
        await tx.query('tickets', 'SELECT count(*) FROM bookings');
        await writeBooking(key, ['seats', 'payments'])(tx);
      });
      expect(prepared).not.toContain('tickets');
      expect(await copiesOf(dbs, key)).toBe(2);
      // One reader, one writer: the writer commits one-phase, nothing is prepared, no decision is written.
      prepared.length = 0;
      await probe.transaction(async (tx) => {
        await tx.query('seats', 'SELECT 1');
        await tx.query('payments', 'INSERT INTO bookings (key) VALUES ($1)', [`${key}-single`]);
      });
      expect(prepared).toEqual([]);
      expect(events.at(-1)).toMatchObject({ onePhase: true, participants: ['seats', 'payments'] });
      expect(await preparedLeft(dbs)).toEqual([]);
    });

    it('prepares a participant that read with FOR UPDATE or took an advisory lock: both must last to the end', async () => {
      const key = `locking-reads-${mode}`;
      const { probe, prepared } = await recordingPrepares(`locking-reads-${mode}`);
      await dbs.on('b').pool.query('INSERT INTO bookings (key) VALUES ($1) ON CONFLICT DO NOTHING', [key]);
      await probe.transaction(async (tx) => {
        await tx.query('payments', 'SELECT key FROM bookings WHERE key = $1 FOR UPDATE', [key]);
        await tx.query('tickets', 'SELECT pg_advisory_xact_lock(4242)');
        await writeBooking(`${key}-w`, ['seats'])(tx);
      });
      expect(prepared.sort()).toEqual(
        mode === 'in-participant' ? ['payments', 'tickets'] : ['payments', 'seats', 'tickets'],
      );
      expect(await preparedLeft(dbs)).toEqual([]);
    });

    it('one-phase: a swallowed statement error is not reported as committed', async () => {
      const key = `swallowed-one-${mode}`;
      await expect(
        coordinator.transaction(async (tx) => {
          await writeBooking(key, ['tickets'])(tx);
          await tx.query('tickets', 'SELECT 1/0').catch(() => {});
        }),
      ).rejects.toThrow(/earlier statement failed/);
      expect(await copiesOf(dbs, key)).toBe(0);
    });

    it('times out a transaction stuck on a lock, cancels the wait and rolls back everywhere', async () => {
      const key = `timeout-${mode}`;
      await dbs
        .on('b')
        .pool.query("INSERT INTO bookings (key) VALUES ('lock-holder') ON CONFLICT DO NOTHING");
      const holder = await dbs.on('b').pool.connect();
      try {
        await holder.query('BEGIN');
        await holder.query("SELECT 1 FROM bookings WHERE key = 'lock-holder' FOR UPDATE");
        const error = await coordinator
          .transaction(
            async (tx) => {
              await writeBooking(key)(tx);
              await tx.query('payments', "SELECT 1 FROM bookings WHERE key = 'lock-holder' FOR UPDATE");
            },
            { timeoutMs: 300 },
          )
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(TransactionTimeoutError);
        // Its own 300 ms limit ended the wait (the holder keeps its lock until the end of the test), not a lock
        // or statement timeout.
        expect((error as Error).message).toContain('within 300 ms');
        // The server-side wait is cancelled (the holder still holds its lock): nobody waits for it any more.
        const lockWaiters = async () =>
          (
            await dbs.on('b').pool.query(
              `SELECT count(*)::int AS n FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock'`,
            )
          ).rows[0].n;
        await expect.poll(lockWaiters, { timeout: 1_000 }).toBe(0);
      } finally {
        await holder.query('ROLLBACK');
        holder.release();
      }
      await expectSettled(dbs, key, 0);
    });

    it('runs at the requested isolation level with SET LOCAL timeouts that do not leak into the pool', async () => {
      const seen = await coordinator.transaction(
        async (tx) => {
          const { rows } = await tx.query(
            'seats',
            "SELECT current_setting('transaction_isolation') AS iso, current_setting('lock_timeout') AS lt",
          );
          await tx.query('payments', 'SELECT 1');
          return rows[0];
        },
        { isolationLevel: 'serializable', lockTimeoutMs: 1234 },
      );
      expect(seen).toEqual({ iso: 'serializable', lt: '1234ms' });
      const clients = await Promise.all(Array.from({ length: 20 }, () => dbs.on('a').pool.connect()));
      try {
        for (const client of clients) {
          expect((await client.query('SHOW lock_timeout')).rows[0].lock_timeout).toBe('0');
        }
      } finally {
        for (const client of clients) client.release();
      }
    });

    it('gives every connection back to the pools', async () => {
      // Awaited: a timed-out run cancels its server-side wait on a connection of its own, without waiting for it.
      for (const db of dbs.databases) {
        await expect.poll(() => db.pool.totalCount - db.pool.idleCount, { timeout: 10_000 }).toBe(0);
      }
    });
  });

  it("two transactions waiting on each other's exhausted pools: the wait times out, none hangs, the pools are freed", async () => {
    const seats = new pg.Pool({ connectionString: dbs.on('a').connectionString, max: 1 });
    const payments = new pg.Pool({ connectionString: dbs.on('b').connectionString, max: 1 });
    try {
      const coordinator = new TwoPhaseCoordinator({
        id: 'pool-wait',
        participants: { seats, payments },
        log: seats,
        prepareTimeoutMs: 400,
      });
      let holding = 0;
      let bothHolding: () => void = () => {};
      const barrier = new Promise<void>((resolve) => {
        bothHolding = resolve;
      });
      const crossed = (first: 'seats' | 'payments', second: 'seats' | 'payments') =>
        coordinator.transaction(async (tx) => {
          await tx.query(first, 'SELECT 1');
          if (++holding === 2) bothHolding();
          await barrier;
          await tx.query(second, 'SELECT 1'); // waits for the other run's only connection
        });
      const results = await Promise.allSettled([crossed('seats', 'payments'), crossed('payments', 'seats')]);
      // Neither waits forever: the first to time out gives its connection back, and the other may then take it
      // and commit within its own time limit (on a slow machine it sometimes does), or time out as well.
      const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
      expect(failures.length).toBeGreaterThanOrEqual(1);
      for (const reason of failures) expect(reason).toBeInstanceOf(TransactionTimeoutError);
      // Both pools work again.
      const key = 'after-pool-wait';
      await coordinator.transaction(async (tx) => {
        await tx.query('seats', 'INSERT INTO bookings (key) VALUES ($1)', [key]);
        await tx.query('payments', 'INSERT INTO bookings (key) VALUES ($1)', [key]);
      });
      expect(await copiesOf(dbs, key)).toBe(2);
    } finally {
      await seats.end();
      await payments.end();
    }
  });

  it("preparedStatements: the callback's statements with parameters are named, parsed once per connection", async () => {
    const coordinator = await startCoordinator(
      coordinatorOptions(dbs, 'in-participant', { id: 'named-statements', preparedStatements: true }),
    );
    const insert = 'INSERT INTO bookings (key, note) VALUES ($1, $2)';
    const namedOnItsConnection = () =>
      coordinator.transaction(async (tx) => {
        const key = 'named-statements';
        await tx.query('seats', insert, [key, 'seats']);
        await tx.query('payments', insert, [key, 'payments']);
        // pg_prepared_statements lists the statements of the session it runs in: the branch's own connection.
        const { rows } = await tx.query<{ named: boolean }>(
          'seats',
          'SELECT count(*) > 0 AS named FROM pg_prepared_statements WHERE statement = $1',
          [insert],
        );
        return { key, named: rows[0]!.named };
      });
    const { key, named } = await namedOnItsConnection();
    expect(named).toBe(true);
    expect(await preparedLeft(dbs)).toEqual([]);
    expect(await copiesOf(dbs, key)).toBe(2); // seats and payments
    // Statements without parameters stay unnamed (simple protocol: they may hold several statements).
    await coordinator.transaction(async (tx) => {
      await tx.query('seats', 'SELECT 1; SELECT 2');
      await tx.query('payments', 'SELECT 1');
    });
  });

  it('refuses invalid options and ids', () => {
    const participants = participantPools(dbs);
    const log = participants.seats;
    expect(() => new TwoPhaseCoordinator({ id: "a'b", participants, log })).toThrow(ConfigurationError);
    expect(() => new TwoPhaseCoordinator({ id: 'x'.repeat(41), participants, log })).toThrow(
      ConfigurationError,
    );
    expect(
      () => new TwoPhaseCoordinator({ id: 'ok', participants: { "x'); DROP TABLE t; --": log }, log }),
    ).toThrow(ConfigurationError);
    expect(() => new TwoPhaseCoordinator({ id: 'ok', participants: {}, log })).toThrow(ConfigurationError);
    expect(() => new TwoPhaseCoordinator({ id: 'ok', participants, log, prepareTimeoutMs: -1 })).toThrow(
      ConfigurationError,
    );
    expect(() => new TwoPhaseCoordinator({ id: 'ok', participants, log, schema: 'x"; drop' })).toThrow(
      ConfigurationError,
    );
    expect(
      () => new TwoPhaseCoordinator({ id: 'ok', participants, log, isolationLevel: 'chaos' as never }),
    ).toThrow(ConfigurationError);
  });

  it('refuses a transaction timeout above the prepare timeout and an unknown participant', async () => {
    const coordinator = new TwoPhaseCoordinator(coordinatorOptions(dbs, 'separate', { id: 'opts' }));
    await expect(coordinator.transaction(async () => 1, { timeoutMs: 5_000 })).rejects.toThrow(
      ConfigurationError,
    );
    await expect(coordinator.transaction((tx) => tx.query('nope', 'SELECT 1'))).rejects.toThrow(
      ConfigurationError,
    );
    expect(await preparedLeft(dbs)).toEqual([]);
  });

  it('fails start-up on a server without prepared transactions, saying how to fix it', async () => {
    const zero = await startPostgresCluster({
      names: ['zero'],
      settings: { max_prepared_transactions: '0' },
    });
    const pool = new pg.Pool({ connectionString: zero.instance('zero').connectionString });
    try {
      const coordinator = new TwoPhaseCoordinator({
        id: 'check',
        participants: { seats: dbs.on('a').pool, legacy: pool },
        log: dbs.on('a').pool,
      });
      const error = await coordinator.migrate().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).toMatch(
        /"legacy".*max_prepared_transactions = 0.*restart the server/s,
      );
    } finally {
      await pool.end();
      await zero.destroy();
    }
  });
});
