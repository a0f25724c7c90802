import type { StepTimeoutError } from '../errors.js';

/** How one attempt runs: its time limit, the signal that stops it early, and what a timeout error says. */
export interface AttemptOptions {
  timeoutMs: number | undefined;
  parent: AbortSignal;
  /** The error of an attempt that ran out of time, made only when one does (e.g. `step 'pay' timed out ...`). */
  timedOut: (timeoutMs: number) => StepTimeoutError;
}

/**
 * Runs one attempt of a step's action or compensation with a time limit. The attempt gets a signal that fires
 * at `timeoutMs` (with a {@link StepTimeoutError}) or when `parent` fires (lease lost); the runner stops
 * waiting at that moment, whether or not the step honours the signal — a step that keeps running after its
 * timeout is why steps must be idempotent and compensations guarded by the barrier.
 *
 * This runs for every attempt, so it costs what it must and no more: a step without a time limit is given the
 * parent's signal itself (it fires exactly when a signal of its own would, with the same reason), and the race
 * between the work and the signal is one promise with one listener, not a `Promise.race` of two.
 */
export function runAttempt<T>(
  work: (signal: AbortSignal) => Promise<T> | T,
  options: AttemptOptions,
): Promise<T> {
  const { parent, timeoutMs } = options;
  const controller = timeoutMs === undefined ? undefined : new AbortController();
  const signal = controller?.signal ?? parent;
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const onParentAbort = () => controller?.abort(parent.reason);
    // Settles once: whichever of the work and the signal comes second is ignored (never an unhandled rejection).
    const settle = (end: () => void) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      if (controller) parent.removeEventListener('abort', onParentAbort);
      signal.removeEventListener('abort', onAbort);
      end();
    };
    const onAbort = () => settle(() => reject(signal.reason));
    if (controller && timeoutMs !== undefined) {
      if (parent.aborted) onParentAbort();
      else parent.addEventListener('abort', onParentAbort, { once: true });
      if (!signal.aborted) {
        timer = setTimeout(() => controller.abort(options.timedOut(timeoutMs)), timeoutMs);
      }
    }
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    // The work starts in a microtask, as an `async` caller would start it: a step that throws synchronously
    // fails its attempt (a rejection), and never before the listeners above are in place.
    queueMicrotask(() => {
      let running: Promise<T> | T;
      try {
        running = work(signal);
      } catch (error) {
        settle(() => reject(error));
        return;
      }
      Promise.resolve(running).then(
        (value) => settle(() => resolve(value)),
        (error: unknown) => settle(() => reject(error)),
      );
    });
  });
}
