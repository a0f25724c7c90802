/**
 * `txkit/amqp`: RabbitMQ (needs the optional peer `amqplib`) — a connection that survives broker restarts, a
 * {@link outbox!MessageBus} over it (src/rabbitmq/), and saga steps run by a remote participant service
 * (src/remote-saga/).
 *
 * Every public export is listed here by name; nothing else is part of the API.
 * @packageDocumentation
 */
export type { BackoffOptions } from '../bus/backoff.js';
export type { DeadLetterReason } from '../bus/dead-letter-reason.js';
export { ResponseTimeoutError, TransportError } from '../errors.js';
export {
  AmqpConnection,
  type AmqpConnectionEvents,
  type AmqpConnectionOptions,
  type AmqpTopology,
} from '../rabbitmq/amqp-connection.js';
export type { AmqpConsumer, ConsumeOptions } from '../rabbitmq/amqp-consumer.js';
export { type DeadLetterInfo, deadLetterQueueOf } from '../rabbitmq/dead-letter.js';
export { RabbitMqBus, type RabbitMqBusOptions } from '../rabbitmq/rabbitmq-bus.js';
export {
  correlationIdOf,
  type RemoteCommand,
  type RemoteReply,
  type RemoteStepKind,
} from '../remote-saga/remote-protocol.js';
export { type RemoteStepOptions, remoteStep } from '../remote-saga/remote-step.js';
export { RemoteStepClient, type RemoteStepClientOptions } from '../remote-saga/remote-step-client.js';
export {
  type ParticipantOutcome,
  type ParticipantStepHandlers,
  SagaParticipant,
  type SagaParticipantEvents,
  type SagaParticipantOptions,
} from '../remote-saga/saga-participant.js';
