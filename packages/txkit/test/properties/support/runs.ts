import fc from 'fast-check';

/** Runs per property: `TXKIT_PROPERTY_RUNS` (the soak script sets it), else the CI default. */
export function propertyRuns(ciDefault: number): number {
  const fromEnv = Number(process.env.TXKIT_PROPERTY_RUNS);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : ciDefault;
}

/** A vitest timeout for a property of `runs` runs of at most `msPerRun` each (plus set-up). */
export function propertyTimeout(runs: number, msPerRun = 4_000): number {
  const limit = propertyTimeLimitMs();
  // A time-limited soak ends after its limit plus the run in progress (and its shrinking, if it failed).
  const byRuns = 60_000 + runs * msPerRun;
  return limit ? Math.min(byRuns, 60_000 + limit + 20 * msPerRun) : byRuns;
}

/**
 * A soak's time limit (`TXKIT_PROPERTY_TIME_LIMIT_MS`, set by `scripts/soak.mjs --minutes`): no new run starts
 * after it, and the runs done so far are the result (not a failure).
 */
export function propertyTimeLimitMs(): number | undefined {
  const fromEnv = Number(process.env.TXKIT_PROPERTY_TIME_LIMIT_MS);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : undefined;
}

/**
 * fast-check parameters: runs, the seed from `TXKIT_PROPERTY_SEED` (and `TXKIT_PROPERTY_PATH` to replay one
 * shrunk case), verbose reports, the soak's time limit. On failure fast-check's message holds the seed, the
 * path and the shrunk counterexample; `fc.assert` throws it, so vitest prints it.
 */
export function propertyParameters<T>(runs: number, endOnFailure = false): fc.Parameters<T> {
  const seed = Number(process.env.TXKIT_PROPERTY_SEED);
  const path = process.env.TXKIT_PROPERTY_PATH;
  const timeLimit = propertyTimeLimitMs();
  return {
    numRuns: runs,
    verbose: fc.VerbosityLevel.Verbose,
    endOnFailure,
    ...(Number.isInteger(seed) ? { seed } : {}),
    ...(path ? { path } : {}),
    ...(timeLimit ? { interruptAfterTimeLimit: timeLimit, markInterruptAsFailure: false } : {}),
  };
}

const PROGRESS_EVERY_MS = 60_000;

/**
 * The property with its runs watched (and a progress line once a minute): `settled()` waits for the last run started to end. fast-check's time
 * limit abandons the run in progress (it races the run against the limit) and returns; that run goes on in the
 * background, and the suite's teardown must not drop its databases or close its proxy under it.
 */
function watchingRuns<T>(name: string, property: fc.IAsyncProperty<T>) {
  let last: Promise<unknown> = Promise.resolve();
  let started = 0;
  let reportedAt = Date.now();
  const watched = new Proxy(property, {
    get(target, key) {
      if (key === 'run') {
        return (...args: Parameters<typeof target.run>) => {
          started += 1;
          // A soak's progress, once a minute: fast-check itself reports only at the end.
          if (Date.now() - reportedAt >= PROGRESS_EVERY_MS) {
            reportedAt = Date.now();
            console.log(`[property progress] ${name}: run ${started} started at ${new Date().toISOString()}`);
          }
          const running = target.run(...args);
          last = running;
          return running;
        };
      }
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { watched, settled: () => last };
}

/**
 * Runs `check` and logs what it did (seed, runs, time), for the soak record. With a time limit, the run in
 * progress when it passed finishes before this returns, and its failure is reported like any other (with the
 * path that replays it; it is not shrunk).
 */
export async function assertProperty<T>(
  name: string,
  property: fc.IAsyncProperty<T>,
  runs: number,
): Promise<void> {
  const started = Date.now();
  const { watched, settled } = watchingRuns(name, property);
  const details = await fc.check(watched, propertyParameters<T>(runs));
  let abandoned: string | undefined;
  if (details.interrupted) {
    // fast-check resolves an interrupted run's outcome as "interrupted", not as the run's own: take it here.
    // The path of the nth run of a seed (no shrinking) is n - 1; the interrupted one is the run after the last.
    const outcome = await settled();
    if (outcome !== null && typeof outcome === 'object' && 'error' in outcome) {
      const error = (outcome as { error: unknown }).error;
      abandoned =
        `the run in progress at the time limit failed (replay: TXKIT_PROPERTY_SEED=${details.seed} ` +
        `TXKIT_PROPERTY_PATH=${details.numRuns}):\n${error instanceof Error ? error.message : String(error)}`;
    }
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const stopped = details.interrupted ? ' (time limit reached)' : '';
  const failed = details.failed || abandoned !== undefined;
  console.log(
    `[property] ${name}: ${details.numRuns} runs${stopped}, seed ${details.seed}, ${seconds} s, ${failed ? 'FAILED' : 'passed'}`,
  );
  if (abandoned) throw new Error(`${name}: ${abandoned}`);
  if (details.failed) {
    // The same report fc.assert throws: seed, path and the shrunk counterexample, ready to replay.
    // The report lists the counterexamples; the violations themselves are in the failing run's error.
    const why =
      details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    throw new Error(`${name}\n${fc.defaultReportMessage(details)}\nThe shrunk case failed with:\n${why}`);
  }
}

/**
 * For a deliberately broken variant: runs the property and returns fast-check's report of the failure it
 * must find (seed and counterexample), or throws if every run passed. Stops at the first failure.
 */
export async function expectPropertyFails<T>(
  name: string,
  property: fc.IAsyncProperty<T>,
  runs: number,
): Promise<string> {
  const details = await fc.check(property, propertyParameters<T>(runs, true));
  if (!details.failed)
    throw new Error(`${name}: ${details.numRuns} runs passed; the broken variant was not caught`);
  const cause =
    details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  const report = `${fc.defaultReportMessage(details) ?? ''}\nViolations:\n${cause}`;
  console.log(`[broken variant caught] ${name} after ${details.numRuns} runs:\n${report.slice(0, 1_500)}`);
  return report;
}
