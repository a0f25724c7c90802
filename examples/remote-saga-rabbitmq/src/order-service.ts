import type pg from 'pg';
import { SagaRunner, StepRejectedError, saga } from 'txkit';
import { AmqpConnection, RemoteStepClient, remoteStep } from 'txkit/amqp';
import type { ChargeInput, ChargeOutput } from './payment-service.js';

/** An order: a customer buys `quantity` of one product. */
export interface Order {
  customer: string;
  sku: string;
  quantity: number;
  unitPrice: number;
}

/** The saga's input: the order plus the amount to charge (computed here, never taken from the client). */
type OrderInput = Order & ChargeInput;

/**
 * The order service: the saga log and the stock live in its own database. `reserve` and `confirm` are local
 * steps; `charge` runs on the payment service: `remoteStep` sends a durable command (publisher confirms) to its
 * queue and waits for the reply, within the step's timeout. A timed-out attempt is re-sent; the participant's
 * barrier makes the second command harmless.
 */
export async function startOrderService(options: { pool: pg.Pool; amqpUrl: string; paymentsQueue: string }) {
  await options.pool.query(`CREATE TABLE IF NOT EXISTS stock (sku text PRIMARY KEY, available int NOT NULL CHECK (available >= 0));
    CREATE TABLE IF NOT EXISTS orders (id uuid PRIMARY KEY, customer text NOT NULL, payment_id int NOT NULL)`);
  const amqp = new AmqpConnection({ url: options.amqpUrl, name: 'order-service' });
  amqp.on('error', (error) => console.error('order-service amqp:', error));
  const remote = new RemoteStepClient(amqp);

  const placeOrder = saga<OrderInput>('place-order')
    .localStep('reserve', {
      run: async ({ client, input }) => {
        const { rowCount } = await client.query(
          'UPDATE stock SET available = available - $2 WHERE sku = $1 AND available >= $2',
          [input.sku, input.quantity],
        );
        if (rowCount !== 1) throw new StepRejectedError('out-of-stock');
      },
      compensate: async ({ client, input }) => {
        await client.query('UPDATE stock SET available = available + $2 WHERE sku = $1', [
          input.sku,
          input.quantity,
        ]);
      },
    })
    .step('charge', {
      // The command's input is the saga's input; the payment handler reads customer and amount from it.
      ...remoteStep<OrderInput, Record<string, unknown>, ChargeOutput>(remote, {
        queue: options.paymentsQueue,
      }),
      timeoutMs: 5_000,
      retry: { maxAttempts: 3, initialDelayMs: 100 },
    })
    .localStep('confirm', {
      run: async ({ client, input, sagaId, outputs }) => {
        await client.query('INSERT INTO orders (id, customer, payment_id) VALUES ($1, $2, $3)', [
          sagaId,
          input.customer,
          (outputs.charge as ChargeOutput).paymentId,
        ]);
      },
    })
    .build();

  const runner = new SagaRunner({ pool: options.pool, id: 'order-service-1', sagas: [placeOrder] });
  runner.on('error', (error) => console.error('order-service runner:', error));
  await runner.migrate();
  await amqp.connect();
  return {
    runner,
    /** Places an order; the saga's input carries the amount the payment service charges. */
    place: (order: Order, key?: string) =>
      runner.run(placeOrder, { ...order, amount: order.quantity * order.unitPrice }, key ? { key } : {}),
    async stop() {
      await runner.close();
      await remote.stop();
      await amqp.close();
    },
  };
}
