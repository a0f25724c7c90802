import type pg from 'pg';
import {
  barrier,
  RetryableError,
  type SagaDefinition,
  StepRejectedError,
  saga,
  withTransaction,
} from '../../../src/index.js';

/**
 * What a test booking does, carried in the saga input so that a resumed saga behaves as the first run did.
 * Attempt counts are per runner (ctx.attempt restarts after recovery).
 */
export interface BookingInput {
  label: string;
  /** Step whose action throws a StepRejectedError (business failure). */
  rejectAt?: string;
  /** Step whose action throws a StepRejectedError *after* its write committed (effect + failure). */
  rejectAfterEffectAt?: string;
  /** Step → number of first attempts that throw a RetryableError. */
  transientFailures?: Record<string, number>;
  /** Step → number of first attempts that hang (until the signal fires). */
  hangs?: Record<string, number>;
  /** Pause after each participant write, before the step returns (a window for crashes). */
  pauseAfterEffectMs?: number;
  /** Step → number of first compensation attempts that throw. */
  compensationFailures?: Record<string, number>;
}

export const stepNames = ['seat', 'pay', 'ticket'] as const;
export type StepName = (typeof stepNames)[number];
export const instanceOf: Record<StepName, string> = { seat: 'a', pay: 'b', ticket: 'c' };

/** The participants' databases and switches a booking saga runs against (a test world, or a child process). */
export interface BookingEnv {
  pool(step: StepName): pg.Pool;
  useBarrier: boolean;
  brokenCompensations: Set<string>;
  /** Steps whose log record is deferred to the next log write. */
  deferRecords?: readonly StepName[];
  /** Time limit of each attempt (default 1 s: short for the timeout tests, long enough for a busy machine). */
  stepTimeoutMs?: number;
  /** Called right after a participant's write committed (before the step returns). */
  onEffect?: (sagaId: string, step: string, op: 'action' | 'compensate') => void;
}

export type BookingDefinition = SagaDefinition<
  BookingInput,
  { seat: { seat: string }; pay: { paid: number }; ticket: { ticket: string } }
>;

async function applyEffect(
  world: BookingEnv,
  pool: pg.Pool,
  ctx: { sagaId: string; step: string },
  op: 'action' | 'compensate',
): Promise<void> {
  await withTransaction(pool, async (client) => {
    if (world.useBarrier && !(await barrier(client, ctx, op)).apply) return;
    await client.query('INSERT INTO ledger (saga_id, step, op) VALUES ($1, $2, $3)', [
      ctx.sagaId,
      ctx.step,
      op,
    ]);
  });
  world.onEffect?.(ctx.sagaId, ctx.step, op);
}

function hangUntilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** One barrier-guarded participant step of the test booking, steered by its input. */
function participant(world: BookingEnv, step: StepName) {
  return {
    run: async (ctx: {
      sagaId: string;
      step: string;
      attempt: number;
      input: BookingInput;
      signal: AbortSignal;
    }) => {
      const { input } = ctx;
      if ((input.transientFailures?.[step] ?? 0) >= ctx.attempt) {
        throw new RetryableError(`${step} unavailable (attempt ${ctx.attempt})`);
      }
      if ((input.hangs?.[step] ?? 0) >= ctx.attempt) await hangUntilAborted(ctx.signal);
      if (input.rejectAt === step) throw new StepRejectedError(`${step}-rejected`, `${step} said no`);
      await applyEffect(world, world.pool(step), ctx, 'action');
      if (input.pauseAfterEffectMs) await new Promise((r) => setTimeout(r, input.pauseAfterEffectMs));
      if (input.rejectAfterEffectAt === step) throw new StepRejectedError(`${step}-rejected-late`);
      return step === 'seat'
        ? { seat: `A-${ctx.sagaId.slice(0, 4)}` }
        : step === 'pay'
          ? { paid: 42 }
          : { ticket: 'T' };
    },
    compensate: async (ctx: { sagaId: string; step: string; attempt: number; input: BookingInput }) => {
      if (world.brokenCompensations.has(step)) throw new Error(`${step} compensation is broken`);
      if ((ctx.input.compensationFailures?.[step] ?? 0) >= ctx.attempt) {
        throw new RetryableError(`${step} compensation unavailable (attempt ${ctx.attempt})`);
      }
      await applyEffect(world, world.pool(step), ctx, 'compensate');
    },
    retry: { maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 20 },
    compensationRetry: { maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 20 },
    timeoutMs: world.stepTimeoutMs ?? 1_000,
    deferRecord: world.deferRecords?.includes(step) ?? false,
  };
}

/** The test booking: seat (a), pay (b), ticket (c), each a barrier-guarded participant write. */
export function bookingSaga(world: BookingEnv): BookingDefinition {
  return saga<BookingInput>('booking')
    .step('seat', participant(world, 'seat'))
    .step('pay', participant(world, 'pay'))
    .step('ticket', participant(world, 'ticket'))
    .build() as BookingDefinition;
}

/** The same booking with pay and ticket as parallel branches after the seat. */
export function parallelBookingSaga(world: BookingEnv): BookingDefinition {
  return saga<BookingInput>('booking-parallel')
    .step('seat', participant(world, 'seat'))
    .parallel({ pay: participant(world, 'pay'), ticket: participant(world, 'ticket') })
    .build() as BookingDefinition;
}
