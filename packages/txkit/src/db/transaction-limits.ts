import { ConfigurationError } from '../errors.js';

/**
 * Bounds of a transaction txkit begins on its user's behalf, set with `SET LOCAL` (never plain `SET`, which would
 * outlive the transaction on a pooled connection) in the same round trip as its BEGIN.
 *
 * @example
 * const limits: TransactionLimits = { lockTimeoutMs: 2_000, statementTimeoutMs: 10_000 };
 */
export interface TransactionLimits {
  /** `lock_timeout`: a lock wait fails with 55P03 after this many ms. */
  lockTimeoutMs?: number | undefined;
  /** `statement_timeout`: a statement fails with 57014 after this many ms. */
  statementTimeoutMs?: number | undefined;
}

/**
 * The `SET LOCAL` statements for `limits`, joined for a simple-query string (no parameters there, hence
 * validated integers), or `undefined` when no limit is set.
 *
 * @internal
 */
export function setLocalLimits(limits: TransactionLimits): string | undefined {
  const sets: string[] = [];
  if (limits.lockTimeoutMs !== undefined)
    sets.push(`SET LOCAL lock_timeout = ${milliseconds('lockTimeoutMs', limits.lockTimeoutMs)}`);
  if (limits.statementTimeoutMs !== undefined) {
    sets.push(
      `SET LOCAL statement_timeout = ${milliseconds('statementTimeoutMs', limits.statementTimeoutMs)}`,
    );
  }
  return sets.length > 0 ? sets.join('; ') : undefined;
}

function milliseconds(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigurationError(`${name} must be a positive integer of milliseconds, not ${value}`);
  }
  return value;
}
