import type pg from 'pg';
import { StepRejectedError } from 'txkit';
import { AmqpConnection, SagaParticipant } from 'txkit/amqp';

/** The command the order service sends for the `charge` step. */
export interface ChargeInput {
  customer: string;
  amount: number;
}

/** What the payment service answers: the payment's id (becomes the step's output on the order side). */
export interface ChargeOutput {
  paymentId: number;
}

/**
 * The payment service: its own database and a durable command queue. txkit's `SagaParticipant` runs each
 * handler inside a local transaction together with the barrier, so a re-delivered or re-sent command is
 * answered with the first run's output instead of charging twice, and a refund of a charge that never happened
 * does nothing.
 */
export async function startPaymentService(options: { pool: pg.Pool; amqpUrl: string; queue: string }) {
  await options.pool.query(`CREATE TABLE IF NOT EXISTS wallets (customer text PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0));
    CREATE TABLE IF NOT EXISTS payments (id serial PRIMARY KEY, customer text NOT NULL, amount bigint NOT NULL, refunded boolean NOT NULL DEFAULT false)`);
  const amqp = new AmqpConnection({ url: options.amqpUrl, name: 'payment-service' });
  amqp.on('error', (error) => console.error('payment-service amqp:', error));
  const participant = new SagaParticipant(amqp, { pool: options.pool, queue: options.queue }).handle<
    ChargeInput,
    ChargeOutput
  >('charge', {
    action: async (client, command) => {
      const { customer, amount } = command.input;
      const debit = await client.query(
        'UPDATE wallets SET balance = balance - $2 WHERE customer = $1 AND balance >= $2',
        [customer, amount],
      );
      // Arrives at the order service as a StepRejectedError with this reason: compensation starts there.
      if (debit.rowCount !== 1)
        throw new StepRejectedError('payment-declined', `${customer} cannot pay ${amount}`);
      const { rows } = await client.query<{ id: number }>(
        'INSERT INTO payments (customer, amount) VALUES ($1, $2) RETURNING id',
        [customer, amount],
      );
      return { paymentId: rows[0]!.id };
    },
    compensate: async (client, command) => {
      if (!command.output) return;
      await client.query('UPDATE payments SET refunded = true WHERE id = $1', [command.output.paymentId]);
      await client.query('UPDATE wallets SET balance = balance + $2 WHERE customer = $1', [
        command.input.customer,
        command.input.amount,
      ]);
    },
  });
  participant.on('error', (error) => console.error('payment-service:', error));
  await participant.migrate(); // barrier + step results tables in the payment database
  await amqp.connect();
  await participant.start();
  return {
    participant,
    async stop() {
      await participant.stop();
      await amqp.close();
    },
  };
}
