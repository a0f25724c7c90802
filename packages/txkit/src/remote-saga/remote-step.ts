import { RetryableError, StepRejectedError, TransportError } from '../errors.js';
import type { CompensationContext, StepContext, StepOptions, StepOutputs } from '../saga/saga-types.js';
import type { RemoteCommand, RemoteReply, RemoteStepKind } from './remote-protocol.js';
import type { RemoteStepClient } from './remote-step-client.js';

/**
 * Options of {@link remoteStep}.
 *
 * @example
 * remoteStep<Booking>(remote, { queue: 'tickets.commands', compensate: false });
 */
export interface RemoteStepOptions {
  /** The participant's durable command queue. */
  queue: string;
  /** Whether the step has a compensation on the participant (default true). */
  compensate?: boolean;
}

/**
 * A saga step that runs on a {@link SagaParticipant} over RabbitMQ: returns the `run` and `compensate` pair for
 * `SagaBuilder.step`. Each attempt sends a command and waits for its reply or the step's timeout (`ctx.signal`);
 * after a timeout the runner retries the step, and the participant's barrier turns the second command into a
 * no-op that answers with the first run's output. A rejection on the participant arrives as a
 * {@link StepRejectedError} with its reason; a transient failure as a {@link RetryableError}.
 *
 * @example
 * const remote = new RemoteStepClient(amqp);
 * const book = saga<Booking>('book')
 *   .step('charge', { ...remoteStep<Booking, {}, Payment>(remote, { queue: 'payments.commands' }), timeoutMs: 2_000 })
 *   .build();
 */
export function remoteStep<Input, Outputs extends StepOutputs = StepOutputs, Output = unknown>(
  client: RemoteStepClient,
  options: RemoteStepOptions,
): Pick<StepOptions<Input, Outputs, Output>, 'run' | 'compensate'> {
  const send = async (ctx: StepContext<Input, Outputs>, kind: RemoteStepKind, output?: unknown) => {
    const command: RemoteCommand = {
      sagaId: ctx.sagaId,
      sagaName: ctx.sagaName,
      step: ctx.step,
      kind,
      attempt: ctx.attempt,
      input: ctx.input,
      outputs: { ...ctx.outputs },
      ...(kind === 'compensate' ? { output } : {}),
    };
    return outputOf(await client.call(options.queue, command, ctx.signal), ctx, options.queue);
  };
  return {
    run: async (ctx) => (await send(ctx, 'action')) as Output,
    ...(options.compensate === false
      ? {}
      : {
          compensate: async (ctx: CompensationContext<Input, Outputs, Output>) => {
            await send(ctx, 'compensate', ctx.output);
          },
        }),
  };
}

function outputOf(reply: RemoteReply, ctx: StepContext<unknown, StepOutputs>, queue: string): unknown {
  const context = { sagaId: ctx.sagaId, saga: ctx.sagaName, step: ctx.step, queue };
  switch (reply.status) {
    case 'ok':
      return reply.output;
    case 'rejected':
      throw new StepRejectedError(reply.reason, reply.message, { context });
    case 'retryable':
      throw new RetryableError(`participant on '${queue}': ${reply.message}`, { context });
    default:
      // Not retried: an unexpected handler failure is compensated like a rejection (the runner's rule).
      throw new TransportError(`participant on '${queue}' failed: ${reply.message}`, { context });
  }
}
