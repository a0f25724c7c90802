import { type Logger, pino } from 'pino';

/** Structured JSON logs (pino) with the service name; secrets are redacted wherever they appear. */
export function createLogger(service: string, level: string): Logger {
  return pino({
    name: service,
    level,
    redact: ['*.authorization', '*.cookie', '*.password', '*.OPERATOR_TOKEN'],
  });
}
