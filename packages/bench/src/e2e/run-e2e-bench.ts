import type { Scenario } from '../scenario/scenario.js';

/** End-to-end level: not built yet (see the bench README); fails loudly rather than pretending. */
export async function runE2eScenario(
  _scenario: Scenario,
  _out: string,
  _progress: (line: string) => void,
): Promise<void> {
  throw new Error('the e2e level is not implemented yet');
}
