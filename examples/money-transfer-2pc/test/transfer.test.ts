import { TwoPhaseCoordinator } from 'txkit';
import { FaultPlan, isSimulatedCrash, listPreparedTransactions } from 'txkit/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { balanceOf, createAccountsTable, createCoordinator, openAccount, transfer } from '../src/bank.js';
import { type Banks, startBanks } from '../src/servers.js';

// The example against a real PostgreSQL server started for this file (see src/servers.ts).
describe('money transfer over two-phase commit', () => {
  let banks: Banks;
  let coordinator: TwoPhaseCoordinator;
  const alice = { bank: 'north', account: 'alice' } as const;
  const bob = { bank: 'south', account: 'bob' } as const;
  const balances = async () => [await balanceOf(banks.north, 'alice'), await balanceOf(banks.south, 'bob')];
  const prepared = async () => {
    const { rows } = await banks.north.query<{ db: string }>('SELECT current_database() AS db');
    const { rows: south } = await banks.south.query<{ db: string }>('SELECT current_database() AS db');
    return [
      ...(await listPreparedTransactions(banks.north, rows[0]?.db)),
      ...(await listPreparedTransactions(banks.south, south[0]?.db)),
    ];
  };

  beforeAll(async () => {
    banks = await startBanks();
    await createAccountsTable(banks.north);
    await createAccountsTable(banks.south);
    coordinator = createCoordinator(banks);
    await coordinator.migrate();
  });
  afterAll(() => banks?.close());
  beforeEach(async () => {
    await banks.north.query('TRUNCATE accounts');
    await banks.south.query('TRUNCATE accounts');
    await openAccount(banks.north, 'alice', 100);
    await openAccount(banks.south, 'bob', 0);
  });

  it('moves money between the banks', async () => {
    await transfer(coordinator, alice, bob, 30);
    expect(await balances()).toEqual([70, 30]);
  });

  it('an overdraft changes neither bank and leaves nothing prepared', async () => {
    await expect(transfer(coordinator, alice, bob, 500)).rejects.toThrow();
    expect(await balances()).toEqual([100, 0]);
    expect(await prepared()).toEqual([]);
  });

  it('a credit to a missing account rolls back the debit in the other bank', async () => {
    await expect(transfer(coordinator, alice, { bank: 'south', account: 'nobody' }, 10)).rejects.toThrow(
      'no account nobody',
    );
    expect(await balances()).toEqual([100, 0]);
  });

  it('concurrent transfers keep the total', async () => {
    await Promise.allSettled(Array.from({ length: 8 }, () => transfer(coordinator, alice, bob, 20)));
    const [a, b] = await balances();
    expect(a! + b!).toBe(100);
    expect(a).toBeGreaterThanOrEqual(0);
  });

  it('a process that dies after the commit decision: recovery finishes the transfer', async () => {
    // How to test your own code for crashes: a fault plan makes the coordinator "die" at a named point.
    const plan = new FaultPlan([{ point: '2pc:after-decision', kind: 'crash' }]);
    const crashing = new TwoPhaseCoordinator({
      id: 'transfers-crash',
      participants: { north: banks.north, south: banks.south },
      log: banks.north,
      // No separate decision row is needed when the log participant carries it; make both banks prepare.
      decisionInLogParticipant: false,
      // Its lease (how long the others wait before taking over its work) is short here, to keep the test fast.
      leaseMs: 300,
      faults: plan.hook,
    });
    const error = await transfer(crashing, alice, bob, 40).catch((e: unknown) => e);
    expect(isSimulatedCrash(error)).toBe(true);
    expect(await prepared()).toHaveLength(2); // both banks prepared, locks held, nothing visible yet
    expect(await balances()).toEqual([100, 0]);

    // "Restart", as deployments do it: under a new id. Once the dead one's lease has expired, recovery takes
    // over what it left and finishes what it decided.
    const restarted = new TwoPhaseCoordinator({
      id: 'transfers-restarted',
      participants: { north: banks.north, south: banks.south },
      log: banks.north,
    });
    const committed: string[] = [];
    await expect
      .poll(async () => committed.push(...(await restarted.recover()).committed), { timeout: 10_000 })
      .toBe(2);
    expect(await balances()).toEqual([60, 40]);
    expect(await prepared()).toEqual([]);
  });
});
