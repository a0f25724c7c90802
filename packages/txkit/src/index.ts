/**
 * txkit: all-or-nothing writes across several PostgreSQL databases, by two-phase commit or by saga.
 *
 * The root entry holds the two protocols, the barrier, the errors and the PostgreSQL helpers a step needs. The
 * rest is in its own entry: `txkit/outbox` (outbox, relay and the message bus), `txkit/amqp` (RabbitMQ, remote
 * saga steps and participants), `txkit/testing` (test harness and fault injection).
 *
 * Every public export is listed here by name; nothing else is part of the API.
 * @packageDocumentation
 */
export {
  type BackgroundService,
  type BackgroundServiceOptions,
  startBackgroundService,
} from './background-service.js';
export { runMigrations } from './db/migrations.js';
export { isRetryablePostgresError, PgCode } from './db/postgres-errors.js';
export { type Queryable, withTransaction } from './db/queryable.js';
export type { TransactionLimits } from './db/transaction-limits.js';
export {
  InDoubtError,
  isTxkitError,
  type PostgresErrorFields,
  PrepareFailedError,
  RetryableError,
  StepRejectedError,
  TxkitError,
  type TxkitErrorCode,
  type TxkitErrorContext,
} from './errors.js';
export {
  type BarrierKey,
  type BarrierOp,
  type BarrierResult,
  barrier,
  cleanupBarrier,
  migrateBarrier,
  withBarrier,
} from './saga/barrier.js';
export type { RetryPolicy } from './saga/retry-policy.js';
export { SagaBuilder, saga } from './saga/saga-builder.js';
export type { SagaEventBase, SagaRunnerEvents, StepEvent } from './saga/saga-events.js';
export type { SagaHistory, SagaHistoryRecord } from './saga/saga-history.js';
export type { SagaFailure, SagaStatus, SerializedError } from './saga/saga-log.js';
export type { StuckSaga } from './saga/saga-operator.js';
export type { SagaOutcome } from './saga/saga-outcome.js';
export { type RunOptions, SagaRunner, type SagaRunnerOptions } from './saga/saga-runner.js';
export type {
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
  type RecoverOptions,
  type RecoveryServiceOptions,
  TwoPhaseCoordinator,
} from './two-phase/coordinator.js';
export type { TransactionOptions, TwoPhaseCoordinatorOptions } from './two-phase/coordinator-options.js';
export type { TwoPhaseEvents } from './two-phase/events.js';
export type { RecoveryReport } from './two-phase/resolve-in-doubt.js';
export type { TwoPhaseTransaction } from './two-phase/transaction-run.js';
