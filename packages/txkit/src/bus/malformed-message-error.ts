import { TransportError } from '../errors.js';

/**
 * A message that can never be processed: its body is not JSON, or not the shape its protocol defines. Delivering
 * it again cannot help, so the consumer moves it to its queue's dead-letter queue at once instead of retrying it
 * (handlers that fail for other reasons are retried up to `maxDeliveries` times). Handlers throw it too,
 * for a payload they can tell they will never accept.
 *
 * @example
 * await bus.subscribe({ queue: 'read-model', topics: ['seat.*'] }, async (m) => {
 *   if (!isSeatEvent(m.payload)) throw new MalformedMessageError(`not a seat event: ${m.messageId}`);
 *   apply(m.payload);
 * });
 */
export class MalformedMessageError extends TransportError {}
