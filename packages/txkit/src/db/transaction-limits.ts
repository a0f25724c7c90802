import { ConfigurationError } from '../errors.js';

/**
 * Bounds of a transaction txkit begins on its user's behalf, set for that transaction only (like `SET LOCAL`;
 * never plain `SET`, which would outlive the transaction on a pooled connection) in the same round trip as its
 * BEGIN.
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
 * One statement setting `limits` for the rest of the transaction — `set_config(…, true)` is `SET LOCAL` as a
 * function, so both limits cost one statement instead of two `SET LOCAL`s (each a statement the server parses and
 * counts) — for a simple-query string after BEGIN (no parameters there, hence validated integers), or `undefined`
 * when no limit is set.
 *
 * @internal
 */
export function setLocalLimits(limits: TransactionLimits): string | undefined {
  const sets: string[] = [];
  if (limits.lockTimeoutMs !== undefined)
    sets.push(`set_config('lock_timeout', '${milliseconds('lockTimeoutMs', limits.lockTimeoutMs)}', true)`);
  if (limits.statementTimeoutMs !== undefined) {
    const ms = milliseconds('statementTimeoutMs', limits.statementTimeoutMs);
    sets.push(`set_config('statement_timeout', '${ms}', true)`);
  }
  return sets.length > 0 ? `SELECT ${sets.join(', ')}` : undefined;
}

function milliseconds(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigurationError(`${name} must be a positive integer of milliseconds, not ${value}`);
  }
  return value;
}
