/**
 * The messages between a saga runner's remote steps and a participant service: one command per step attempt
 * on the participant's durable queue, one reply per command on the runner's reply queue.
 */

import { checkFields, isObject, isString, parseJsonBody } from '../bus/json-body.js';

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

const STEP_KINDS: readonly unknown[] = ['action', 'compensate'] satisfies RemoteStepKind[];

/**
 * Parses a command body and checks the fields the participant relies on; throws {@link MalformedMessageError}
 * otherwise (the consumer dead-letters it). `input` and `output` are the application's, not checked here.
 */
export function decodeCommand(content: Buffer): RemoteCommand {
  const body = checkFields(parseJsonBody(content, 'remote command'), 'remote command', {
    sagaId: isString,
    sagaName: isString,
    step: isString,
    kind: (kind) => STEP_KINDS.includes(kind),
    attempt: Number.isInteger,
    outputs: isObject,
  });
  return body as unknown as RemoteCommand;
}

/** The fields each reply status carries besides `status` (`output` is the application's, not checked). */
const REPLY_FIELDS: Record<RemoteReply['status'], Record<string, (value: unknown) => boolean>> = {
  ok: { duplicate: (duplicate) => typeof duplicate === 'boolean' },
  rejected: { reason: isString, message: isString },
  retryable: { message: isString },
  failed: { message: isString },
};

/** Parses a reply body and checks its fields by status; throws {@link MalformedMessageError} otherwise. */
export function decodeReply(content: Buffer): RemoteReply {
  const body = checkFields(parseJsonBody(content, 'remote reply'), 'remote reply', {
    status: (status) => isString(status) && Object.hasOwn(REPLY_FIELDS, status),
  });
  checkFields(body, `remote '${body.status}' reply`, REPLY_FIELDS[body.status as RemoteReply['status']]);
  return body as unknown as RemoteReply;
}
