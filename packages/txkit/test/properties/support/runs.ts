import fc from 'fast-check';

/** Runs per property: `TXKIT_PROPERTY_RUNS` (the soak sets 2000), else the CI default. */
export function propertyRuns(ciDefault: number): number {
  const fromEnv = Number(process.env.TXKIT_PROPERTY_RUNS);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : ciDefault;
}

/** A vitest timeout for a property of `runs` runs of at most `msPerRun` each (plus set-up). */
export function propertyTimeout(runs: number, msPerRun = 4_000): number {
  return 60_000 + runs * msPerRun;
}

/**
 * fast-check parameters: runs, the seed from `TXKIT_PROPERTY_SEED` (and `TXKIT_PROPERTY_PATH` to replay one
 * shrunk case), verbose reports. On failure fast-check's message holds the seed, the path and the shrunk
 * counterexample; `fc.assert` throws it, so vitest prints it.
 */
export function propertyParameters<T>(runs: number, endOnFailure = false): fc.Parameters<T> {
  const seed = Number(process.env.TXKIT_PROPERTY_SEED);
  const path = process.env.TXKIT_PROPERTY_PATH;
  return {
    numRuns: runs,
    verbose: fc.VerbosityLevel.Verbose,
    endOnFailure,
    ...(Number.isInteger(seed) ? { seed } : {}),
    ...(path ? { path } : {}),
  };
}

/** Runs `check` and logs what it did (seed, runs, time), for the soak record. */
export async function assertProperty<T>(
  name: string,
  property: fc.IAsyncProperty<T>,
  runs: number,
): Promise<void> {
  const started = Date.now();
  const details = await fc.check(property, propertyParameters<T>(runs));
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    `[property] ${name}: ${details.numRuns} runs, seed ${details.seed}, ${seconds} s, ${details.failed ? 'FAILED' : 'passed'}`,
  );
  if (details.failed) {
    // The same report fc.assert throws: seed, path and the shrunk counterexample, ready to replay.
    throw new Error(`${name}\n${fc.defaultReportMessage(details)}`);
  }
}
