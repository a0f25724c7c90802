import type { Channel, ChannelModel } from 'amqplib';

/**
 * Runs `work` on a channel of its own, closed afterwards. A failed declaration closes the channel it ran on
 * (RabbitMQ's channel errors), so declarations that may fail must not share a channel with consumers or
 * publishers.
 */
export async function withChannel<T>(
  model: ChannelModel,
  work: (channel: Channel) => Promise<T>,
): Promise<T> {
  const channel = await model.createChannel();
  channel.on('error', () => {});
  try {
    return await work(channel);
  } finally {
    await channel.close().catch(() => {});
  }
}
