import fc from 'fast-check';
import type pg from 'pg';
import { StepRejectedError } from '../../../src/index.js';
import type { Reading } from './reader.js';
import { DATABASES, type DatabaseName, type World } from './world.js';

/** Accounts 0-5, spread over the three databases (account i on database i mod 3), 100 each at the start. */
export const ACCOUNTS = 6;
export const INITIAL_BALANCE = 100;
/** Credits to this account are refused (a business rejection after the debit, for the saga to compensate). */
export const CLOSED_ACCOUNT = 5;

export const BANK_DDL = `
  CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);
  -- Every applied effect, one row per application (no key: a step applied twice shows as two rows).
  CREATE TABLE effects (transfer text NOT NULL, step text NOT NULL, op text NOT NULL, account int NOT NULL,
                        delta int NOT NULL);`;

/** What a leg writes through: a 2PC branch or a client in a local transaction. */
export interface Exec {
  query(text: string, values?: unknown[]): Promise<{ rowCount: number | null }>;
}

export type Leg = 'debit' | 'credit';
export type Op = 'action' | 'compensate';

export interface Transfer {
  id: string;
  from: number;
  to: number;
  amount: number;
  /** Start delay: a random interleaving of the concurrent transfers. */
  delayMs: number;
}

export function databaseOf(account: number): DatabaseName {
  return DATABASES[account % DATABASES.length]!;
}

/** 1-6 concurrent transfers between distinct accounts; amounts up to 150 (some overdraw, and are refused). */
export const transfersArbitrary: fc.Arbitrary<Transfer[]> = fc
  .array(
    fc
      .record({
        from: fc.integer({ min: 0, max: ACCOUNTS - 1 }),
        to: fc.integer({ min: 0, max: ACCOUNTS - 1 }),
        amount: fc.integer({ min: 1, max: 150 }),
        delayMs: fc.integer({ min: 0, max: 15 }),
      })
      .filter((t) => t.from !== t.to),
    { minLength: 1, maxLength: 6 },
  )
  .map((ts) => ts.map((t, i) => ({ ...t, id: `t${i}` })));

/** Truncates everything and opens the accounts again. */
export async function resetBank(world: World): Promise<void> {
  await world.reset(['accounts', 'effects']);
  for (const name of DATABASES) {
    const ids = [...Array(ACCOUNTS).keys()].filter((i) => databaseOf(i) === name);
    await world
      .pool(name)
      .query('INSERT INTO accounts (id, balance) SELECT unnest($1::int[]), $2', [ids, INITIAL_BALANCE]);
  }
}

/** The balance change of one leg's action or compensation. */
function deltaOf(t: Transfer, leg: Leg, op: Op): number {
  const sign = (leg === 'debit' ? -1 : 1) * (op === 'action' ? 1 : -1);
  return sign * t.amount;
}

/**
 * Applies one leg (action or compensation) on its database through `client` (a 2PC branch or a local
 * transaction). A debit never overdraws (refused with `insufficient-funds`), a credit to the closed account is
 * refused (`account-closed`); both refusals come before any write.
 */
export async function applyLeg(client: Exec, t: Transfer, leg: Leg, op: Op): Promise<void> {
  const account = leg === 'debit' ? t.from : t.to;
  const delta = deltaOf(t, leg, op);
  if (leg === 'credit' && op === 'action' && account === CLOSED_ACCOUNT) {
    throw new StepRejectedError('account-closed', `account ${account} is closed`);
  }
  const { rowCount } = await client.query(
    'UPDATE accounts SET balance = balance + $2 WHERE id = $1 AND balance + $2 >= 0',
    [account, delta],
  );
  // Only a debit may refuse: a compensation that would overdraw is written anyway, so the invariant sees it.
  if (rowCount !== 1) {
    if (op === 'action')
      throw new StepRejectedError('insufficient-funds', `account ${account} lacks ${t.amount}`);
    await client.query('UPDATE accounts SET balance = balance + $2 WHERE id = $1', [account, delta]);
  }
  await client.query('INSERT INTO effects (transfer, step, op, account, delta) VALUES ($1, $2, $3, $4, $5)', [
    t.id,
    leg,
    op,
    account,
    delta,
  ]);
}

export interface BankState {
  balances: Map<number, number>;
  /** transfer → step → op → times applied. */
  effects: { transfer: string; step: Leg; op: Op; account: number; delta: number }[];
}

/** Reads one database's part of the bank. */
export async function readBankPart(pool: pg.Pool): Promise<BankState> {
  const accounts = await pool.query<{ id: number; balance: number }>('SELECT id, balance FROM accounts');
  const effects = await pool.query<BankState['effects'][number]>(
    'SELECT transfer, step, op, account, delta FROM effects',
  );
  return { balances: new Map(accounts.rows.map((r) => [r.id, r.balance])), effects: effects.rows };
}

/** Reads the whole bank (one database after another). */
export async function readBank(world: World): Promise<BankState> {
  const parts = await Promise.all(DATABASES.map((n) => readBankPart(world.pool(n))));
  return {
    balances: new Map(parts.flatMap((p) => [...p.balances])),
    effects: parts.flatMap((p) => p.effects),
  };
}

/** Times each (step, op) of a transfer was applied. */
export function appliedCounts(state: Pick<BankState, 'effects'>, transfer: string) {
  const count = (step: Leg, op: Op) =>
    state.effects.filter((e) => e.transfer === transfer && e.step === step && e.op === op).length;
  return {
    debit: { action: count('debit', 'action'), compensate: count('debit', 'compensate') },
    credit: { action: count('credit', 'action'), compensate: count('credit', 'compensate') },
  };
}

/** Net legs in effect (action minus compensation) of a transfer: 0/0 none, 1/1 done, anything else mixed. */
export function netLegs(
  state: Pick<BankState, 'effects'>,
  transfer: string,
): { debit: number; credit: number } {
  const c = appliedCounts(state, transfer);
  return { debit: c.debit.action - c.debit.compensate, credit: c.credit.action - c.credit.compensate };
}

/**
 * The invariants every bank run must end with, whatever the protocol: money conserved, no negative balance,
 * each balance explained by the effects applied to it, no step applied twice, and no transfer half-done.
 * Returns the violations (empty when all hold).
 */
export function bankViolations(state: BankState, transfers: readonly Transfer[]): string[] {
  const violations: string[] = [];
  const total = [...state.balances.values()].reduce((a, b) => a + b, 0);
  if (total !== ACCOUNTS * INITIAL_BALANCE) violations.push(`money not conserved: total ${total}`);
  for (const [id, balance] of state.balances) {
    if (balance < 0) violations.push(`account ${id} is negative: ${balance}`);
    const explained =
      INITIAL_BALANCE + state.effects.filter((e) => e.account === id).reduce((a, e) => a + e.delta, 0);
    if (explained !== balance) violations.push(`account ${id} is ${balance}, its effects say ${explained}`);
  }
  for (const t of transfers) {
    const c = appliedCounts(state, t.id);
    for (const [step, ops] of Object.entries(c)) {
      if (ops.action > 1 || ops.compensate > 1)
        violations.push(`${t.id} ${step} applied twice: ${JSON.stringify(ops)}`);
    }
    const net = netLegs(state, t.id);
    if (net.debit !== net.credit) violations.push(`${t.id} half-done: ${JSON.stringify(c)}`);
  }
  return violations;
}

/** Transfers seen half-done in one reading (one leg in effect, the other not). */
export function mixedIn(reading: Reading<BankState>, transfers: readonly Transfer[]): Transfer[] {
  const seen = { effects: DATABASES.flatMap((n) => reading.parts[n].effects) };
  return transfers.filter((t) => {
    const net = netLegs(seen, t.id);
    return net.debit !== net.credit;
  });
}

/** Transfers with any effect in one reading. */
export function visibleIn(reading: Reading<BankState>): Set<string> {
  return new Set(DATABASES.flatMap((n) => reading.parts[n].effects.map((e) => e.transfer)));
}
