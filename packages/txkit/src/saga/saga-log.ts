/**
 * Every statement of the saga log, as small functions returning `{ text, values }` (pg-boss `plans.ts`
 * style). `schema` is always a quoted, validated schema name (see `quoteSchema`).
 *
 * What the log writes per saga, on the happy path of n steps:
 * - `insertSaga`: 1 statement at the start (so recovery knows the saga before any step can take effect) —
 *   or, when the first step is local, `insertSagaWithRecord` inside that step's transaction;
 * - `recordStep`: 1 per step, fenced by the lease token, which also extends the lease; the last one also
 *   marks the saga completed (so there is no separate end write); a step with `deferRecord` has its record
 *   written by the next one;
 * - a local step's record goes into the step's own transaction (no commit of its own).
 * Compensation adds `startCompensation` and one `recordCompensation` per compensated step (the last one ends it).
 */
import type { Statement } from '../db/queryable.js';

/** A saga row as read from the log. */
export interface SagaRow {
  id: string;
  name: string;
  key: string | null;
  input: unknown;
  status: SagaStatus;
  step: number;
  owner: string;
  lease_token: string;
  claims: number;
  failed_step: string | null;
  reason: string | null;
  error: SerializedError | null;
  failed_compensation: string | null;
  compensation_error: SerializedError | null;
  result: unknown;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

/** A step record as read from the log. */
export interface StepRow {
  step: string;
  kind: 'action' | 'compensation';
  status: 'done' | 'failed';
  attempt: number;
  output: unknown;
  error: SerializedError | null;
}

/**
 * Where a saga is in its life: `running` → `completed`, or `running` → `compensating` → `compensated` |
 * `failed` (the dead letter).
 *
 * @example
 * const status: SagaStatus = 'compensating';
 */
export type SagaStatus = 'running' | 'compensating' | 'completed' | 'compensated' | 'failed';

/**
 * An error as kept in the log (JSON) and in outcomes: name, message, and the code / reason of txkit errors.
 *
 * @example
 * if (outcome.status === 'compensated') console.warn(outcome.error.name, outcome.error.message);
 */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  reason?: string;
}

/**
 * Why a saga compensates: the action that failed, its stable reason (a {@link StepRejectedError}'s reason,
 * `retries-exhausted`, `step-error` or `recovery-limit`) and its error, as the log keeps them.
 *
 * @example
 * compensate: async (ctx) => { if (ctx.failure.reason === 'payment-declined') await notifyDeclined(ctx.input); }
 */
export interface SagaFailure {
  readonly step: string;
  readonly reason: string;
  readonly error: SerializedError;
}

const sagaColumns = `id, name, key, input, status, step, owner, lease_token, claims, failed_step, reason, error,
  failed_compensation, compensation_error, result, created_at, updated_at, finished_at`;

const lease = (leaseMs: number) => `now() + make_interval(secs => ${Number(leaseMs) / 1000})`;

/**
 * Starts a saga. Returns no row on a conflict: the (name, key) pair exists already, or (after an ambiguous
 * commit, retried) this very id.
 */
export function insertSaga(
  schema: string,
  p: {
    id: string;
    name: string;
    key: string | null;
    input: unknown;
    owner: string;
    token: string;
    leaseMs: number;
  },
): Statement {
  return {
    text: `INSERT INTO ${schema}.saga (id, name, key, input, status, owner, lease_token, lease_until)
           VALUES ($1, $2, $3, $4, 'running', $5, $6, ${lease(p.leaseMs)})
           ON CONFLICT DO NOTHING RETURNING id`,
    values: [p.id, p.name, p.key, JSON.stringify(p.input ?? null), p.owner, p.token],
  };
}

/**
 * Logs a saga that ended before it was ever written: its first step (local, carrying the saga's insert)
 * failed and rolled back, so there is nothing to compensate. Keeps the outcome for its idempotency key.
 * Returns no row when the key is taken.
 */
export function insertEndedSaga(
  schema: string,
  p: {
    id: string;
    name: string;
    key: string | null;
    input: unknown;
    owner: string;
    token: string;
    failedStep: string;
    reason: string;
    error: SerializedError;
  },
): Statement {
  return {
    text: `INSERT INTO ${schema}.saga (id, name, key, input, status, owner, lease_token, lease_until, failed_step,
             reason, error, finished_at)
           VALUES ($1, $2, $3, $4, 'compensated', $5, $6, now(), $7, $8, $9, now())
           ON CONFLICT DO NOTHING RETURNING id`,
    values: [
      p.id,
      p.name,
      p.key,
      JSON.stringify(p.input ?? null),
      p.owner,
      p.token,
      p.failedStep,
      p.reason,
      JSON.stringify(p.error),
    ],
  };
}

/** Reads a saga by id. */
export function selectSaga(schema: string, id: string): Statement {
  return { text: `SELECT ${sagaColumns} FROM ${schema}.saga WHERE id = $1`, values: [id] };
}

/** Reads a saga by its idempotency key. */
export function selectSagaByKey(schema: string, name: string, key: string): Statement {
  return {
    text: `SELECT ${sagaColumns} FROM ${schema}.saga WHERE name = $1 AND key = $2`,
    values: [name, key],
  };
}

/** Reads the step records of a saga. */
export function selectSteps(schema: string, id: string): Statement {
  return {
    text: `SELECT step, kind, status, attempt, output, error FROM ${schema}.saga_step WHERE saga_id = $1`,
    values: [id],
  };
}

/** A step record with the time it was written, for a saga's history. */
export interface StepHistoryRow {
  step: string;
  kind: 'action' | 'compensation';
  status: 'done' | 'failed';
  attempt: number;
  error: SerializedError | null;
  created_at: Date;
}

/** Reads the step records of a saga with their times, in the order they were written. */
export function selectStepHistory(schema: string, id: string): Statement {
  return {
    text: `SELECT step, kind, status, attempt, error, created_at FROM ${schema}.saga_step WHERE saga_id = $1
           ORDER BY created_at`,
    values: [id],
  };
}

/** One finished action, as a step record to write. */
export interface ActionRecord {
  step: string;
  attempt: number;
  output: unknown;
}

/** The one row every fenced write answers: 1 when the lease held, and how many records were new. */
const FENCED_RESULT =
  'SELECT (SELECT count(*) FROM fenced)::int AS fenced, (SELECT count(*) FROM inserted)::int AS inserted';

/**
 * The `inserted` CTE of a write that records finished actions: the records, three parallel arrays from
 * `$first`, `$first+1` and `$first+2` (see recordArrays), inserted for the saga the `fenced` CTE returned — none
 * when the fence failed. A record already there (an earlier attempt of the same write did commit) is skipped.
 */
function insertedRecords(schema: string, first: number): string {
  return `inserted AS (
             INSERT INTO ${schema}.saga_step (saga_id, step, kind, status, attempt, output)
             SELECT fenced.id, r.step, 'action', 'done', r.attempt, r.output
             FROM fenced, unnest($${first}::text[], $${first + 1}::int[], $${first + 2}::jsonb[]) AS r(step, attempt, output)
             ON CONFLICT (saga_id, step, kind) DO NOTHING RETURNING 1)`;
}

// The records of a statement as three parallel arrays, expanded in SQL by unnest().
function recordArrays(records: readonly ActionRecord[]): [string[], number[], string[]] {
  return [
    records.map((r) => r.step),
    records.map((r) => r.attempt),
    records.map((r) => JSON.stringify(r.output ?? null)),
  ];
}

/**
 * Records finished actions (the step just done, plus any deferred ones before it) and moves the saga to
 * `nextStep`, in one statement. Fenced: the records are written only while the caller still holds the lease
 * token (the UPDATE matches no row otherwise, and the INSERT selects from it). With `result`, the saga is
 * completed in the same statement. Returns one row: `fenced` (1 when the lease held) and `inserted` (how many
 * records were new; 0 when an earlier attempt of this very write did commit).
 */
export function recordStep(
  schema: string,
  p: {
    id: string;
    token: string;
    records: readonly ActionRecord[];
    nextStep: number;
    leaseMs: number;
    complete?: { result: unknown };
  },
): Statement {
  const finish = p.complete ? `, status = 'completed', result = $7, finished_at = now()` : '';
  return {
    text: `WITH fenced AS (
             UPDATE ${schema}.saga SET step = $3, lease_until = ${lease(p.leaseMs)}, updated_at = now()${finish}
             WHERE id = $1 AND lease_token = $2 AND status = 'running' RETURNING id),
           ${insertedRecords(schema, 4)}
           ${FENCED_RESULT}`,
    values: [
      p.id,
      p.token,
      p.nextStep,
      ...recordArrays(p.records),
      ...(p.complete ? [JSON.stringify(p.complete.result)] : []),
    ],
  };
}

/** One saga's part of a {@link recordSteps} write: what {@link recordStep} takes, less the lease length. */
export interface StepRecordWrite {
  id: string;
  token: string;
  records: readonly ActionRecord[];
  nextStep: number;
  complete?: { result: unknown };
}

/**
 * {@link recordStep} for several sagas in one statement (the writes of concurrent sagas that queued while the
 * previous one was in flight: one commit for all of them). Each saga is fenced by its own token; its records
 * are inserted only when its fence held. Returns one row per saga whose fence held: `id` and `inserted`.
 */
export function recordSteps(schema: string, writes: readonly StepRecordWrite[], leaseMs: number): Statement {
  const records = writes.flatMap((w) => w.records.map((r) => ({ id: w.id, ...r })));
  return {
    text: `WITH input AS (
             SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::jsonb[]) AS i(id, token, next_step, result)),
           fenced AS (
             UPDATE ${schema}.saga s SET step = i.next_step, lease_until = ${lease(leaseMs)}, updated_at = now(),
               status = CASE WHEN i.result IS NULL THEN s.status ELSE 'completed' END,
               result = CASE WHEN i.result IS NULL THEN s.result ELSE i.result END,
               finished_at = CASE WHEN i.result IS NULL THEN s.finished_at ELSE now() END
             FROM input i WHERE s.id = i.id AND s.lease_token = i.token AND s.status = 'running' RETURNING s.id),
           inserted AS (
             INSERT INTO ${schema}.saga_step (saga_id, step, kind, status, attempt, output)
             SELECT r.saga_id, r.step, 'action', 'done', r.attempt, r.output
             FROM unnest($5::uuid[], $6::text[], $7::int[], $8::jsonb[]) AS r(saga_id, step, attempt, output)
             JOIN fenced ON fenced.id = r.saga_id
             ON CONFLICT (saga_id, step, kind) DO NOTHING RETURNING saga_id)
           SELECT fenced.id, (SELECT count(*) FROM inserted WHERE inserted.saga_id = fenced.id)::int AS inserted
           FROM fenced`,
    values: [
      writes.map((w) => w.id),
      writes.map((w) => w.token),
      writes.map((w) => w.nextStep),
      writes.map((w) => (w.complete ? JSON.stringify(w.complete.result ?? null) : null)),
      records.map((r) => r.id),
      ...recordArrays(records),
    ],
  };
}

/**
 * Starts a saga and records its first action in one statement, inside that (local) action's transaction:
 * the saga exists exactly when its first effect does. With `result`, the saga is completed at once. Same result
 * row as {@link recordStep}; `fenced` is 0 when the key (or, after an ambiguous commit, the id) is taken.
 */
export function insertSagaWithRecord(
  schema: string,
  p: {
    id: string;
    name: string;
    key: string | null;
    input: unknown;
    owner: string;
    token: string;
    leaseMs: number;
    records: readonly ActionRecord[];
    nextStep: number;
    complete?: { result: unknown };
  },
): Statement {
  const [status, result, finished] = p.complete
    ? [`'completed'`, '$11', 'now()']
    : [`'running'`, 'NULL', 'NULL'];
  return {
    text: `WITH fenced AS (
             INSERT INTO ${schema}.saga (id, name, key, input, status, step, owner, lease_token, lease_until,
               result, finished_at)
             VALUES ($1, $2, $3, $4, ${status}, $7, $5, $6, ${lease(p.leaseMs)}, ${result}, ${finished})
             ON CONFLICT DO NOTHING RETURNING id),
           ${insertedRecords(schema, 8)}
           ${FENCED_RESULT}`,
    values: [
      p.id,
      p.name,
      p.key,
      JSON.stringify(p.input ?? null),
      p.owner,
      p.token,
      p.nextStep,
      ...recordArrays(p.records),
      ...(p.complete ? [JSON.stringify(p.complete.result)] : []),
    ],
  };
}

/**
 * Switches a running saga to compensation, recording why in the saga row and as a failed action record of
 * the failed step (fenced by the lease token). Returns `fenced` (1 when the lease held).
 */
export function startCompensation(
  schema: string,
  p: {
    id: string;
    token: string;
    failedStep: string;
    step: number;
    attempt: number;
    reason: string;
    error: SerializedError;
    leaseMs: number;
    /** Nothing to compensate: end the saga `compensated` in the same statement. */
    final: boolean;
  },
): Statement {
  return {
    text: `WITH fenced AS (
             UPDATE ${schema}.saga SET status = ${p.final ? `'compensated', finished_at = now()` : `'compensating'`},
               failed_step = $3, step = $4, reason = $5, error = $6, lease_until = ${lease(p.leaseMs)}, updated_at = now()
             WHERE id = $1 AND lease_token = $2 AND status = 'running' RETURNING id),
           inserted AS (
             INSERT INTO ${schema}.saga_step (saga_id, step, kind, status, attempt, error)
             SELECT id, $3, 'action', 'failed', $7, $6 FROM fenced
             ON CONFLICT (saga_id, step, kind) DO NOTHING RETURNING 1)
           ${FENCED_RESULT}`,
    values: [p.id, p.token, p.failedStep, p.step, p.reason, JSON.stringify(p.error), p.attempt],
  };
}

/** Ends a compensation with nothing (left) to compensate. */
export function endCompensation(schema: string, p: { id: string; token: string }): Statement {
  return {
    text: `WITH fenced AS (
             UPDATE ${schema}.saga SET status = 'compensated', finished_at = now(), updated_at = now()
             WHERE id = $1 AND lease_token = $2 AND status = 'compensating' RETURNING id)
           SELECT (SELECT count(*) FROM fenced)::int AS fenced, 0 AS inserted`,
    values: [p.id, p.token],
  };
}

/**
 * Records a finished compensation (fenced); with `final`, also ends the saga `compensated`. Same result row
 * as {@link recordStep}.
 */
export function recordCompensation(
  schema: string,
  p: {
    id: string;
    token: string;
    step: string;
    index: number;
    attempt: number;
    leaseMs: number;
    final: boolean;
  },
): Statement {
  const finish = p.final ? `, status = 'compensated', finished_at = now()` : '';
  return {
    text: `WITH fenced AS (
             UPDATE ${schema}.saga SET step = $3, lease_until = ${lease(p.leaseMs)}, updated_at = now()${finish}
             WHERE id = $1 AND lease_token = $2 AND status = 'compensating' RETURNING id),
           inserted AS (
             INSERT INTO ${schema}.saga_step (saga_id, step, kind, status, attempt)
             SELECT id, $4, 'compensation', 'done', $5 FROM fenced
             ON CONFLICT (saga_id, step, kind) DO UPDATE SET status = 'done', attempt = EXCLUDED.attempt, error = NULL
               WHERE saga_step.status = 'failed'
             RETURNING 1)
           ${FENCED_RESULT}`,
    values: [p.id, p.token, p.index, p.step, p.attempt],
  };
}

/**
 * Ends a saga whose compensation gave up: status `failed` (the dead letter), with the step and its error in
 * the saga row and as a failed compensation record.
 */
export function failSaga(
  schema: string,
  p: { id: string; token: string; step: string; index: number; attempt: number; error: SerializedError },
): Statement {
  return {
    text: `WITH fenced AS (
             UPDATE ${schema}.saga SET status = 'failed', step = $3, failed_compensation = $4,
               compensation_error = $5, updated_at = now(), finished_at = now()
             WHERE id = $1 AND lease_token = $2 AND status = 'compensating' RETURNING id),
           inserted AS (
             INSERT INTO ${schema}.saga_step (saga_id, step, kind, status, attempt, error)
             SELECT id, $4, 'compensation', 'failed', $6, $5 FROM fenced
             ON CONFLICT (saga_id, step, kind) DO UPDATE SET attempt = EXCLUDED.attempt, error = EXCLUDED.error
             RETURNING 1)
           ${FENCED_RESULT}`,
    values: [p.id, p.token, p.index, p.step, JSON.stringify(p.error), p.attempt],
  };
}

/**
 * Extends the leases this runner still holds (by saga id, through the primary key, and token); returns the
 * tokens that are still valid.
 */
export function extendLeases(
  schema: string,
  leases: readonly { sagaId: string; token: string }[],
  leaseMs: number,
): Statement {
  return {
    text: `UPDATE ${schema}.saga SET lease_until = ${lease(leaseMs)}
           WHERE id = ANY($1::uuid[]) AND lease_token = ANY($2::uuid[]) AND status IN ('running', 'compensating')
           RETURNING lease_token`,
    values: [leases.map((l) => l.sagaId), leases.map((l) => l.token)],
  };
}

/**
 * Claims unfinished sagas whose lease expired. `FOR UPDATE SKIP LOCKED` lets several runners recover at
 * once without waiting on or double-claiming each other's rows; each claim gets a fresh lease token, which
 * fences every later write of the previous owner.
 */
export function claimExpired(
  schema: string,
  p: { owner: string; limit: number; leaseMs: number; exclude: string[] },
): Statement {
  return {
    text: `UPDATE ${schema}.saga s SET owner = $1, lease_token = gen_random_uuid(), lease_until = ${lease(p.leaseMs)},
             claims = s.claims + 1, updated_at = now()
           FROM (SELECT id FROM ${schema}.saga
                 WHERE status IN ('running', 'compensating') AND lease_until < now() AND id <> ALL($3::uuid[])
                 ORDER BY lease_until LIMIT $2 FOR UPDATE SKIP LOCKED) c
           WHERE s.id = c.id
           RETURNING ${sagaColumns
             .split(',')
             .map((c) => `s.${c.trim()}`)
             .join(', ')}`,
    values: [p.owner, p.limit, p.exclude],
  };
}

/** Sagas in the dead-letter state, oldest first. */
export function selectFailed(schema: string, limit: number): Statement {
  return {
    text: `SELECT ${sagaColumns} FROM ${schema}.saga WHERE status = 'failed' ORDER BY updated_at LIMIT $1`,
    values: [limit],
  };
}

/** How many sagas are in the dead-letter state. */
export function countFailed(schema: string): Statement {
  return { text: `SELECT count(*)::int AS n FROM ${schema}.saga WHERE status = 'failed'`, values: [] };
}

/** Re-opens a failed saga for another round of compensation, claimed by the caller. */
export function reopenFailed(
  schema: string,
  p: { id: string; owner: string; token: string; leaseMs: number },
): Statement {
  return {
    text: `UPDATE ${schema}.saga SET status = 'compensating', owner = $2, lease_token = $3,
             lease_until = ${lease(p.leaseMs)}, failed_compensation = NULL, compensation_error = NULL,
             finished_at = NULL, updated_at = now()
           WHERE id = $1 AND status = 'failed' RETURNING ${sagaColumns}`,
    values: [p.id, p.owner, p.token],
  };
}

/**
 * Deletes finished sagas (completed, compensated) older than the retention, and their step records in the same
 * statement. Failed sagas stay until an operator deals with them. Answers one row count: the sagas deleted.
 */
export function deleteFinished(schema: string, olderThanMs: number, limit: number): Statement {
  return {
    text: `WITH gone AS (
             SELECT id FROM ${schema}.saga WHERE status IN ('completed', 'compensated')
               AND finished_at < now() - make_interval(secs => $1) LIMIT $2),
           records AS (DELETE FROM ${schema}.saga_step WHERE saga_id IN (SELECT id FROM gone))
           DELETE FROM ${schema}.saga WHERE id IN (SELECT id FROM gone)`,
    values: [olderThanMs / 1000, limit],
  };
}
