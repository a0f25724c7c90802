import type pg from 'pg';

import * as accountsSql from '../db/accounts-sql.js';
import * as paymentsSql from '../db/payments-sql.js';
import { rows } from '../db/statement.js';
import { boundedTransaction, type WaitLimits } from '../db/wait-limits.js';
import { DomainError } from '../domain-error.js';

/** A top-up as the API answers it. */
export interface TopUp {
  id: string;
  amountCents: number;
  createdAt: string;
  balanceCents: number;
}

/**
 * Demo money: credits a wallet and records the top-up in one transaction, so an audit can tell money that came
 * in from money a booking created (wallets + captured payments - top-ups is constant while bookings run).
 * Limited twice, so the demo cannot mint money without bound: no wallet above `allowanceCents` (422
 * `wallet-full`), and at most `allowanceCents` per customer in any 24 hours (429 `top-up-limit` with
 * `Retry-After`). The wallet row is locked first, so two top-ups of one customer are checked one after the other.
 *
 * @example
 * const topUp = await topUpWallet(dbs.payments, limits, customerId, 10_000, 50_000);
 */
export async function topUpWallet(
  payments: pg.Pool,
  limits: WaitLimits,
  customerId: number,
  amountCents: number,
  allowanceCents: number,
): Promise<TopUp> {
  return boundedTransaction(payments, limits, async (client) => {
    const [wallet] = await rows<{ balanceCents: number }>(client, paymentsSql.lockWallet(customerId));
    if (!wallet) throw new DomainError('customer-not-found', 'your customer record no longer exists');
    if (wallet.balanceCents + amountCents > allowanceCents) {
      throw new DomainError(
        'wallet-full',
        `a demo wallet holds at most ${allowanceCents} cents; it has ${wallet.balanceCents}`,
      );
    }
    const [day] = await rows<{ sumCents: number; freesInSeconds: number | null }>(
      client,
      accountsSql.topUpsOfLastDay(customerId),
    );
    if ((day?.sumCents ?? 0) + amountCents > allowanceCents) {
      const retryAfter = Math.max(1, day?.freesInSeconds ?? 1);
      throw new DomainError(
        'top-up-limit',
        `at most ${allowanceCents} cents of top-ups per 24 hours; retry in ${retryAfter}s`,
        retryAfter,
      );
    }
    await rows(client, paymentsSql.creditWallet(customerId, amountCents));
    const [topUp] = await rows<{ id: string; amountCents: number; createdAt: Date }>(
      client,
      accountsSql.insertTopUp(customerId, amountCents),
    );
    return {
      id: String(topUp!.id),
      amountCents: topUp!.amountCents,
      createdAt: topUp!.createdAt.toISOString(),
      balanceCents: wallet.balanceCents + amountCents,
    };
  });
}
