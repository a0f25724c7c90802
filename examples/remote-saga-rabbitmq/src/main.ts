import { startDatabases } from './databases.js';
import { startOrderService } from './order-service.js';
import { startPaymentService } from './payment-service.js';

// npm start: an order service and a payment service (each with its own database) talking over RabbitMQ.
const amqpUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const queue = 'example.payments.commands';
const { pools, close } = await startDatabases(['orders', 'payments']);
try {
  const payments = await startPaymentService({ pool: pools.payments, amqpUrl, queue });
  const orders = await startOrderService({ pool: pools.orders, amqpUrl, paymentsQueue: queue });
  await pools.orders.query(`INSERT INTO stock VALUES ('lamp', 5)`);
  await pools.payments.query(`INSERT INTO wallets VALUES ('grace', 100_00)`);

  for (const quantity of [2, 3]) {
    const outcome = await orders.place({ customer: 'grace', sku: 'lamp', quantity, unitPrice: 30_00 });
    if (outcome.status === 'completed') console.log(`${quantity} lamps: completed`);
    else if (outcome.status === 'compensated')
      console.log(`${quantity} lamps: compensated (${outcome.reason})`);
    else console.log(`${quantity} lamps: failed, compensation gave up`);
  }
  const stock = await pools.orders.query('SELECT available FROM stock');
  const wallet = await pools.payments.query('SELECT balance FROM wallets');
  console.log(`stock ${stock.rows[0].available}, wallet ${wallet.rows[0].balance}`);
  await orders.stop();
  await payments.stop();
} finally {
  await close();
}
