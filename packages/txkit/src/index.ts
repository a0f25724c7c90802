/**
 * txkit: all-or-nothing writes across several PostgreSQL databases, by two-phase commit or by saga.
 *
 * Every public export is listed here by name; nothing else is part of the API.
 * @packageDocumentation
 */
export { boundedPool } from './db/bounded-pool.js';
export { type Migration, runMigrations } from './db/migrations.js';
export { isRetryablePostgresError, PgCode, retryablePostgresCodes } from './db/postgres-errors.js';
export { isConnectionError, type Queryable, withClient, withTransaction } from './db/queryable.js';
export { DEFAULT_SCHEMA } from './db/schema-name.js';
export type { TransactionLimits } from './db/transaction-limits.js';
export {
  ConfigurationError,
  InDoubtError,
  isTxkitError,
  type PostgresErrorFields,
  PrepareFailedError,
  ResponseTimeoutError,
  RetryableError,
  SagaKeyTakenError,
  SagaLeaseLostError,
  SagaLogUnavailableError,
  StepRejectedError,
  StepTimeoutError,
  TransactionAbortedError,
  TransactionTimeoutError,
  TransportError,
  TxkitError,
  type TxkitErrorCode,
  type TxkitErrorContext,
} from './errors.js';
export {
  type FaultHook,
  type FaultPoint,
  type FaultSite,
  isSimulatedCrash,
  type OutboxFaultPoint,
  type SagaFaultPoint,
  SimulatedCrash,
  type TwoPhaseFaultPoint,
} from './faults.js';
export { type EnqueuedMessage, type EnqueueOptions, Outbox, type OutboxOptions } from './outbox/outbox.js';
export { outboxMigrations } from './outbox/outbox-migrations.js';
export { OutboxRelay, type OutboxRelayEvents, type OutboxRelayOptions } from './outbox/outbox-relay.js';
export {
  type BackgroundService,
  type BackgroundServiceOptions,
  startBackgroundService,
} from './recovery/background-service.js';
export {
  type InDoubtRecoveryOptions,
  type RecoveryReport,
  resolveInDoubt,
} from './recovery/resolve-in-doubt.js';
export {
  type BarrierKey,
  type BarrierOp,
  type BarrierResult,
  barrier,
  barrierMigrations,
  cleanupBarrier,
  migrateBarrier,
  withBarrier,
} from './saga/barrier.js';
export {
  defaultCompensationRetry,
  defaultStepRetry,
  type RetryPolicy,
} from './saga/retry-policy.js';
export { SagaBuilder, saga } from './saga/saga-builder.js';
export type { SagaEventBase, SagaRunnerEvents, StepEvent } from './saga/saga-events.js';
export type { SagaHistory, SagaHistoryRecord } from './saga/saga-history.js';
export type { SagaFailure, SagaStatus, SerializedError } from './saga/saga-log.js';
export { sagaMigrations } from './saga/saga-migrations.js';
export type { StuckSaga } from './saga/saga-operator.js';
export type { SagaOutcome } from './saga/saga-outcome.js';
export { type RunOptions, SagaRunner, type SagaRunnerOptions } from './saga/saga-runner.js';
export type {
  AnySagaDefinition,
  CompensationContext,
  GuardedStepOptions,
  LocalCompensationContext,
  LocalStepContext,
  LocalStepOptions,
  SagaDefinition,
  StepContext,
  StepDefinition,
  StepOptions,
  StepOutputs,
} from './saga/saga-types.js';
export {
  AmqpConnection,
  type AmqpConnectionEvents,
  type AmqpConnectionOptions,
  type AmqpTopology,
} from './transport/amqp-connection.js';
export type { AmqpConsumer, ConsumeOptions } from './transport/amqp-consumer.js';
export type { BackoffOptions } from './transport/backoff.js';
export { type DeadLetterInfo, type DeadLetterReason, deadLetterQueueOf } from './transport/dead-letter.js';
export { dropDuplicates, type SeenMessages, seenInMemory } from './transport/dedupe.js';
export {
  InProcessBus,
  type InProcessBusEvents,
  type InProcessBusOptions,
} from './transport/in-process-bus.js';
export { MalformedMessageError } from './transport/malformed-message-error.js';
export {
  type BusMessage,
  type MessageBus,
  type MessageHandler,
  type OutgoingMessage,
  type SubscribeOptions,
  type Subscription,
  topicMatches,
} from './transport/message-bus.js';
export { RabbitMqBus, type RabbitMqBusOptions } from './transport/rabbitmq-bus.js';
export {
  correlationIdOf,
  type RemoteCommand,
  type RemoteReply,
  type RemoteStepKind,
} from './transport/remote-protocol.js';
export { type RemoteStepOptions, remoteStep } from './transport/remote-step.js';
export { RemoteStepClient, type RemoteStepClientOptions } from './transport/remote-step-client.js';
export {
  type ParticipantOutcome,
  type ParticipantStepHandlers,
  SagaParticipant,
  type SagaParticipantEvents,
  type SagaParticipantOptions,
} from './transport/saga-participant.js';
export type { IsolationLevel } from './two-phase/branch-sql.js';
export {
  type RecoverOptions,
  type RecoveryServiceOptions,
  TwoPhaseCoordinator,
} from './two-phase/coordinator.js';
export type {
  TransactionOptions,
  TwoPhaseCoordinatorOptions,
} from './two-phase/coordinator-options.js';
export type { Outcome as TwoPhaseOutcome } from './two-phase/decision-log.js';
export type {
  AbortedEvent,
  CommitPendingEvent,
  CommittedEvent,
  PreparedEvent,
  RecoveredEvent,
  TwoPhaseEvents,
} from './two-phase/events.js';
export { formatGid, type ParsedGid, parseGid } from './two-phase/gid.js';
export type { TwoPhaseTransaction } from './two-phase/transaction-run.js';
