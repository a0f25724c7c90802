/**
 * When a message that keeps failing stops being delivered: the rule every bus shares (the in-process bus and
 * RabbitMQ's consumers), so that a handler sees the same number of deliveries on either.
 */
import { MalformedMessageError } from './malformed-message-error.js';

/**
 * Why a message was dead-lettered: it cannot be decoded (`malformed`, at its first failure), or its handler
 * failed on each of its `maxDeliveries` deliveries (`max-deliveries`).
 *
 * @example
 * amqp.on('deadLettered', ({ reason }) => metrics.deadLetters.inc({ reason }));
 */
export type DeadLetterReason = 'malformed' | 'max-deliveries';

/** Deliveries of a message, the first included, before a failing one is dead-lettered (`maxDeliveries`). */
export const DEFAULT_MAX_DELIVERIES = 10;

/** Whether the delivery number `deliveries`, failed with `error`, is the message's last: why, or undefined. */
export function deadLetterReason(
  error: unknown,
  deliveries: number,
  maxDeliveries: number,
): DeadLetterReason | undefined {
  if (error instanceof MalformedMessageError) return 'malformed';
  return deliveries >= maxDeliveries ? 'max-deliveries' : undefined;
}
