import type { ConsumeMessage } from 'amqplib';
import { EventEmitter } from 'eventemitter3';
import type pg from 'pg';
import { runMigrations } from '../db/migrations.js';
import { isRetryablePostgresError } from '../db/postgres-errors.js';
import { isConnectionError } from '../db/queryable.js';
import { DEFAULT_SCHEMA, quoteSchema } from '../db/schema-name.js';
import { ConfigurationError, RetryableError, StepRejectedError } from '../errors.js';
import type { AmqpConnection } from '../rabbitmq/amqp-connection.js';
import type { AmqpConsumer } from '../rabbitmq/amqp-consumer.js';
import { type BarrierResult, cleanupBarrier, migrateBarrier, withBarrier } from '../saga/barrier.js';
import { withTraceContextOf } from '../tracing/message-context.js';
import { startSpan } from '../tracing/span.js';
import { participantMigrations } from './participant-migrations.js';
import { deleteOldResults, insertResult, selectResult } from './participant-sql.js';
import { decodeCommand, encodeMessage, type RemoteCommand, type RemoteReply } from './remote-protocol.js';

/**
 * The handlers of one step on a participant. Both run inside the participant's local transaction.
 *
 * @example
 * participant.handle<Booking, { ticketId: number }>('issue-ticket', {
 *   action: async (client, cmd) => issue(client, cmd.sagaId, cmd.input),
 *   compensate: async (client, cmd) => voidTicket(client, cmd.output?.ticketId),
 * });
 */
export interface ParticipantStepHandlers<Input = unknown, Output = unknown> {
  /** The business write of the action; its return value is the step's output (JSON). */
  action: (client: pg.PoolClient, command: RemoteCommand<Input>) => Promise<Output> | Output;
  /** Undoes the action; `command.output` is the action's output. */
  compensate?: (
    client: pg.PoolClient,
    command: RemoteCommand<Input> & { output: Output | undefined },
  ) => Promise<void> | void;
}

/**
 * Options of {@link SagaParticipant}.
 *
 * @example
 * new SagaParticipant(amqp, { pool: ticketsPool, queue: 'tickets.commands', prefetch: 16 });
 */
export interface SagaParticipantOptions {
  /** The participant's own database: business tables, barrier and step results. */
  pool: pg.Pool;
  /** Durable queue the commands arrive on. */
  queue: string;
  /** Commands handled at once (default 8; each holds a database connection while it runs). */
  prefetch?: number;
  /** Schema of the barrier and results tables (default `txkit`). */
  schema?: string;
}

/**
 * What became of one command.
 *
 * @example
 * participant.on('handled', ({ outcome }) => metrics.commands.inc({ outcome }));
 */
export type ParticipantOutcome =
  | 'applied'
  | 'duplicate'
  | 'after-compensation'
  | 'null-compensation'
  | 'rejected'
  | 'retryable'
  | 'failed'
  | 'unknown-step';

/**
 * Events of {@link SagaParticipant}.
 *
 * @example
 * participant.on('error', (error) => log.error(error));
 */
export interface SagaParticipantEvents {
  /** A command was handled and answered. */
  handled: (info: {
    sagaId: string;
    step: string;
    kind: string;
    attempt: number;
    outcome: ParticipantOutcome;
  }) => void;
  /**
   * An unexpected handler failure (answered as `failed`), or a malformed command (moved to the queue's
   * dead-letter queue, see the connection's `deadLettered` event).
   */
  error: (error: unknown) => void;
}

/**
 * The remote side of saga steps: consumes a durable command queue with manual acks and a bounded prefetch,
 * runs the registered handler with the barrier in one local transaction, and replies to the runner. A command is
 * acknowledged only after its reply is confirmed; if the process or the connection dies before, the broker
 * redelivers it and the barrier makes the second run a no-op that replies the first run's output. A message
 * that is not a command (not JSON, or without the protocol's fields) goes to the queue's dead-letter queue,
 * `<queue>.dead`.
 *
 * @example
 * const payments = new SagaParticipant(amqp, { pool: paymentsPool, queue: 'payments.commands' })
 *   .handle<Booking, Payment>('charge', {
 *     action: async (client, cmd) => charge(client, cmd.input),
 *     compensate: async (client, cmd) => refund(client, cmd.output),
 *   });
 * await payments.migrate();
 * await payments.start();
 */
export class SagaParticipant extends EventEmitter<SagaParticipantEvents> {
  readonly queue: string;
  readonly #connection: AmqpConnection;
  readonly #options: SagaParticipantOptions;
  readonly #schemaName: string;
  readonly #schema: string;
  readonly #handlers = new Map<string, ParticipantStepHandlers>();
  #consumer: AmqpConsumer | undefined;

  constructor(connection: AmqpConnection, options: SagaParticipantOptions) {
    super();
    this.#connection = connection;
    this.#options = options;
    this.queue = options.queue;
    this.#schemaName = options.schema ?? DEFAULT_SCHEMA;
    this.#schema = quoteSchema(this.#schemaName);
  }

  /** Registers the handlers of a step (by the step's name in the saga). */
  handle<Input = unknown, Output = unknown>(
    step: string,
    handlers: ParticipantStepHandlers<Input, Output>,
  ): this {
    if (this.#handlers.has(step))
      throw new ConfigurationError(`step '${step}' already has handlers on '${this.queue}'`);
    this.#handlers.set(step, handlers as unknown as ParticipantStepHandlers);
    return this;
  }

  /** Creates the barrier and step-results tables in the participant's database. */
  async migrate(): Promise<void> {
    await migrateBarrier(this.#options.pool, { schema: this.#schemaName });
    await runMigrations(this.#options.pool, { schema: this.#schemaName, ...participantMigrations });
  }

  /** Starts consuming commands. */
  async start(): Promise<void> {
    if (this.#consumer) return;
    await this.#connection.addTopology(async (channel) => {
      await channel.assertQueue(this.queue, { durable: true });
    });
    this.#consumer = await this.#connection.consume(this.queue, (message) => this.#onCommand(message), {
      prefetch: this.#options.prefetch ?? 8,
    });
  }

  /** Stops consuming and waits for the commands in progress (their replies and acks still go out). */
  async stop(): Promise<void> {
    const consumer = this.#consumer;
    this.#consumer = undefined;
    await consumer?.cancel();
  }

  /**
   * Deletes barrier rows and step results older than `olderThanMs`. Keep them longer than a command can be
   * redelivered or retried: a deleted barrier row no longer stops a late duplicate.
   */
  async cleanupOnce(olderThanMs: number): Promise<{ barrier: number; results: number }> {
    const barrierRows = await cleanupBarrier(this.#options.pool, { olderThanMs, schema: this.#schemaName });
    let results = 0;
    for (;;) {
      const { rowCount } = await this.#options.pool.query(deleteOldResults(this.#schema, olderThanMs, 1_000));
      results += rowCount ?? 0;
      if ((rowCount ?? 0) < 1_000) return { barrier: barrierRows, results };
    }
  }

  async #onCommand(message: ConsumeMessage): Promise<void> {
    let command: RemoteCommand;
    try {
      command = decodeCommand(message.content);
    } catch (error) {
      // Rethrown as it is (a MalformedMessageError): the consumer moves the command to the dead-letter queue at
      // once, as delivering it again cannot help.
      this.emit('error', error);
      throw error;
    }
    // The command's span continues the saga's trace (its traceparent header); the handler's spans are its children.
    const [reply, outcome] = await withTraceContextOf(message.properties.headers, () =>
      startSpan('txkit.saga.participant', {
        'messaging.system': 'rabbitmq',
        'messaging.operation.type': 'process',
        'messaging.destination.name': this.queue,
        'txkit.saga.id': command.sagaId,
        'txkit.step': command.step,
        'txkit.step.kind': command.kind,
        'txkit.step.attempt': command.attempt,
      }).around(async (span) => {
        const applied = await this.#apply(command);
        span.set({ 'txkit.outcome': applied[1] });
        return applied;
      }),
    );
    const { replyTo, correlationId } = message.properties;
    if (replyTo) {
      // Confirmed before the command is acked: if this fails, the command is redelivered and answered again.
      await this.#connection.publish('', replyTo, encodeMessage(reply), {
        correlationId,
        contentType: 'application/json',
      });
    }
    this.emit('handled', {
      sagaId: command.sagaId,
      step: command.step,
      kind: command.kind,
      attempt: command.attempt,
      outcome,
    });
  }

  async #apply(command: RemoteCommand): Promise<[RemoteReply, ParticipantOutcome]> {
    const handlers = this.#handlers.get(command.step);
    if (!handlers) {
      return [
        { status: 'failed', message: `no handler for step '${command.step}' on '${this.queue}'` },
        'unknown-step',
      ];
    }
    try {
      return await withBarrier(
        this.#options.pool,
        { sagaId: command.sagaId, step: command.step },
        command.kind,
        (client, decision) => this.#applyIn(client, command, handlers, decision),
        { schema: this.#schemaName },
      );
    } catch (error) {
      // The transaction rolled back: neither the write nor the barrier row exists, so a retry runs afresh.
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof StepRejectedError) {
        return [{ status: 'rejected', reason: error.reason, message }, 'rejected'];
      }
      if (error instanceof RetryableError || isRetryablePostgresError(error) || isConnectionError(error)) {
        return [{ status: 'retryable', message }, 'retryable'];
      }
      this.emit('error', error);
      return [{ status: 'failed', message }, 'failed'];
    }
  }

  async #applyIn(
    client: pg.PoolClient,
    command: RemoteCommand,
    handlers: ParticipantStepHandlers,
    decision: BarrierResult,
  ): Promise<[RemoteReply, ParticipantOutcome]> {
    if (command.kind === 'action') {
      if (decision.apply) {
        const output = (await handlers.action(client, command)) ?? null;
        // Stored with the write: a re-delivered command answers with this output instead of running again.
        await client.query(insertResult(this.#schema, command.sagaId, command.step, output));
        return [{ status: 'ok', output, duplicate: false }, 'applied'];
      }
      if (decision.why === 'duplicate') {
        const { rows } = await client.query<{ output: unknown }>(
          selectResult(this.#schema, command.sagaId, command.step),
        );
        return [{ status: 'ok', output: rows[0]?.output ?? null, duplicate: true }, 'duplicate'];
      }
      // The compensation ran first (the runner gave up on this action): the action must never take effect.
      return [
        { status: 'rejected', reason: 'after-compensation', message: 'the step was already compensated' },
        'after-compensation',
      ];
    }
    if (decision.apply) {
      let output = command.output;
      if (output === undefined) {
        const { rows } = await client.query<{ output: unknown }>(
          selectResult(this.#schema, command.sagaId, command.step),
        );
        output = rows[0]?.output;
      }
      await handlers.compensate?.(client, { ...command, output });
      return [{ status: 'ok', output: null, duplicate: false }, 'applied'];
    }
    return [
      { status: 'ok', output: null, duplicate: decision.why === 'duplicate' },
      decision.why === 'duplicate' ? 'duplicate' : 'null-compensation',
    ];
  }
}
