/**
 * Dead letters: a message that must not be delivered again (it cannot be decoded, or its handler failed on every
 * one of its deliveries) is published, with headers saying why, to a queue next to its own, `<queue>.dead`,
 * where it waits for an operator. It is acknowledged on its queue only once the broker confirmed the dead
 * letter, so it is never lost on the way.
 *
 * The dead letter is published explicitly rather than through RabbitMQ's `x-dead-letter-exchange` queue
 * argument: a queue's arguments are fixed when it is created, and declaring an existing queue with other
 * arguments fails (PRECONDITION_FAILED), so the argument could not be added to queues that already exist.
 */
import type { ChannelModel, ConsumeMessage, Options } from 'amqplib';
import type { DeadLetterReason } from '../bus/dead-letter-reason.js';
import { withChannel } from './amqp-channel.js';
import { copyOptions, DEAD_LETTER_HEADER_PREFIX } from './redelivery.js';

/**
 * A message moved to a dead-letter queue, as the `deadLettered` event of {@link AmqpConnection} reports it.
 *
 * @example
 * amqp.on('deadLettered', (info: DeadLetterInfo) =>
 *   log.error({ queue: info.queue, reason: info.reason, messageId: info.messageId }, String(info.error)),
 * );
 */
export interface DeadLetterInfo {
  /** The queue the message was consumed from. */
  queue: string;
  /** Where it is now (`<queue>.dead`). */
  deadLetterQueue: string;
  /** Why it will not be delivered again. */
  reason: DeadLetterReason;
  /** Its deliveries, the failed last one included. */
  deliveries: number;
  /** Its `messageId` property, if it had one. */
  messageId: string | undefined;
  /** What its last delivery failed with. */
  error: unknown;
}

/**
 * The dead-letter queue of a queue: `<queue>.dead`.
 *
 * @example
 * deadLetterQueueOf('payments.commands'); // 'payments.commands.dead'
 */
export function deadLetterQueueOf(queue: string): string {
  return `${queue}.dead`;
}

/**
 * Publish options of a dead letter: the message's properties and headers, plus `x-txkit-dead-*` headers saying
 * why (an operator reading the queue has nothing else to go on), persistent and without a time to live.
 */
export function deadLetterOptions(message: ConsumeMessage, info: DeadLetterInfo): Options.Publish {
  const { expiration: _expiration, ...options } = copyOptions(message, {
    [`${DEAD_LETTER_HEADER_PREFIX}reason`]: info.reason,
    [`${DEAD_LETTER_HEADER_PREFIX}error`]: describeError(info.error),
    [`${DEAD_LETTER_HEADER_PREFIX}queue`]: info.queue,
    [`${DEAD_LETTER_HEADER_PREFIX}deliveries`]: info.deliveries,
    [`${DEAD_LETTER_HEADER_PREFIX}at`]: new Date().toISOString(),
  });
  // Kept until an operator deals with it, whether the original was transient or had a time to live.
  return { ...options, persistent: true };
}

/**
 * Declares a dead-letter queue unless it exists. An existing one is used as it is, whatever its arguments: an
 * operator may have made it a quorum queue or given it a length limit, and declaring it again with other
 * arguments would fail. `expiresMs` is for the dead-letter queue of a queue that expires itself (a runner's reply
 * queue), so that it does not outlive it.
 */
export async function ensureDeadLetterQueue(
  model: ChannelModel,
  name: string,
  expiresMs: number | undefined,
): Promise<void> {
  const exists = await withChannel(model, async (channel) => {
    try {
      await channel.checkQueue(name);
      return true;
    } catch (error) {
      if ((error as { code?: unknown }).code === 404) return false;
      throw error;
    }
  });
  if (exists) return;
  await withChannel(model, async (channel) => {
    await channel.assertQueue(name, {
      durable: true,
      ...(expiresMs === undefined ? {} : { expires: expiresMs }),
    });
  });
}

/** The error as one bounded line: a header of more than the broker's frame size would cut the connection. */
function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > 1_000 ? `${text.slice(0, 1_000)}…` : text;
}
