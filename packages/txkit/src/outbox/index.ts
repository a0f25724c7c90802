/**
 * `txkit/outbox`: the transactional outbox, its relay, and the message bus they publish to (an in-process bus
 * here; RabbitMQ's is in `txkit/amqp`).
 *
 * Every public export is listed here by name; nothing else is part of the API.
 * @packageDocumentation
 */
export { dropDuplicates, type SeenMessages, seenInMemory } from '../bus/dedupe.js';
export { InProcessBus, type InProcessBusEvents, type InProcessBusOptions } from '../bus/in-process-bus.js';
export { MalformedMessageError } from '../bus/malformed-message-error.js';
export {
  type BusMessage,
  type MessageBus,
  type MessageHandler,
  type OutgoingMessage,
  type SubscribeOptions,
  type Subscription,
  topicMatches,
} from '../bus/message-bus.js';
export { type EnqueuedMessage, type EnqueueOptions, Outbox, type OutboxOptions } from './outbox.js';
export { OutboxRelay, type OutboxRelayEvents, type OutboxRelayOptions } from './outbox-relay.js';
