import { AmqpConnection, RabbitMqBus } from 'txkit/amqp';
import { InProcessBus, type MessageBus } from 'txkit/outbox';

/** The demo's exchange on RabbitMQ. */
export const EXCHANGE = 'cinema.events';

/**
 * RabbitMQ when a URL is given, otherwise the in-process bus (everything in one process, no broker needed).
 *
 * @example
 * const { bus, close } = await openBus(process.env.AMQP_URL);
 */
export async function openBus(
  amqpUrl: string | undefined,
  name: string,
): Promise<{ bus: MessageBus; kind: 'rabbitmq' | 'in-process'; close: () => Promise<void> }> {
  if (!amqpUrl) return { bus: new InProcessBus(), kind: 'in-process', close: async () => {} };
  const connection = new AmqpConnection({ url: amqpUrl, name });
  await connection.connect();
  return {
    bus: new RabbitMqBus(connection, { exchange: EXCHANGE }),
    kind: 'rabbitmq',
    close: () => connection.close(),
  };
}
