import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  InDoubtError,
  isTxkitError,
  PrepareFailedError,
  SagaLogUnavailableError,
  TxkitError,
} from '../../src/errors.js';
import { createTestDatabases, type TestDatabases, testCluster } from '../../src/testing/index.js';
import type { TwoPhaseCoordinator } from '../../src/two-phase/coordinator.js';
import type { TwoPhaseTransaction } from '../../src/two-phase/transaction-run.js';
import { coordinatorOptions, createBookingTables, startCoordinator } from '../two-phase/support.js';

// One error model: what txkit throws is a TxkitError with a code of its own, recognisable across copies of the
// package, carrying the PostgreSQL fields of the server error it wraps.
describe('txkit errors', () => {
  const cluster = testCluster();
  let dbs: TestDatabases;
  let coordinator: TwoPhaseCoordinator;

  beforeAll(async () => {
    dbs = await createTestDatabases(cluster, 'error model');
    await createBookingTables(dbs);
    await dbs.on('a').pool.query('CREATE TABLE uniq (id int CONSTRAINT uniq_pkey PRIMARY KEY)');
    coordinator = await startCoordinator(coordinatorOptions(dbs, 'separate', { id: 'errors' }));
  });
  afterAll(() => dbs.drop());

  it('isTxkitError recognises every txkit error, and nothing else', () => {
    for (const error of [
      new ConfigurationError('x'),
      new InDoubtError('x'),
      new SagaLogUnavailableError('x'),
      new TxkitError('TRANSACTION_FINISHED', 'x'),
    ]) {
      expect(isTxkitError(error)).toBe(true);
    }
    for (const value of [new Error('x'), { code: 'IN_DOUBT' }, null, 'IN_DOUBT'])
      expect(isTxkitError(value)).toBe(false);
  });

  it('carries the fields of the PostgreSQL error it wraps, also inside an AggregateError', async () => {
    const pool = dbs.on('a').pool;
    await pool.query('INSERT INTO uniq VALUES (1)');
    const duplicate = await pool.query('INSERT INTO uniq VALUES (1)').catch((e: unknown) => e);
    const prepare = new PrepareFailedError('x', { cause: duplicate });
    expect(prepare.postgres).toMatchObject({ code: '23505', constraint: 'uniq_pkey', table: 'uniq' });
    const nested = new InDoubtError('x', { cause: new AggregateError([new Error('lost'), duplicate]) });
    expect(nested.postgres?.code).toBe('23505');
    expect(new InDoubtError('x', { cause: new Error('lost') }).postgres).toBeUndefined();
  });

  it('a statement after the transaction ended is a TxkitError TRANSACTION_FINISHED, not a plain Error', async () => {
    let leaked: TwoPhaseTransaction | undefined;
    await coordinator.transaction(async (tx) => {
      leaked = tx;
      await tx.query('seats', 'SELECT 1');
    });
    const late = await leaked!.query('payments', 'SELECT 1').catch((e: unknown) => e);
    expect(isTxkitError(late)).toBe(true);
    expect(late).toMatchObject({ code: 'TRANSACTION_FINISHED', context: { transactionId: leaked!.id } });
  });
});
