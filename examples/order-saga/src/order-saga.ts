import type pg from 'pg';
import { migrateBarrier, SagaRunner, StepRejectedError, saga, withBarrier } from 'txkit';

/** What an order asks for. Amounts in cents. */
export interface Order {
  customer: string;
  sku: string;
  quantity: number;
  unitPrice: number;
  country: string;
}

/** Countries the carrier does not ship to: the last step fails there, after the customer was charged. */
const NO_SHIPPING = new Set(['AQ']);

/** The shop's tables (stock, shipments; the saga log is there too) and the payment service's (wallets). */
export async function createTables(shop: pg.Pool, payments: pg.Pool): Promise<void> {
  await shop.query(`CREATE TABLE IF NOT EXISTS stock (sku text PRIMARY KEY, available int NOT NULL CHECK (available >= 0));
                    CREATE TABLE IF NOT EXISTS shipments (order_id uuid PRIMARY KEY, sku text NOT NULL, quantity int NOT NULL, country text NOT NULL)`);
  await payments.query(
    `CREATE TABLE IF NOT EXISTS wallets (customer text PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0))`,
  );
  // The barrier table makes each charge and refund happen at most once, whatever retries and recovery do.
  await migrateBarrier(payments);
}

/**
 * The order saga. Steps commit one by one; when a later step fails, the earlier ones are undone in reverse
 * order by their `compensate`:
 * 1. `reserve-stock` (local: runs in the shop database, in the same transaction as its saga log record);
 * 2. `charge` (the payment database: its own transaction, guarded by the barrier);
 * 3. `ship` (local). Throwing a `StepRejectedError` is a business "no": not retried, compensation starts.
 */
export function orderSaga(payments: pg.Pool) {
  return saga<Order>('place-order')
    .localStep('reserve-stock', {
      run: async ({ client, input }) => {
        const { rowCount } = await client.query(
          'UPDATE stock SET available = available - $2 WHERE sku = $1 AND available >= $2',
          [input.sku, input.quantity],
        );
        if (rowCount !== 1) throw new StepRejectedError('out-of-stock', `not enough ${input.sku} in stock`);
        return { reserved: input.quantity };
      },
      compensate: async ({ client, input }) => {
        await client.query('UPDATE stock SET available = available + $2 WHERE sku = $1', [
          input.sku,
          input.quantity,
        ]);
      },
    })
    .step('charge', {
      run: (ctx) =>
        withBarrier(payments, ctx, 'action', async (client, gate) => {
          const total = ctx.input.quantity * ctx.input.unitPrice;
          // A retry or a recovered saga runs this again: the barrier turns the second run into a no-op.
          if (!gate.apply) return { charged: total };
          const { rowCount } = await client.query(
            'UPDATE wallets SET balance = balance - $2 WHERE customer = $1 AND balance >= $2',
            [ctx.input.customer, total],
          );
          if (rowCount !== 1) throw new StepRejectedError('payment-declined', 'insufficient funds');
          return { charged: total };
        }),
      compensate: (ctx) =>
        withBarrier(payments, ctx, 'compensate', async (client, gate) => {
          // Refunds once, and not at all when the charge never happened (the barrier knows).
          if (!gate.apply) return;
          await client.query('UPDATE wallets SET balance = balance + $2 WHERE customer = $1', [
            ctx.input.customer,
            ctx.input.quantity * ctx.input.unitPrice,
          ]);
        }),
      retry: { maxAttempts: 3, initialDelayMs: 20 },
      timeoutMs: 5_000,
    })
    .localStep('ship', {
      run: async ({ client, input, sagaId }) => {
        if (NO_SHIPPING.has(input.country))
          throw new StepRejectedError('cannot-ship', `no shipping to ${input.country}`);
        await client.query(
          'INSERT INTO shipments (order_id, sku, quantity, country) VALUES ($1, $2, $3, $4)',
          [sagaId, input.sku, input.quantity, input.country],
        );
        return { shipment: sagaId };
      },
    })
    .build();
}

/** A runner over the shop database (where the saga log lives), with the order saga registered. */
export async function startRunner(shop: pg.Pool, payments: pg.Pool, id = 'shop-1') {
  const placeOrder = orderSaga(payments);
  const runner = new SagaRunner({ pool: shop, id, sagas: [placeOrder] });
  await runner.migrate();
  return { runner, placeOrder };
}
