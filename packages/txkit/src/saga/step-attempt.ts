import { StepTimeoutError } from '../errors.js';

/** How one attempt runs: its time limit, the signal that stops it early, and what a timeout error says. */
export interface AttemptOptions {
  timeoutMs: number | undefined;
  parent: AbortSignal;
  label: string;
  context: Record<string, unknown>;
}

/**
 * Runs one attempt of a step's action or compensation with a time limit. The attempt gets a signal that fires
 * at `timeoutMs` (with a {@link StepTimeoutError}) or when `parent` fires (lease lost); the runner stops
 * waiting at that moment, whether or not the step honours the signal — a step that keeps running after its
 * timeout is why steps must be idempotent and compensations guarded by the barrier.
 */
export async function runAttempt<T>(
  work: (signal: AbortSignal) => Promise<T> | T,
  options: AttemptOptions,
): Promise<T> {
  const controller = new AbortController();
  const { signal } = controller;
  const onParentAbort = () => controller.abort(options.parent.reason);
  if (options.parent.aborted) onParentAbort();
  else options.parent.addEventListener('abort', onParentAbort, { once: true });
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(
          () =>
            controller.abort(
              new StepTimeoutError(`${options.label} timed out after ${options.timeoutMs} ms`, {
                context: options.context,
              }),
            ),
          options.timeoutMs,
        );
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  const running = Promise.resolve().then(() => work(signal));
  // Whichever loses the race must not become an unhandled rejection.
  running.catch(() => {});
  aborted.catch(() => {});
  try {
    return await Promise.race([running, aborted]);
  } finally {
    if (timer) clearTimeout(timer);
    options.parent.removeEventListener('abort', onParentAbort);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
