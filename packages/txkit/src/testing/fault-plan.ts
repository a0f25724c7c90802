import {
  type FaultHook,
  type FaultPoint,
  type FaultSite,
  type SagaFaultPoint,
  SimulatedCrash,
  type TwoPhaseFaultPoint,
} from '../faults.js';

/**
 * Every fault point of the two-phase coordinator, in protocol order.
 *
 * @example
 * const point = fc.constantFrom(...TWO_PHASE_FAULT_POINTS);
 */
export const TWO_PHASE_FAULT_POINTS: readonly TwoPhaseFaultPoint[] = Object.freeze([
  '2pc:before-prepare',
  '2pc:after-prepare',
  '2pc:before-decision',
  '2pc:after-decision',
  '2pc:before-commit',
  '2pc:after-commit',
]);

/**
 * Every fault point of the saga runner, in protocol order.
 *
 * @example
 * const point = fc.constantFrom(...SAGA_FAULT_POINTS);
 */
export const SAGA_FAULT_POINTS: readonly SagaFaultPoint[] = Object.freeze([
  'saga:before-step',
  'saga:after-step-effect',
  'saga:after-step-record',
  'saga:before-compensation',
  'saga:after-compensation-effect',
  'saga:after-compensation-record',
]);

/**
 * One planned fault: at the `occurrence`-th time (1-based) a site matching `point` (and `participant` /
 * `step`, when given) is reached, either `crash` (throw a {@link SimulatedCrash}: the process dies there) or
 * `fail` (throw an {@link InjectedFailure}: an ordinary error the protocol handles as a real failure there).
 *
 * @example
 * const spec: FaultSpec = { point: '2pc:before-commit', participant: 'tickets', occurrence: 1, kind: 'crash' };
 */
export interface FaultSpec {
  point: FaultPoint;
  participant?: string;
  step?: string;
  /** Which matching site fires (1 = the first); default 1. */
  occurrence?: number;
  kind: 'crash' | 'fail';
}

/**
 * A fault that fired: the spec, where it fired, and when (`Date.now()`).
 *
 * @example
 * const crashedAt = plan.fired.find((f) => f.spec.kind === 'crash')?.site.point;
 */
export interface FiredFault {
  spec: FaultSpec;
  site: FaultSite;
  atMs: number;
}

/**
 * The error a `fail` fault throws: a plain failure at that point (not a crash), e.g. a participant that
 * refuses to prepare or a step that fails after its effect.
 *
 * @example
 * if (error instanceof InjectedFailure) console.log('failed on purpose at', error.site.point);
 */
export class InjectedFailure extends Error {
  readonly site: FaultSite;

  constructor(site: FaultSite) {
    super(`injected failure at ${site.point}${site.participant ? ` (${site.participant})` : ''}`);
    this.name = 'InjectedFailure';
    this.site = site;
  }
}

/**
 * A fault plan: a list of {@link FaultSpec}s turned into the `faults` hook of a `TwoPhaseCoordinator` or a
 * `SagaRunner`, recording every site reached and every fault fired. After a crash fired, the plan's "process"
 * is dead: every later site of any transaction or saga of that coordinator / runner crashes too, as in a real
 * process death (no work of a dead process goes on). A test then "restarts": it builds a new coordinator or
 * runner without faults, runs `recover()` until nothing is left, and checks its invariants.
 *
 * @example
 * const plan = new FaultPlan([{ point: '2pc:after-decision', kind: 'crash' }]);
 * const dying = new TwoPhaseCoordinator({ id: 'app', participants, log, faults: plan.hook });
 * await dying.transaction(work).catch(() => {});           // rejects with SimulatedCrash
 * if (plan.crashed) await new TwoPhaseCoordinator({ id: 'app', participants, log }).recover();
 */
export class FaultPlan {
  readonly specs: readonly FaultSpec[];
  /** Faults that fired, in order. */
  readonly fired: FiredFault[] = [];
  /** Every site reached (faulted or not), with its time (`Date.now()`): a trace of what the protocol did. */
  readonly reached: { site: FaultSite; atMs: number }[] = [];
  readonly #counts = new Map<FaultSpec, number>();
  #crashed = false;

  constructor(specs: readonly FaultSpec[]) {
    this.specs = Object.freeze(specs.map((s) => Object.freeze({ ...s })));
  }

  /** Whether a crash fired (the "process" is dead: restart and recover). */
  get crashed(): boolean {
    return this.#crashed;
  }

  /** The hook to pass as the `faults` option. */
  readonly hook: FaultHook = (site) => {
    const atMs = Date.now();
    this.reached.push({ site, atMs });
    // A dead process runs nothing more: whatever else it had in flight stops at its next fault point.
    if (this.#crashed) throw new SimulatedCrash(site);
    for (const spec of this.specs) {
      if (!matches(spec, site)) continue;
      const count = (this.#counts.get(spec) ?? 0) + 1;
      this.#counts.set(spec, count);
      if (count !== (spec.occurrence ?? 1)) continue;
      this.fired.push({ spec, site, atMs });
      if (spec.kind === 'crash') {
        this.#crashed = true;
        throw new SimulatedCrash(site);
      }
      throw new InjectedFailure(site);
    }
  };

  /** A one-line description of the plan and what fired, for failure messages. */
  describe(): string {
    const fired = this.fired.map(
      (f) => `${f.spec.kind}@${f.site.point}(${f.site.participant ?? f.site.step ?? ''})`,
    );
    return `plan ${JSON.stringify(this.specs)}; fired: ${fired.join(', ') || 'none'}`;
  }
}

function matches(spec: FaultSpec, site: FaultSite): boolean {
  return (
    spec.point === site.point &&
    (spec.participant === undefined || spec.participant === site.participant) &&
    (spec.step === undefined || spec.step === site.step)
  );
}
