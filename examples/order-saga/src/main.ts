import { startDatabases } from './databases.js';
import { createTables, startRunner } from './order-saga.js';

// npm start: three orders — one completes, one is declined at payment, one cannot ship after being charged.
const { pools, close } = await startDatabases(['shop', 'payments']);
try {
  await createTables(pools.shop, pools.payments);
  await pools.shop.query(`INSERT INTO stock VALUES ('mug', 10)`);
  await pools.payments.query(`INSERT INTO wallets VALUES ('ada', 50_00)`);
  const { runner, placeOrder } = await startRunner(pools.shop, pools.payments);
  runner.on('compensation:completed', (e) => console.log(`  undone: ${e.step}`));
  runner.on('error', (error) => console.error('saga runner:', error));
  // Picks up sagas whose runner died (lease expired) and drives them to the end.
  const recovery = runner.startRecovery({ intervalMs: 1_000 });

  const orders = [
    { key: 'order-1', order: { customer: 'ada', sku: 'mug', quantity: 2, unitPrice: 12_00, country: 'FR' } },
    { key: 'order-2', order: { customer: 'ada', sku: 'mug', quantity: 3, unitPrice: 12_00, country: 'FR' } },
    { key: 'order-3', order: { customer: 'ada', sku: 'mug', quantity: 1, unitPrice: 12_00, country: 'AQ' } },
  ];
  for (const { key, order } of orders) {
    // The key makes a retried request (same key) return the first run's outcome instead of ordering twice.
    const outcome = await runner.run(placeOrder, order, { key });
    if (outcome.status === 'completed')
      console.log(`${key}: completed, charged ${outcome.result.charge.charged}`);
    else if (outcome.status === 'compensated')
      console.log(`${key}: compensated after ${outcome.failedStep} (${outcome.reason})`);
    else console.log(`${key}: FAILED — a compensation gave up; see \`txkit status\``);
  }
  const stock = await pools.shop.query('SELECT available FROM stock');
  const wallet = await pools.payments.query('SELECT balance FROM wallets');
  console.log(`stock ${stock.rows[0].available}, wallet ${wallet.rows[0].balance}`);
  await recovery.stop();
  await runner.close();
} finally {
  await close();
}
