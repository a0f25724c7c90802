import type pg from 'pg';
import { quoteSchema } from '../db/schema-name.js';
import type { TransactionLimits } from '../db/transaction-limits.js';
import { StepRejectedError } from '../errors.js';
import { type BarrierKey, withBarrier } from './barrier.js';
import { selectActionOutput, storeActionOutput } from './barrier-sql.js';
import type { StepDefinition } from './saga-types.js';

/** Where a guarded step runs: its participant's pool and the schema of the barrier table there. */
type Participant = NonNullable<StepDefinition['participant']>;

/**
 * A guarded step's action: in one transaction on the participant, the barrier's insert, the step's write and its
 * output in the barrier row — the step's record, committed with its effect. Run again (after a crash, by
 * recovery), the barrier finds the row and the stored output is returned without calling `work`: the same
 * answer, no second effect. `beforeCommit` is reached with the effect written and not committed yet. When
 * `signal` fires (the attempt timed out, the lease was lost) the transaction is abandoned and rolls back with its
 * barrier row, so the step's compensation is not left waiting on a row lock the attempt may hold for good.
 */
export function guardedAction(
  participant: Participant,
  key: BarrierKey,
  work: (client: pg.PoolClient) => Promise<unknown>,
  beforeCommit: () => Promise<void>,
  limits: TransactionLimits,
  signal: AbortSignal,
): Promise<unknown> {
  const schema = quoteSchema(participant.schema);
  return withBarrier(
    participant.pool,
    key,
    'action',
    async (client, gate) => {
      if (!gate.apply) {
        // An action refused because its compensation ran: only a runner that lost the saga can get here.
        if (gate.why !== 'duplicate')
          throw new StepRejectedError('compensated', `step ${key.step} was compensated`);
        return storedOutput(client, schema, key);
      }
      const output = await work(client);
      await beforeCommit();
      if (output !== null) await client.query(storeActionOutput(schema, key.sagaId, key.step, output));
      return output;
    },
    { schema: participant.schema, signal, ...limits },
  );
}

/**
 * A guarded step's compensation, behind the barrier in the participant's own transaction (a no-op when the action
 * never ran or the compensation already did). `work` gets the action's output: `known`, or the stored one.
 * `signal` abandons it as it does an action.
 */
export function guardedCompensation(
  participant: Participant,
  key: BarrierKey,
  known: unknown,
  work: (client: pg.PoolClient, output: unknown) => Promise<void>,
  limits: TransactionLimits,
  signal: AbortSignal,
): Promise<void> {
  const schema = quoteSchema(participant.schema);
  return withBarrier(
    participant.pool,
    key,
    'compensate',
    async (client, gate) => {
      if (!gate.apply) return;
      await work(client, known ?? (await storedOutput(client, schema, key)));
    },
    { schema: participant.schema, signal, ...limits },
  );
}

async function storedOutput(client: pg.PoolClient, schema: string, key: BarrierKey): Promise<unknown> {
  const { rows } = await client.query<{ output: unknown }>(selectActionOutput(schema, key.sagaId, key.step));
  return rows[0]?.output ?? null;
}
