/**
 * Why a request was refused, as the domain sees it: a stable code and a message, no HTTP. The API maps each code
 * to its status (`api/http-error.ts`); nothing outside `api/` knows about HTTP.
 */
export type DomainErrorCode =
  | 'screening-not-found'
  | 'screening-started'
  | 'seat-not-in-room'
  | 'booking-not-found'
  | 'not-cancellable'
  | 'idempotency-key-reused'
  | 'rate-limited'
  | 'name-taken'
  | 'email-taken'
  | 'customer-not-found'
  | 'wallet-full'
  | 'top-up-limit'
  | 'unauthenticated'
  | 'session-invalid'
  | 'session-expired'
  | 'session-revoked'
  | 'csrf-token-invalid'
  | 'operator-token-required'
  | 'forbidden';

/**
 * A refusal of the domain (booking, accounts, sessions, wallet) with a stable code; `retryAfterSeconds` when
 * trying again later will work (a rate limit).
 *
 * @example
 * throw new DomainError('screening-not-found', `screening ${id} does not exist`);
 */
export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}
