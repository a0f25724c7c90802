import { SagaRunner } from 'txkit';
import { FaultPlan, listUnfinishedSagas } from 'txkit/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Databases, startDatabases } from '../src/databases.js';
import { createTables, type Order, orderSaga, startRunner } from '../src/order-saga.js';

// The example against a real PostgreSQL server started for this file.
describe('order saga', () => {
  let dbs: Databases<'shop' | 'payments'>;
  let app: Awaited<ReturnType<typeof startRunner>>;
  const order = (over: Partial<Order> = {}): Order => ({
    customer: 'ada',
    sku: 'mug',
    quantity: 2,
    unitPrice: 10,
    country: 'FR',
    ...over,
  });
  const state = async () => ({
    stock: Number((await dbs.pools.shop.query('SELECT available FROM stock')).rows[0].available),
    wallet: Number((await dbs.pools.payments.query('SELECT balance FROM wallets')).rows[0].balance),
    shipments: Number((await dbs.pools.shop.query('SELECT count(*) AS n FROM shipments')).rows[0].n),
  });

  beforeAll(async () => {
    dbs = await startDatabases(['shop', 'payments']);
    await createTables(dbs.pools.shop, dbs.pools.payments);
    app = await startRunner(dbs.pools.shop, dbs.pools.payments);
  });
  afterAll(async () => {
    await app?.runner.close();
    await dbs?.close();
  });
  beforeEach(async () => {
    await dbs.pools.shop.query(`TRUNCATE stock, shipments; INSERT INTO stock VALUES ('mug', 10)`);
    await dbs.pools.payments.query(`TRUNCATE wallets; INSERT INTO wallets VALUES ('ada', 100)`);
  });

  it('completes: stock reserved, card charged, shipment created', async () => {
    const outcome = await app.runner.run(app.placeOrder, order());
    expect(outcome).toMatchObject({ status: 'completed', result: { charge: { charged: 20 } } });
    expect(await state()).toEqual({ stock: 8, wallet: 80, shipments: 1 });
  });

  it('a declined payment gives the stock back', async () => {
    const outcome = await app.runner.run(app.placeOrder, order({ quantity: 9, unitPrice: 50 }));
    expect(outcome).toMatchObject({
      status: 'compensated',
      failedStep: 'charge',
      reason: 'payment-declined',
    });
    expect(await state()).toEqual({ stock: 10, wallet: 100, shipments: 0 });
  });

  it('a failure after the charge refunds it and gives the stock back (reverse order)', async () => {
    const undone: string[] = [];
    const onUndone = (e: { step: string }) => undone.push(e.step);
    app.runner.on('compensation:completed', onUndone);
    const outcome = await app.runner.run(app.placeOrder, order({ country: 'AQ' }));
    app.runner.off('compensation:completed', onUndone);
    expect(outcome).toMatchObject({ status: 'compensated', failedStep: 'ship', reason: 'cannot-ship' });
    expect(undone).toEqual(['charge', 'reserve-stock']);
    expect(await state()).toEqual({ stock: 10, wallet: 100, shipments: 0 });
  });

  it('the same idempotency key orders once', async () => {
    const first = await app.runner.run(app.placeOrder, order(), { key: 'k-1' });
    const again = await app.runner.run(app.placeOrder, order(), { key: 'k-1' });
    expect(again).toEqual(first);
    expect(await state()).toEqual({ stock: 8, wallet: 80, shipments: 1 });
  });

  it('a runner that dies after charging: another runner recovers the saga, charged once', async () => {
    const placeOrder = orderSaga(dbs.pools.payments);
    const plan = new FaultPlan([{ point: 'saga:after-step-effect', step: 'charge', kind: 'crash' }]);
    const dying = new SagaRunner({
      pool: dbs.pools.shop,
      id: 'shop-dies',
      sagas: [placeOrder],
      leaseMs: 300,
      faults: plan.hook,
    });
    await expect(dying.run(placeOrder, order())).rejects.toThrow();
    expect((await state()).wallet).toBe(80); // charged, and the log does not know yet

    const survivor = new SagaRunner({ pool: dbs.pools.shop, id: 'shop-2', sagas: [placeOrder] });
    // Recovery takes the saga over as soon as the dead runner's lease has run out.
    await expect.poll(async () => (await survivor.recover()).resumed, { timeout: 10_000 }).toBe(1);
    // The charge step ran again on recovery; the barrier made it a no-op, so the money was taken once.
    expect(await state()).toEqual({ stock: 8, wallet: 80, shipments: 1 });
    expect(await listUnfinishedSagas(dbs.pools.shop)).toEqual([]);
    await survivor.close();
    await dying.close().catch(() => {});
  });
});
