import { isConnectionError } from '../../../src/db/queryable.js';
import { type FaultHook, isSimulatedCrash } from '../../../src/faults.js';
import {
  InDoubtError,
  TwoPhaseCoordinator,
  type TwoPhaseCoordinatorOptions,
  TxkitError,
} from '../../../src/index.js';
import {
  FaultPlan,
  type FaultProxy,
  type FaultScheduleStep,
  type FaultSpec,
  InjectedFailure,
  playFaultSchedule,
} from '../../../src/testing/index.js';
import { applyLeg, bankViolations, databaseOf, readBank, resetBank, type Transfer } from './bank.js';
import { proxiedPools, SCHEDULING_SLACK_MS } from './partition-network.js';
import { LOG_DATABASE, RECOVERY_POLL_MS, SCHEMA, sleep, type World } from './world.js';

const PREPARE_TIMEOUT_MS = 400;
const RESPONSE_TIMEOUT_MS = 500;
const COMMIT_ATTEMPTS = 3;
/** `docs/operations.md`: transaction() ends within prepareTimeoutMs + (2 × commitAttempts + 7) × responseTimeoutMs. */
export const CALL_BOUND_MS = PREPARE_TIMEOUT_MS + (2 * COMMIT_ATTEMPTS + 7) * RESPONSE_TIMEOUT_MS;

export interface PartitionCase {
  transfers: Transfer[];
  partitions: FaultScheduleStep[];
  /** A process crash on top, sometimes. */
  crash: { faults: FaultSpec[] } | null;
  decisionInLogParticipant: boolean;
}

type CallEnd = { status: 'committed' | 'failed' | 'in-doubt' | 'crashed'; ms: number; error?: unknown };

/** What transaction() may end with: the documented errors, or the callback's own business refusal. */
function undocumented(error: unknown): string | undefined {
  // (An InjectedFailure is the fault plan's stand-in for a failure at that point: the test's own.)
  if (error instanceof TxkitError || error instanceof InjectedFailure) return undefined;
  const code = (error as { code?: string }).code;
  // A database error the callback's statement got (lock timeout, …) is the callback's own; a lost connection
  // must have come out as TransactionAbortedError or InDoubtError.
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !isConnectionError(error)) return undefined;
  return `${(error as Error)?.name}: ${(error as Error)?.message}`;
}

/**
 * Extras of a run: `hook` fires at every 2PC point before the crash plan (e.g. stops a server), and
 * `beforeRecovery` ends whatever it started (e.g. starts the server again) once the calls returned.
 */
export interface TwoPhaseRunExtras {
  hook?: FaultHook;
  beforeRecovery?: () => Promise<void>;
  describe?: () => string;
}

/**
 * One run of the 2PC bank through the proxy: the transfers as concurrent transactions of a coordinator whose
 * every connection goes through `proxy`, the partitions played meanwhile; then healed, a successor (new id,
 * direct connections) recovers; then the invariants. Throws with the violations; counts the ends in `tally`.
 */
export async function runPartitionCase(
  world: World,
  proxy: FaultProxy,
  input: PartitionCase,
  tally: Map<string, number>,
  extras: TwoPhaseRunExtras = {},
): Promise<void> {
  await resetBank(world);
  const pools = proxiedPools(world, proxy);
  const options: TwoPhaseCoordinatorOptions = {
    id: 'partitioned',
    participants: pools,
    log: pools[LOG_DATABASE],
    decisionInLogParticipant: input.decisionInLogParticipant,
    schema: SCHEMA,
    prepareTimeoutMs: PREPARE_TIMEOUT_MS,
    responseTimeoutMs: RESPONSE_TIMEOUT_MS,
    commitAttempts: COMMIT_ATTEMPTS,
    lockTimeoutMs: 200,
    leaseMs: 300,
  };
  const plan = new FaultPlan(input.crash?.faults ?? []);
  const faults: FaultHook = async (site) => {
    await extras.hook?.(site);
    await plan.hook(site);
  };
  const coordinator = new TwoPhaseCoordinator({ ...options, faults });
  coordinator.on('error', () => {});
  const ends = new Map<string, CallEnd>();
  const playback = playFaultSchedule(proxy, input.partitions);
  try {
    await Promise.all(
      input.transfers.map(async (t) => {
        // Spread over the partitions' window (0-750 ms), so that faults land before, during and after calls.
        await new Promise((r) => setTimeout(r, t.delayMs * 50));
        if (plan.crashed) return;
        const started = Date.now();
        try {
          await coordinator.transaction(async (tx) => {
            await applyLeg({ query: (s, v) => tx.query(databaseOf(t.from), s, v) }, t, 'debit', 'action');
            await applyLeg({ query: (s, v) => tx.query(databaseOf(t.to), s, v) }, t, 'credit', 'action');
          });
          ends.set(t.id, { status: 'committed', ms: Date.now() - started });
        } catch (error) {
          const status = isSimulatedCrash(error)
            ? 'crashed'
            : error instanceof InDoubtError
              ? 'in-doubt'
              : 'failed';
          ends.set(t.id, { status, ms: Date.now() - started, error });
        }
      }),
    );
  } finally {
    await playback.stop(); // heals everything
    await extras.beforeRecovery?.();
  }

  // Healed. A restarted coordinator (new id, direct connections) takes over once the dead one's lease ran out.
  const successor = new TwoPhaseCoordinator({
    ...options,
    id: 'successor',
    participants: world.participants(),
    log: world.pool(LOG_DATABASE),
  });
  successor.on('error', () => {});
  const deadline = Date.now() + 20_000;
  let left = await world.leftovers();
  while (left.prepared.length > 0 && Date.now() < deadline) {
    await successor.recover();
    left = await world.leftovers();
    if (left.prepared.length > 0) await sleep(RECOVERY_POLL_MS);
  }
  await Promise.all(Object.values(pools).map((p) => p.end()));

  const final = await readBank(world);
  const committed = (id: string) => final.effects.some((e) => e.transfer === id);
  const violations = bankViolations(final, input.transfers);
  if (left.prepared.length > 0)
    violations.push(`${left.prepared.length} prepared transactions left after 20 s`);
  for (const [id, end] of ends) {
    const kind = `${end.status}${end.error ? ` ${(end.error as Error).name}` : ''}`;
    tally.set(kind, (tally.get(kind) ?? 0) + 1);
    if (end.status === 'committed' && !committed(id))
      violations.push(`${id} answered committed, not in effect`);
    if (end.status === 'failed' && committed(id)) violations.push(`${id} failed but took effect`);
    if (end.status === 'failed' && undocumented(end.error))
      violations.push(`${id} failed with an undocumented error: ${undocumented(end.error)}`);
    if (end.status !== 'crashed' && end.ms > CALL_BOUND_MS + SCHEDULING_SLACK_MS)
      violations.push(`${id} took ${end.ms} ms, bound ${CALL_BOUND_MS} ms`);
  }
  if (violations.length > 0) {
    throw new Error(
      `${violations.join('\n')}\npartitions: ${JSON.stringify(playback.applied)}\n${plan.describe()}\n` +
        `${extras.describe?.() ?? ''}\n` +
        `ends: ${JSON.stringify([...ends].map(([id, e]) => [id, e.status, e.ms, e.error && String(e.error)]))}`,
    );
  }
}
