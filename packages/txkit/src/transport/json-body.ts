import { MalformedMessageError } from './malformed-message-error.js';

/** Parses a message body as JSON; `what` names the message in the error (`'remote command'`). */
export function parseJsonBody(content: Buffer, what: string): unknown {
  try {
    return JSON.parse(content.toString('utf8'));
  } catch (error) {
    throw new MalformedMessageError(`the body of a ${what} is not JSON`, { cause: error });
  }
}
