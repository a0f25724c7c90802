import type pg from 'pg';
import { withTransaction } from 'txkit';

import * as accountsSql from '../db/accounts-sql.js';
import { rows } from '../db/statement.js';
import { DomainError } from '../domain-error.js';
import { checkPassword, hashPassword } from './password.js';

/** A customer as sign-up and sign-in answer it. */
export interface CustomerName {
  id: number;
  name: string;
}

/**
 * Creates a customer with an empty wallet and their account (email, argon2id hash of the password) in one
 * transaction of the payments database: no customer without an account, no account without a customer.
 * Throws a 409 when the name or the email is taken.
 *
 * @example
 * const customer = await createAccount(dbs.payments, { email: 'erin@example.org', password, name: 'Erin' });
 */
export async function createAccount(
  payments: pg.Pool,
  input: { email: string; password: string; name: string },
): Promise<CustomerName> {
  // Hashing takes tens of milliseconds: before the transaction, not inside it.
  const passwordHash = await hashPassword(input.password);
  return withTransaction(payments, async (client) => {
    const [customer] = await rows<CustomerName>(client, accountsSql.insertCustomer(input.name));
    if (!customer) throw new DomainError('name-taken', `the name '${input.name}' is taken; choose another`);
    const [account] = await rows(client, accountsSql.insertAccount(customer.id, input.email, passwordHash));
    if (!account) throw new DomainError('email-taken', 'an account with this email exists; sign in');
    return customer;
  });
}

/**
 * The customer whose account has this email and password, or undefined. Always one argon2id verification
 * (against a dummy hash when the email is unknown), so an unknown email and a wrong password take the same time.
 *
 * @example
 * const customer = await authenticate(dbs.payments, 'alice@cinema.example', password);
 */
export async function authenticate(
  payments: pg.Pool,
  email: string,
  password: string,
): Promise<CustomerName | undefined> {
  const [account] = await rows<{ customerId: number; name: string; passwordHash: string }>(
    payments,
    accountsSql.accountByEmail(email),
  );
  const ok = await checkPassword(account?.passwordHash, password);
  return ok && account ? { id: account.customerId, name: account.name } : undefined;
}
