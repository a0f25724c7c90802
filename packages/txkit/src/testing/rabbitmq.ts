import { connect } from 'node:net';

/**
 * The broker the tests use: `AMQP_URL`, or a local RabbitMQ with the default account.
 *
 * @example
 * const amqp = new AmqpConnection({ url: testAmqpUrl(), name: 'relay-test' });
 */
export function testAmqpUrl(): string {
  return process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
}

/**
 * Fails with one clear line when RabbitMQ cannot be reached, so a test that needs it never skips silently.
 *
 * @example
 * beforeAll(() => assertRabbitMqReachable());
 */
export async function assertRabbitMqReachable(url = testAmqpUrl(), timeoutMs = 3_000): Promise<void> {
  const { hostname, port } = new URL(url);
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port || 5672) });
    const fail = (reason: string) => {
      socket.destroy();
      reject(
        new Error(
          `RabbitMQ is not reachable at ${hostname}:${port || 5672} (${reason}): start it (rabbitmq-server -detached) or set AMQP_URL`,
        ),
      );
    };
    socket.setTimeout(timeoutMs, () => fail('timeout'));
    socket.once('error', (error) => fail(error.message));
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
  });
}
