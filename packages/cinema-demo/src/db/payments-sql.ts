import type { Statement } from './statement.js';

// All SQL of the payments database.

export const getCustomer = (id: number): Statement => ({
  text: `SELECT id, name, balance_cents::int AS "balanceCents" FROM cinema.customers WHERE id = $1`,
  values: [id],
});

/** Locks the wallet so two charges of one customer cannot both spend the same balance. */
export const lockWallet = (customerId: number): Statement => ({
  text: `SELECT balance_cents::int AS "balanceCents" FROM cinema.customers WHERE id = $1 FOR UPDATE`,
  values: [customerId],
});

export const creditWallet = (customerId: number, amountCents: number): Statement => ({
  text: `UPDATE cinema.customers SET balance_cents = balance_cents + $2 WHERE id = $1`,
  values: [customerId, amountCents],
});

/**
 * A booking's charge in one statement: the wallet debited only if it holds the amount (the UPDATE locks the row
 * and re-checks the balance after any wait), and the payment recorded from the debit. No row back: no wallet, or
 * not enough in it, and nothing written.
 */
export const chargeWallet = (bookingId: string, customerId: number, amountCents: number): Statement => ({
  text: `WITH debited AS (
           UPDATE cinema.customers SET balance_cents = balance_cents - $3
            WHERE id = $2 AND balance_cents >= $3
           RETURNING id)
         INSERT INTO cinema.payments (booking_id, customer_id, amount_cents, status)
         SELECT $1, id, $3, 'captured' FROM debited RETURNING id`,
  values: [bookingId, customerId, amountCents],
});

/** Marks the booking's payment refunded once; returns nothing when there was none or it was refunded already. */
export const refundPayment = (bookingId: string): Statement => ({
  text: `UPDATE cinema.payments SET status = 'refunded', refunded_at = now()
          WHERE booking_id = $1 AND status = 'captured'
          RETURNING customer_id AS "customerId", amount_cents AS "amountCents"`,
  values: [bookingId],
});

export const paymentsOfCustomer = (customerId: number, limit: number): Statement => ({
  text: `SELECT booking_id AS "bookingId", amount_cents AS "amountCents", status, created_at AS "createdAt",
                refunded_at AS "refundedAt"
           FROM cinema.payments WHERE customer_id = $1 ORDER BY created_at DESC LIMIT $2`,
  values: [customerId, limit],
});

export const paymentOfBooking = (bookingId: string): Statement => ({
  text: `SELECT booking_id AS "bookingId", customer_id AS "customerId", amount_cents AS "amountCents", status
           FROM cinema.payments WHERE booking_id = $1`,
  values: [bookingId],
});
