import { InDoubtError, PrepareFailedError } from 'txkit';
import { balanceOf, createAccountsTable, createCoordinator, openAccount, transfer } from './bank.js';
import { startBanks } from './servers.js';

// npm start: two banks, two accounts, one transfer that commits and one that cannot (not enough money).
const banks = await startBanks();
try {
  await createAccountsTable(banks.north);
  await createAccountsTable(banks.south);
  await openAccount(banks.north, 'alice', 100_00);
  await openAccount(banks.south, 'bob', 0);

  const coordinator = createCoordinator(banks);
  await coordinator.migrate(); // decision log + check of max_prepared_transactions on both banks
  coordinator.on('committed', (e) =>
    console.log(`committed ${e.transactionId} on ${e.participants.join(' + ')}`),
  );
  // Finishes transactions whose process died between PREPARE and COMMIT PREPARED.
  const recovery = coordinator.startRecovery({ intervalMs: 5_000 });

  const show = async () =>
    console.log(
      `alice (north) ${await balanceOf(banks.north, 'alice')}, bob (south) ${await balanceOf(banks.south, 'bob')}`,
    );

  await show();
  await transfer(coordinator, { bank: 'north', account: 'alice' }, { bank: 'south', account: 'bob' }, 30_00);
  await show();
  try {
    await transfer(
      coordinator,
      { bank: 'north', account: 'alice' },
      { bank: 'south', account: 'bob' },
      500_00,
    );
  } catch (error) {
    if (error instanceof InDoubtError) throw error; // outcome unknown: recovery will finish it
    const reason =
      error instanceof PrepareFailedError ? 'a bank refused to prepare' : (error as Error).message;
    console.log(`transfer of 500.00 rolled back in both banks: ${reason}`);
  }
  await show();
  await recovery.stop();
} finally {
  await banks.close();
}
