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
    await closeQuietly(channel);
  }
}

/**
 * Closes an amqplib channel or connection and resolves once it is closed, whichever way that happens; errors of
 * the close are ignored. amqplib's `close()` calls back only on the broker's CloseOk: when the connection is
 * lost while the close waits for it (a cut, a broker restart), the close never settles, and whoever awaited it
 * hung for good — a declaration, and with it the connection's reconnect loop; a consumer's cancel; `close()`.
 * Both emit 'close' however they end.
 */
export function closeQuietly(closable: Channel | ChannelModel): Promise<void> {
  return new Promise<void>((resolve) => {
    closable.once('close', () => resolve());
    closable.close().then(
      () => resolve(),
      () => resolve(),
    );
  });
}
