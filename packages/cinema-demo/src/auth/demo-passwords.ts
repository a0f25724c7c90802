import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import * as accountsSql from '../db/accounts-sql.js';
import { SEED_CUSTOMERS } from '../db/seed.js';
import { rows } from '../db/statement.js';
import { hashPassword } from './password.js';

/** The sign-in email of a seeded demo customer: `alice@cinema.example` (a reserved domain). */
export function demoEmail(name: string): string {
  return `${name.toLowerCase()}@cinema.example`;
}

/**
 * Throwaway passwords for the seeded customers (`npm start` in embedded mode makes them and prints them).
 *
 * @example
 * const passwords = generateDemoPasswords(); // { Alice: 'k3…', Bob: '…', ... }
 */
export function generateDemoPasswords(): Record<string, string> {
  return Object.fromEntries(SEED_CUSTOMERS.map((name) => [name, randomBytes(12).toString('base64url')]));
}

/**
 * Gives the seeded customers accounts with these passwords (replacing earlier ones). Only the accounts table
 * is written, never a wallet row, so this never waits for a booking's or a leftover transaction's lock.
 * A deployment gives none: its seeded customers cannot sign in, people sign up.
 *
 * @example
 * await setDemoPasswords(dbs.payments, { Alice: 'correct horse battery staple' });
 */
export async function setDemoPasswords(payments: pg.Pool, passwords: Record<string, string>): Promise<void> {
  for (const [name, password] of Object.entries(passwords)) {
    await rows(
      payments,
      accountsSql.upsertAccountByName(name, demoEmail(name), await hashPassword(password)),
    );
  }
}
