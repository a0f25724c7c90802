import { type DestinationStream, type Logger, pino } from 'pino';
import { errorFields } from './error-fields.js';

/**
 * Structured JSON logs (pino) with the service name; secrets are redacted wherever they appear, and an `err` is
 * logged as its name, message and code (see {@link errorFields}), never with the objects it holds.
 *
 * @example
 * const logger = createLogger('cinema-api:api-1', 'info');
 */
export function createLogger(service: string, level: string, destination?: DestinationStream): Logger {
  const options = {
    name: service,
    level,
    redact: ['*.authorization', '*.cookie', '*.password', '*.OPERATOR_TOKEN'],
    serializers: { err: (error: unknown) => errorFields(error) },
  };
  // Standard output unless told otherwise (tests read the lines).
  return destination ? pino(options, destination) : pino(options);
}
