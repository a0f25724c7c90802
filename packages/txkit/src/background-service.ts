/**
 * A periodic background pass (recovery, cleanup, relay polling) as a start/stop service: passes never overlap,
 * `stop()` waits for the pass in progress, and a failing pass is reported through `onError` (never an
 * unhandled rejection) and retried at the next tick.
 *
 * @example
 * const service: BackgroundService = coordinator.startRecovery({ intervalMs: 5_000 });
 * process.on('SIGTERM', () => service.stop());
 */
export interface BackgroundService {
  /** Runs a pass now (or waits for the one in progress and runs another) and resolves when it is done. */
  runNow(): Promise<void>;
  /** Stops the timer and waits for the pass in progress. Idempotent. */
  stop(): Promise<void>;
  /** Whether `stop()` has been called. */
  readonly stopped: boolean;
}

/**
 * Options of {@link startBackgroundService}.
 *
 * @example
 * const options: BackgroundServiceOptions = { intervalMs: 60_000, pass: cleanup, onError: (e) => log.warn(e) };
 */
export interface BackgroundServiceOptions {
  /** Time between the end of one pass and the start of the next. */
  intervalMs: number;
  /** The work of one pass. */
  pass: () => Promise<void>;
  /** Receives the error of a failed pass. */
  onError: (error: unknown) => void;
  /** Run the first pass at once (default) or after one interval. */
  runImmediately?: boolean;
}

/**
 * Starts a periodic pass, as txkit runs its own recovery and relay polling: passes never overlap, `stop()` waits
 * for the pass in progress, a failing pass goes to `onError` and the next tick runs again, and the timer alone does
 * not keep the process alive. Public for an application's own periodic jobs that want the same behaviour next to
 * txkit's (the cinema demo's stale-booking sweeper runs on it).
 *
 * @example
 * const sweeper = startBackgroundService({ intervalMs: 30_000, pass: () => sweepStaleBookings(), onError: log.warn });
 * process.on('SIGTERM', () => sweeper.stop());
 */
export function startBackgroundService(options: BackgroundServiceOptions): BackgroundService {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  // Passes run one after another on this chain, whoever asks for them (the timer or runNow).
  let chain: Promise<void> = Promise.resolve();

  const runOne = async () => {
    if (stopped) return;
    try {
      await options.pass();
    } catch (error) {
      options.onError(error);
    }
  };
  const enqueue = (): Promise<void> => {
    chain = chain.then(runOne);
    return chain;
  };
  const schedule = (delay: number) => {
    if (stopped) return;
    timer = setTimeout(async () => {
      timer = undefined;
      await enqueue();
      schedule(options.intervalMs);
    }, delay);
    // A recovery timer alone must not keep the process alive.
    timer.unref();
  };

  schedule(options.runImmediately === false ? options.intervalMs : 0);

  return {
    get stopped() {
      return stopped;
    },
    runNow: enqueue,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await chain;
    },
  };
}
