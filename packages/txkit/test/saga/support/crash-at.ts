import { type FaultHook, type SagaFaultPoint, SimulatedCrash } from '../../../src/faults.js';

/** A hook that crashes the first time `point` is reached for `step`; `hits` counts the times it was reached. */
export function crashAt(point: SagaFaultPoint, step: string): FaultHook & { hits: number } {
  const hook = Object.assign(
    (site: Parameters<FaultHook>[0]) => {
      if (site.point === point && site.step === step && hook.hits++ === 0) throw new SimulatedCrash(site);
    },
    { hits: 0 },
  );
  return hook;
}
