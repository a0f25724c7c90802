import { MalformedMessageError } from './malformed-message-error.js';

/** Parses a message body as JSON; `what` names the message in the error (`'remote command'`). */
export function parseJsonBody(content: Buffer, what: string): unknown {
  try {
    return JSON.parse(content.toString('utf8'));
  } catch (error) {
    throw new MalformedMessageError(`the body of a ${what} is not JSON`, { cause: error });
  }
}

/**
 * Checks that `body` is a JSON object whose fields pass `checks`, naming the first field that does not: the
 * error ends up in the dead-letter queue's headers, where it is all an operator has to go on.
 */
export function checkFields(
  body: unknown,
  what: string,
  checks: Record<string, (value: unknown) => boolean>,
): Record<string, unknown> {
  if (!isObject(body)) throw new MalformedMessageError(`a ${what} is not a JSON object`);
  for (const [field, valid] of Object.entries(checks)) {
    if (!valid(body[field])) throw new MalformedMessageError(`a ${what} has no valid '${field}'`);
  }
  return body;
}

/** A JSON object (not an array, not null). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string. */
export function isString(value: unknown): value is string {
  return typeof value === 'string';
}
