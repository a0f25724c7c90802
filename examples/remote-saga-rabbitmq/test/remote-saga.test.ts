import { randomUUID } from 'node:crypto';
import { assertRabbitMqReachable, listUnfinishedSagas, testAmqpUrl } from 'txkit/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Databases, startDatabases } from '../src/databases.js';
import { startOrderService } from '../src/order-service.js';
import { startPaymentService } from '../src/payment-service.js';

// The example against a real PostgreSQL server started for this file and the RabbitMQ of AMQP_URL.
describe('saga with a remote payment step over RabbitMQ', () => {
  const queue = `example.payments.${randomUUID().slice(0, 8)}`;
  let dbs: Databases<'orders' | 'payments'>;
  let payments: Awaited<ReturnType<typeof startPaymentService>>;
  let orders: Awaited<ReturnType<typeof startOrderService>>;
  const state = async () => ({
    stock: Number((await dbs.pools.orders.query('SELECT available FROM stock')).rows[0].available),
    orders: Number((await dbs.pools.orders.query('SELECT count(*) AS n FROM orders')).rows[0].n),
    wallet: Number((await dbs.pools.payments.query('SELECT balance FROM wallets')).rows[0].balance),
    payments: (await dbs.pools.payments.query('SELECT amount, refunded FROM payments ORDER BY id')).rows,
  });

  beforeAll(async () => {
    await assertRabbitMqReachable();
    dbs = await startDatabases(['orders', 'payments']);
    payments = await startPaymentService({ pool: dbs.pools.payments, amqpUrl: testAmqpUrl(), queue });
    orders = await startOrderService({
      pool: dbs.pools.orders,
      amqpUrl: testAmqpUrl(),
      paymentsQueue: queue,
    });
  });
  afterAll(async () => {
    await orders?.stop();
    await payments?.stop();
    await dbs?.close();
  });
  beforeEach(async () => {
    await dbs.pools.orders.query(`TRUNCATE stock, orders; INSERT INTO stock VALUES ('lamp', 5)`);
    await dbs.pools.payments.query(`TRUNCATE wallets, payments; INSERT INTO wallets VALUES ('grace', 100)`);
  });

  it('completes across both services; the remote output reaches the next step', async () => {
    const outcome = await orders.place({ customer: 'grace', sku: 'lamp', quantity: 2, unitPrice: 30 });
    expect(outcome).toMatchObject({
      status: 'completed',
      result: { charge: { paymentId: expect.any(Number) } },
    });
    expect(await state()).toEqual({
      stock: 3,
      orders: 1,
      wallet: 40,
      payments: [{ amount: '60', refunded: false }],
    });
  });

  it('a decline on the payment service compensates the local reservation', async () => {
    const outcome = await orders.place({ customer: 'grace', sku: 'lamp', quantity: 4, unitPrice: 30 });
    expect(outcome).toMatchObject({
      status: 'compensated',
      failedStep: 'charge',
      reason: 'payment-declined',
    });
    expect(await state()).toEqual({ stock: 5, orders: 0, wallet: 100, payments: [] });
    expect(await listUnfinishedSagas(dbs.pools.orders)).toEqual([]);
  });

  it('a command delivered twice charges once (the participant barrier)', async () => {
    const handled: string[] = [];
    const onHandled = (info: { step: string; kind: string; outcome: string }) =>
      handled.push(`${info.step}:${info.kind}:${info.outcome}`);
    payments.participant.on('handled', onHandled);
    const key = randomUUID();
    const first = await orders.place({ customer: 'grace', sku: 'lamp', quantity: 1, unitPrice: 30 }, key);
    const again = await orders.place({ customer: 'grace', sku: 'lamp', quantity: 1, unitPrice: 30 }, key);
    expect(again).toEqual(first);
    // The participant reports a command once its reply is confirmed, which may be after the saga has ended.
    await expect.poll(() => handled).toEqual(['charge:action:applied']);
    payments.participant.off('handled', onHandled);
    expect((await state()).wallet).toBe(70);
  });
});
