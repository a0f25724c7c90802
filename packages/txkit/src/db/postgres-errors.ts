import { isConnectionError } from './queryable.js';
import { codeIn, sessionLostCodes } from './sqlstate.js';

/**
 * PostgreSQL SQLSTATE codes txkit reacts to.
 *
 * @example
 * if ((error as { code?: string }).code === PgCode.uniqueViolation) throw new StepRejectedError('seat-taken');
 */
export const PgCode = {
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  lockNotAvailable: '55P03',
  queryCanceled: '57014',
  adminShutdown: '57P01',
  uniqueViolation: '23505',
  undefinedObject: '42704',
  objectInUse: '55006',
} as const;

/**
 * Retry policy as data: SQLSTATE codes (or classes, ending in `*`) whose failure is transient, so the same
 * work may succeed when run again. Connection loss is retryable too (see {@link isRetryablePostgresError}).
 *
 * @example
 * console.log(retryablePostgresCodes.includes('40001')); // true: serialization failure
 */
export const retryablePostgresCodes: readonly string[] = [
  PgCode.serializationFailure,
  PgCode.deadlockDetected,
  PgCode.lockNotAvailable,
  '53300', // too_many_connections
  // The session is gone (connection exceptions, shutdown, crash, idle session ended): the work may run again.
  ...sessionLostCodes,
];

/**
 * pg-pool's own error when no connection could be had within its `connectionTimeoutMillis` (every client busy,
 * or the server slow to accept): nothing ran, and a later attempt may find one free.
 */
function isPoolConnectTimeout(error: unknown): boolean {
  return /^timeout exceeded when trying to connect$/i.test(
    (error as { message?: string } | undefined)?.message ?? '',
  );
}

/**
 * Whether a database error is transient (serialization failure, deadlock, lock timeout, server shutting
 * down, connection lost, no pooled connection free in time).
 *
 * @example
 * if (isRetryablePostgresError(error)) await sleep(backoff);
 */
export function isRetryablePostgresError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && codeIn(code, retryablePostgresCodes)) return true;
  return isConnectionError(error) || isPoolConnectTimeout(error);
}
