/**
 * Fault injection points. The coordinator, the saga runner and the outbox relay call their `faults` hook (an
 * option meant for tests) at each named point; `txkit/testing` builds fault plans on top. Production code passes
 * no hook.
 */

/**
 * Crash and failure points of the two-phase coordinator.
 *
 * @example
 * const point: TwoPhaseFaultPoint = '2pc:after-decision';
 */
export type TwoPhaseFaultPoint =
  | '2pc:before-prepare'
  | '2pc:after-prepare'
  | '2pc:before-decision'
  | '2pc:after-decision'
  | '2pc:before-commit'
  | '2pc:after-commit';

/**
 * Crash and failure points of the saga runner.
 *
 * @example
 * const point: SagaFaultPoint = 'saga:after-step-effect';
 */
export type SagaFaultPoint =
  | 'saga:before-step'
  | 'saga:after-step-effect'
  | 'saga:after-step-record'
  | 'saga:before-compensation'
  | 'saga:after-compensation-effect'
  | 'saga:after-compensation-record';

/**
 * Crash and failure points of the outbox relay (around the publish of a claimed batch).
 *
 * @example
 * const point: OutboxFaultPoint = 'outbox:after-publish';
 */
export type OutboxFaultPoint = 'outbox:before-publish' | 'outbox:after-publish';

/**
 * Every named fault point.
 *
 * @example
 * const plan = new FaultPlan([{ point: '2pc:after-prepare' satisfies FaultPoint, kind: 'crash' }]);
 */
export type FaultPoint = TwoPhaseFaultPoint | SagaFaultPoint | OutboxFaultPoint;

/**
 * Where exactly a fault point was reached.
 *
 * @example
 * const hook: FaultHook = (site: FaultSite) => console.log(site.point, site.participant ?? site.step);
 */
export interface FaultSite {
  point: FaultPoint;
  /** 2PC: the transaction id; saga: the saga id; outbox: the relay's name. */
  id: string;
  /** 2PC: the participant, where the point is per participant. */
  participant?: string;
  /** Saga: the step name. */
  step?: string;
  /** Saga: the attempt number of the step (1-based). */
  attempt?: number;
}

/**
 * Called at every fault point. It may return (no fault), throw any error (a failure at that point, handled as
 * the protocol handles real failures there), or throw a {@link SimulatedCrash} (the process "dies" there).
 * Public so that users can prove their own flows with `txkit/testing`'s fault plans; never set in production.
 *
 * @example
 * const faults: FaultHook = (site) => {
 *   if (site.point === '2pc:after-decision') throw new SimulatedCrash(site);
 * };
 */
export type FaultHook = (site: FaultSite) => void | Promise<void>;

/**
 * Thrown by a fault hook to simulate the death of the process at a fault point. The protocol code must treat
 * it like a dying process: stop at once, run no further SQL (no rollback, no log write), destroy its pinned
 * connections (which lets PostgreSQL roll back unprepared work, as after a real crash), and rethrow it.
 *
 * @example
 * const faults: FaultHook = (site) => { if (site.point === '2pc:after-decision') throw new SimulatedCrash(site); };
 */
export class SimulatedCrash extends Error {
  readonly site: FaultSite;

  constructor(site: FaultSite) {
    super(
      `simulated crash at ${site.point}${site.participant ? ` (${site.participant})` : ''}${site.step ? ` (${site.step})` : ''}`,
    );
    this.name = 'SimulatedCrash';
    this.site = site;
  }
}

/**
 * Whether an error is a simulated crash (checked by name too, in case of two copies of the module).
 *
 * @example
 * const error = await coordinator.transaction(work).catch((e: unknown) => e);
 * if (isSimulatedCrash(error)) await restartedCoordinator.recover();
 */
export function isSimulatedCrash(error: unknown): error is SimulatedCrash {
  return (
    error instanceof SimulatedCrash || (error as { name?: string } | undefined)?.name === 'SimulatedCrash'
  );
}
