/**
 * Exponential backoff with jitter, as used between reconnect attempts.
 *
 * @example
 * new AmqpConnection({ url, reconnect: { initialDelayMs: 200, maxDelayMs: 30_000 } });
 */
export interface BackoffOptions {
  /** Delay before the first retry (default 100 ms). */
  initialDelayMs?: number;
  /** Upper bound of any delay (default 10 s). */
  maxDelayMs?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /** Fraction of the delay randomised, 0-1 (default 0.2), so that many clients do not retry in lockstep. */
  jitter?: number;
}

/**
 * The delay before retry number `attempt` (1-based).
 *
 * @example
 * backoffDelay(3, { initialDelayMs: 100 }); // ~400 ms, ±20 %
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const initial = options.initialDelayMs ?? 100;
  const max = options.maxDelayMs ?? 10_000;
  const factor = options.factor ?? 2;
  const jitter = options.jitter ?? 0.2;
  const base = Math.min(max, initial * factor ** Math.max(0, attempt - 1));
  const spread = base * jitter * (Math.random() * 2 - 1);
  return Math.max(0, Math.min(max, Math.round(base + spread)));
}

/**
 * Resolves after `ms`, or at once when `signal` aborts.
 *
 * @example
 * await sleep(250, controller.signal);
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * The pause before a failed message is delivered again, after failed delivery number `deliveries`: `initialMs`
 * (default 100 ms) after the first failure, doubling with jitter up to `maxMs` (default 10 s) — long enough in
 * all (≈ 40 s over ten deliveries) to ride out a restart of whatever the handler depends on.
 *
 * @example
 * await sleep(redeliveryDelay(3)); // ~400 ms
 */
export function redeliveryDelay(deliveries: number, initialMs = 100, maxMs = 10_000): number {
  return backoffDelay(deliveries, { initialDelayMs: initialMs, maxDelayMs: maxMs });
}
