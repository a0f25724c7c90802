import type { ErrorRequestHandler } from 'express';
import type { Logger } from 'pino';
import { ZodError } from 'zod';
import { DomainError, type DomainErrorCode } from '../domain-error.js';

/**
 * An error with an HTTP status and a stable code, rendered as `{ error: { code, message, details? } }`.
 *
 * @example
 * throw new HttpError(404, 'screening-not-found', `no screening ${id}`);
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Turns a zod validation failure into a 400 that names each bad field. */
export function validationError(error: ZodError, where: string): HttpError {
  const details = error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  const summary = details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; ');
  return new HttpError(400, 'invalid-request', `invalid ${where}: ${summary}`, details);
}

/** The one place a domain refusal becomes an HTTP status. */
const domainStatus: Record<DomainErrorCode, number> = {
  'screening-not-found': 404,
  'screening-started': 409,
  'seat-not-in-room': 422,
  'booking-not-found': 404,
  'not-cancellable': 409,
  'idempotency-key-reused': 422,
  'rate-limited': 429,
  'name-taken': 409,
  'email-taken': 409,
  'customer-not-found': 404,
  'wallet-full': 422,
  'top-up-limit': 429,
  unauthenticated: 401,
  'session-invalid': 401,
  'session-expired': 401,
  'session-revoked': 401,
  'csrf-token-invalid': 403,
  'operator-token-required': 401,
  forbidden: 403,
};

/**
 * A domain refusal as the API answers it: its status, its code and message, and `Retry-After` when it says when.
 *
 * @example
 * httpErrorOf(new DomainError('booking-not-found', 'no such booking')).status; // 404
 */
export function httpErrorOf(error: DomainError): HttpError {
  const headers: Record<string, string> =
    error.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(error.retryAfterSeconds) };
  return new HttpError(domainStatus[error.code], error.code, error.message, undefined, headers);
}

// body-parser errors carry a `type` and a `status`; map the common ones to clear codes.
const bodyParserCodes: Record<string, [number, string, string]> = {
  'entity.too.large': [413, 'body-too-large', 'request body is too large'],
  'entity.parse.failed': [400, 'malformed-json', 'request body is not valid JSON'],
  'encoding.unsupported': [415, 'unsupported-encoding', 'unsupported content encoding'],
  'charset.unsupported': [415, 'unsupported-charset', 'unsupported charset'],
};

/** The last middleware: every error becomes a JSON body; unexpected ones are logged and answered with 500. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    let http: HttpError;
    if (error instanceof HttpError) http = error;
    else if (error instanceof DomainError) http = httpErrorOf(error);
    else if (error instanceof ZodError) http = validationError(error, 'request');
    else if (typeof error?.type === 'string' && bodyParserCodes[error.type]) {
      const [status, code, message] = bodyParserCodes[error.type]!;
      http = new HttpError(status, code, message);
    } else {
      logger.error({ err: error, method: req.method, url: req.originalUrl }, 'unexpected error');
      http = new HttpError(500, 'internal', 'internal error');
    }
    for (const [name, value] of Object.entries(http.headers)) res.setHeader(name, value);
    res.status(http.status).json({
      error: { code: http.code, message: http.message, ...(http.details ? { details: http.details } : {}) },
    });
  };
}
