/**
 * The messages between a saga runner's remote steps and a participant service: one command per step attempt
 * on the participant's durable queue, one reply per command on the runner's reply queue.
 */

/**
 * Which side of a step a command asks for.
 *
 * @example
 * if (command.kind === 'compensate') await refund(client, command.output);
 */
export type RemoteStepKind = 'action' | 'compensate';

/**
 * A command to a participant.
 *
 * @example
 * participant.handle<Booking, Payment>('charge', { action: (client, cmd: RemoteCommand<Booking>) => charge(client, cmd.input) });
 */
export interface RemoteCommand<Input = unknown> {
  sagaId: string;
  sagaName: string;
  step: string;
  kind: RemoteStepKind;
  /** The runner's attempt number (for logs; the barrier, not the attempt, decides what runs). */
  attempt: number;
  input: Input;
  /** Outputs of the earlier steps. */
  outputs: Record<string, unknown>;
  /** Compensation only: the action's output as the saga log recorded it (`undefined` if not recorded). */
  output?: unknown;
}

/**
 * A participant's answer.
 *
 * @example
 * const reply: RemoteReply = { status: 'rejected', reason: 'payment-declined', message: 'insufficient funds' };
 */
export type RemoteReply =
  /** Applied, or already applied before (`duplicate`, with the first run's output). */
  | { status: 'ok'; output: unknown; duplicate: boolean }
  /** A business failure (`StepRejectedError`): nothing was applied; the saga compensates. */
  | { status: 'rejected'; reason: string; message: string }
  /** A transient failure (database unavailable, serialization failure): nothing was applied; retry. */
  | { status: 'retryable'; message: string }
  /** An unexpected failure of the handler: nothing was applied. */
  | { status: 'failed'; message: string };

/**
 * The correlation id of a command and its reply: saga, step and kind, the same on every attempt, so a late reply
 * to an earlier attempt also answers the current one (the barrier made them equivalent).
 *
 * @example
 * correlationIdOf({ sagaId: 'f3…', step: 'charge', kind: 'action' }); // 'f3…:charge:action'
 */
export function correlationIdOf(command: Pick<RemoteCommand, 'sagaId' | 'step' | 'kind'>): string {
  return `${command.sagaId}:${command.step}:${command.kind}`;
}

/** JSON body of a command or reply. */
export function encodeMessage(message: RemoteCommand | RemoteReply): Buffer {
  return Buffer.from(JSON.stringify(message));
}

/** Parses a command or reply body. */
export function decodeMessage<T extends RemoteCommand | RemoteReply>(content: Buffer): T {
  return JSON.parse(content.toString('utf8')) as T;
}
