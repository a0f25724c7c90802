/**
 * The caller stopped waiting for some work: it is not known to have failed, only to be unfinished. The work
 * itself goes on in the background, so whatever it does must have bounds of its own (lock and statement
 * timeouts, the saga runner's wait limit) for abandoned work not to pile up.
 *
 * @example
 * if (error instanceof DeadlineExceededError) report.unsettled.push({ bookingId, reason: error.message });
 */
export class DeadlineExceededError extends Error {
  constructor(
    readonly what: string,
    readonly ms: number,
  ) {
    super(`${what}: no answer within ${ms} ms`);
    this.name = 'DeadlineExceededError';
  }
}

/**
 * Waits for `work` at most `ms`: resolves or rejects as it does, or rejects with a {@link DeadlineExceededError}
 * when the time is up first (a timer raced against it). Only the waiting stops: the work goes on.
 *
 * @example
 * const result = await withDeadline(settle(booking), 10_000, `booking ${booking.id}`);
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceededError(what, ms)), ms);
  });
  // Whichever loses the race must not become an unhandled rejection.
  work.catch(() => {});
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
