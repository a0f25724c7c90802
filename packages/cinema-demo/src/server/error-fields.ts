/** What a log line says about an error: enough to act on, never the objects it carries (a pg client, a socket). */
export interface ErrorFields {
  name?: string;
  message: string;
  /** PostgreSQL's SQLSTATE, a Node system error's code, or txkit's stable code. */
  code?: string;
  /** The cause, described the same way (one level deep is what an operator reads). */
  cause?: ErrorFields;
}

/**
 * An error as log fields: name, message, code and the cause's — pino's default serializer copies every
 * enumerable property, which for a pg error can be a whole client with its pool and socket.
 *
 * @example
 * logger.warn({ err: errorFields(error) }, 'outbox relay pass failed');
 */
export function errorFields(error: unknown, depth = 0): ErrorFields {
  if (!(error instanceof Error)) return { message: String(error) };
  const code = (error as { code?: unknown }).code;
  const fields: ErrorFields = { name: error.name, message: error.message };
  if (typeof code === 'string' || typeof code === 'number') fields.code = String(code);
  if (error.cause !== undefined && depth < 2) fields.cause = errorFields(error.cause, depth + 1);
  return fields;
}
