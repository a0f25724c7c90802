import type pg from 'pg';
import { TwoPhaseCoordinator } from 'txkit';

/** An account lives in one of the two banks (databases). */
export interface AccountRef {
  bank: 'north' | 'south';
  account: string;
}

/** Creates the accounts table in a bank's database. Balances can never go negative. */
export async function createAccountsTable(pool: pg.Pool): Promise<void> {
  await pool.query(`CREATE TABLE IF NOT EXISTS accounts (
    id text PRIMARY KEY,
    balance bigint NOT NULL CHECK (balance >= 0))`);
}

/** Opens an account with a starting balance (cents). */
export async function openAccount(pool: pg.Pool, id: string, balance: number): Promise<void> {
  await pool.query('INSERT INTO accounts (id, balance) VALUES ($1, $2)', [id, balance]);
}

/** One coordinator per process: the two banks are its participants, the decision log lives in `north`. */
export function createCoordinator(
  banks: { north: pg.Pool; south: pg.Pool },
  id = 'transfers-1',
): TwoPhaseCoordinator {
  return new TwoPhaseCoordinator({
    id,
    participants: { north: banks.north, south: banks.south },
    log: banks.north,
    // Row locks on the accounts are held until the decision: do not wait on a busy account for long.
    lockTimeoutMs: 2_000,
  });
}

/**
 * Moves `amount` cents from one account to another, possibly in the other bank. Either both balances change
 * or neither does: the debit and the credit are two branches of one two-phase transaction.
 * Rejects when the source has too little money (the CHECK constraint) or an account does not exist.
 */
export async function transfer(
  coordinator: TwoPhaseCoordinator,
  from: AccountRef,
  to: AccountRef,
  amount: number,
): Promise<void> {
  await coordinator.transaction(async (tx) => {
    const debit = await tx.query(from.bank, 'UPDATE accounts SET balance = balance - $2 WHERE id = $1', [
      from.account,
      amount,
    ]);
    if (debit.rowCount !== 1) throw new Error(`no account ${from.account} in ${from.bank}`);
    const credit = await tx.query(to.bank, 'UPDATE accounts SET balance = balance + $2 WHERE id = $1', [
      to.account,
      amount,
    ]);
    if (credit.rowCount !== 1) throw new Error(`no account ${to.account} in ${to.bank}`);
  });
}

/** The balance of one account. */
export async function balanceOf(pool: pg.Pool, id: string): Promise<number> {
  const { rows } = await pool.query<{ balance: string }>('SELECT balance FROM accounts WHERE id = $1', [id]);
  return Number(rows[0]?.balance);
}
