import { ConfigurationError } from '../errors.js';
import { startSpan } from '../tracing/span.js';
import { type ExecutionDeps, SagaExecution } from './saga-execution.js';
import { claimExpired, type SagaRow, type StepRow, selectSteps } from './saga-log.js';
import type { SagaOutcome } from './saga-outcome.js';
import type { AnySagaDefinition } from './saga-types.js';

/** Options of one recovery pass. */
export interface ResumeOptions {
  /** The runner's owner label, stored on claimed sagas. */
  owner: string;
  /** At most this many sagas per pass. */
  batchSize: number;
  /** Sagas claimed more often than this are given up on (see {@link SagaExecution.giveUp}). */
  maxClaims: number;
  /** Saga ids this runner drives already (never claimed from itself). */
  exclude: string[];
}

/**
 * One recovery pass: claims unfinished sagas whose lease expired (`FOR UPDATE SKIP LOCKED`, so concurrent
 * passes of several runners split the work) and drives each to its end. Returns the outcomes, and the
 * errors of sagas that could not be driven (left to a later pass).
 */
export async function resumeExpiredSagas(
  deps: ExecutionDeps,
  definitions: ReadonlyMap<string, AnySagaDefinition>,
  options: ResumeOptions,
  track: (id: string, work: Promise<SagaOutcome>) => void,
): Promise<{ outcomes: SagaOutcome[]; errors: unknown[] }> {
  // The pass is a trace of its own; each resumed saga's `txkit.saga.resume` span is its child.
  return startSpan('txkit.saga.recovery', { 'txkit.runner.owner': options.owner }).around(async (span) => {
    const pass = await resumePass(deps, definitions, options, track);
    span.set({ 'txkit.recovery.resumed': pass.outcomes.length, 'txkit.recovery.failed': pass.errors.length });
    return pass;
  });
}

async function resumePass(
  deps: ExecutionDeps,
  definitions: ReadonlyMap<string, AnySagaDefinition>,
  options: ResumeOptions,
  track: (id: string, work: Promise<SagaOutcome>) => void,
): Promise<{ outcomes: SagaOutcome[]; errors: unknown[] }> {
  const { rows } = await deps.log.query<SagaRow>(
    claimExpired(deps.log.schema, {
      owner: options.owner,
      limit: options.batchSize,
      leaseMs: deps.log.leaseMs,
      exclude: options.exclude,
    }),
  );
  const since = Date.now();
  const settled = await Promise.allSettled(
    rows.map((row) => {
      const work = resumeClaimed(deps, definitions, row, options.maxClaims, since);
      track(row.id, work);
      return work;
    }),
  );
  const outcomes: SagaOutcome[] = [];
  const errors: unknown[] = [];
  for (const s of settled) {
    if (s.status === 'fulfilled') outcomes.push(s.value);
    else errors.push(s.reason);
  }
  return { outcomes, errors };
}

/**
 * Drives a saga this runner just claimed (its row carries the new lease token), rebuilt from its records. A saga
 * claimed more than `maxClaims` times is given up on instead ({@link SagaExecution.giveUp}).
 */
export async function resumeClaimed(
  deps: ExecutionDeps,
  definitions: ReadonlyMap<string, AnySagaDefinition>,
  row: SagaRow,
  maxClaims: number,
  since: number,
): Promise<SagaOutcome> {
  const definition = definitions.get(row.name);
  if (!definition) {
    throw new ConfigurationError(`saga ${row.id} is a '${row.name}', which this runner does not know`, {
      context: { sagaId: row.id, saga: row.name },
    });
  }
  const lease = deps.leases.hold(row.id, row.lease_token, since);
  let execution: SagaExecution;
  try {
    const { rows: records } = await deps.log.query<StepRow>(selectSteps(deps.log.schema, row.id));
    execution = SagaExecution.fromLog(deps, row, records, definition, lease);
  } catch (error) {
    deps.leases.release(lease);
    throw error;
  }
  deps.emit('saga:resumed', { sagaId: row.id, name: row.name, status: execution.status, claims: row.claims });
  const outcome = await (row.claims > maxClaims ? execution.giveUp(row.claims) : execution.drive());
  // A recovery pass ends when the log holds the end (written after the answer when the last step is guarded).
  await execution.settled;
  return outcome;
}
