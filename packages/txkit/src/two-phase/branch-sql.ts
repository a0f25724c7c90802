import { quoteLiteral } from '../db/inline-statement.js';
import { setLocalLimits, type TransactionLimits } from '../db/transaction-limits.js';

/**
 * The SQL a participant's branch of a transaction runs besides the user's statements. None of it can take bind
 * parameters (PREPARE and friends are utility statements), so every value is validated before it gets here and
 * quoted here.
 */

/**
 * Isolation levels a transaction may run at.
 *
 * @example
 * const level: IsolationLevel = 'serializable';
 */
export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

const ISOLATION_SQL: Record<IsolationLevel, string> = {
  'read committed': 'READ COMMITTED',
  'repeatable read': 'REPEATABLE READ',
  serializable: 'SERIALIZABLE',
};

/** Whether `value` is one of the supported isolation levels. */
export function isIsolationLevel(value: unknown): value is IsolationLevel {
  return typeof value === 'string' && Object.hasOwn(ISOLATION_SQL, value);
}

/** Per-branch session settings, applied with `SET LOCAL` so they end with the transaction. */
export interface BranchSettings extends TransactionLimits {
  isolationLevel: IsolationLevel;
}

/**
 * BEGIN and its limits (one `set_config` statement) as one simple-query string: one round trip. `SET LOCAL` (never
 * plain `SET`), because a plain SET would outlive the transaction on a pooled connection. The numbers are
 * validated integers. Every branch begins with it, nearly always with the coordinator's settings: the last
 * string built is kept and given again for the same settings.
 */
export function beginSql(settings: BranchSettings): string {
  const last = lastBegin;
  if (
    last !== undefined &&
    last.isolationLevel === settings.isolationLevel &&
    last.lockTimeoutMs === settings.lockTimeoutMs &&
    last.statementTimeoutMs === settings.statementTimeoutMs
  ) {
    return last.sql;
  }
  const begin = `BEGIN ISOLATION LEVEL ${ISOLATION_SQL[settings.isolationLevel]}`;
  const limits = setLocalLimits(settings);
  const sql = limits ? `${begin}; ${limits}` : begin;
  lastBegin = {
    isolationLevel: settings.isolationLevel,
    lockTimeoutMs: settings.lockTimeoutMs,
    statementTimeoutMs: settings.statementTimeoutMs,
    sql,
  };
  return sql;
}

/** The settings {@link beginSql} was last called with, and what it returned. */
let lastBegin: (BranchSettings & { sql: string }) | undefined;

/**
 * Whether the branch wrote nothing and holds nothing that must last until the decision: no transaction id (every
 * row written, and every row locked `FOR UPDATE` / `FOR SHARE`, assigns one) and no advisory lock. Such a branch is
 * committed at once instead of prepared (see `ParticipantSession.endIfReadOnly`).
 */
export function readOnlyCheckSql(): string {
  return `SELECT txid_current_if_assigned() IS NULL
            AND NOT EXISTS (SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory')
            AS read_only`;
}

/** Phase one: detaches the branch from the session and makes it durable under `gid`. */
export function prepareSql(gid: string): string {
  return `PREPARE TRANSACTION ${quoteLiteral(gid)}`;
}

/** Phase two, after a commit decision. */
export function commitPreparedSql(gid: string): string {
  return `COMMIT PREPARED ${quoteLiteral(gid)}`;
}

/** Phase two, after an abort (or with no decision, once recovery fenced it). */
export function rollbackPreparedSql(gid: string): string {
  return `ROLLBACK PREPARED ${quoteLiteral(gid)}`;
}
