import type { Statement } from './statement.js';

// All SQL of accounts and top-ups (payments database): who may act as which customer, and the money that
// entered the system from outside.

/** The account of an email (stored lower-cased), with its password hash. */
export const accountByEmail = (email: string): Statement => ({
  text: `SELECT a.customer_id AS "customerId", c.name, a.password_hash AS "passwordHash"
           FROM cinema.accounts a JOIN cinema.customers c ON c.id = a.customer_id
          WHERE a.email = $1`,
  values: [email],
});

/** A new customer with an empty wallet; nothing when the name is taken. */
export const insertCustomer = (name: string): Statement => ({
  text: `INSERT INTO cinema.customers (name, balance_cents) VALUES ($1, 0)
         ON CONFLICT (name) DO NOTHING RETURNING id, name`,
  values: [name],
});

/** The account of a new customer; nothing when the email is taken. */
export const insertAccount = (customerId: number, email: string, passwordHash: string): Statement => ({
  text: `INSERT INTO cinema.accounts (customer_id, email, password_hash) VALUES ($1, $2, $3)
         ON CONFLICT (email) DO NOTHING RETURNING customer_id`,
  values: [customerId, email, passwordHash],
});

/** Sets the password (and email) of a customer found by name: the seeded demo customers. */
export const upsertAccountByName = (name: string, email: string, passwordHash: string): Statement => ({
  text: `INSERT INTO cinema.accounts (customer_id, email, password_hash)
         SELECT id, $2, $3 FROM cinema.customers WHERE name = $1
         ON CONFLICT (customer_id) DO UPDATE SET email = EXCLUDED.email, password_hash = EXCLUDED.password_hash
         RETURNING customer_id`,
  values: [name, email, passwordHash],
});

/** Records a top-up; the wallet is credited in the same transaction. */
export const insertTopUp = (customerId: number, amountCents: number): Statement => ({
  text: `INSERT INTO cinema.top_ups (customer_id, amount_cents) VALUES ($1, $2)
         RETURNING id, amount_cents AS "amountCents", created_at AS "createdAt"`,
  values: [customerId, amountCents],
});

/** What a customer topped up in the last 24 hours, and when the first of those top-ups leaves that window. */
export const topUpsOfLastDay = (customerId: number): Statement => ({
  text: `SELECT coalesce(sum(amount_cents), 0)::int AS "sumCents",
                ceil(extract(epoch FROM min(created_at) + interval '1 day' - now()))::int AS "freesInSeconds"
           FROM cinema.top_ups WHERE customer_id = $1 AND created_at > now() - interval '1 day'`,
  values: [customerId],
});
