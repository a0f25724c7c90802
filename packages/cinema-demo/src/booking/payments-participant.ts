import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultSettings } from '../config.js';
import * as sql from '../db/payments-sql.js';
import { type Db, rows } from '../db/statement.js';
import { type BookingPlan, BookingRejectedError } from './outcome.js';

/**
 * Takes the booking's price from the customer's wallet inside the caller's local transaction. The configured
 * latency and decline rate simulate a slow or refusing payment provider.
 */
export async function chargePayment(db: Db, plan: BookingPlan, faults: FaultSettings): Promise<void> {
  if (faults.paymentLatencyMs > 0) await sleep(faults.paymentLatencyMs);
  if (faults.paymentDeclineRate > 0 && faults.random() < faults.paymentDeclineRate) {
    throw new BookingRejectedError('payment-declined', 'the payment provider declined the payment');
  }
  // One statement: debited and recorded, or nothing when the wallet holds less. payments.booking_id is unique:
  // even a duplicate charge that slipped past the barrier cannot take money twice.
  const charged = await rows(db, sql.chargeWallet(plan.bookingId, plan.customerId, plan.amountCents));
  if (charged.length === 0) {
    throw new BookingRejectedError('insufficient-funds', 'not enough money in the wallet');
  }
}

/** Refunds the booking's payment once; a second call, or a call for a booking never charged, does nothing. */
export async function refundPayment(db: Db, bookingId: string): Promise<void> {
  const [refund] = await rows<{ customerId: number; amountCents: number }>(db, sql.refundPayment(bookingId));
  if (refund) await rows(db, sql.creditWallet(refund.customerId, refund.amountCents));
}
