import type { FaultProxy } from './fault-proxy.js';
import type { FaultProxyModeInput } from './fault-proxy-mode.js';

/**
 * One switch of a fault schedule: at `atMs` milliseconds after the playback started, set `upstream` to `mode`.
 *
 * @example
 * const schedule: FaultScheduleStep[] = [
 *   { atMs: 0, upstream: 'payments', mode: 'blackhole' },
 *   { atMs: 200, upstream: 'payments', mode: 'pass' },
 * ];
 */
export interface FaultScheduleStep {
  atMs: number;
  upstream: string;
  mode: FaultProxyModeInput;
}

/**
 * Options of {@link randomFaultSchedule}.
 *
 * @example
 * const options: RandomFaultScheduleOptions = { seed: 42, upstreams: ['seats', 'payments'], durationMs: 2_000 };
 */
export interface RandomFaultScheduleOptions {
  /** The same seed gives the same schedule. */
  seed: number;
  upstreams: readonly string[];
  /** Every switch falls within [0, durationMs). */
  durationMs: number;
  /** How many switches; default 6. */
  steps?: number;
  /**
   * The modes to draw from; default: pass, cut, blackhole (deliver and lose), latency 5-50 ms, and cut-after
   * 1-2048 bytes either way on the next connection.
   */
  modes?: readonly FaultProxyModeInput[];
}

/** mulberry32: a small seeded generator, enough to spread faults over time (not for anything secret). */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * A reproducible random schedule of mode switches over a bounded duration, sorted by time. Play it with
 * {@link playFaultSchedule}, which ends with every upstream back in `pass`. With fast-check, generate the steps
 * with its arbitraries instead (see the example of {@link playFaultSchedule}) to get shrinking.
 *
 * @example
 * const schedule = randomFaultSchedule({ seed: 7, upstreams: ['seats', 'payments'], durationMs: 1_000 });
 * const playback = playFaultSchedule(proxy, schedule);
 * await Promise.allSettled(bookings);
 * await playback.stop();
 */
export function randomFaultSchedule(options: RandomFaultScheduleOptions): FaultScheduleStep[] {
  const random = seededRandom(options.seed);
  const pick = <T>(items: readonly T[]): T => {
    if (items.length === 0) throw new RangeError('randomFaultSchedule: nothing to pick from');
    return items[Math.floor(random() * items.length)]!;
  };
  const integer = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const drawMode = (): FaultProxyModeInput =>
    options.modes
      ? pick(options.modes)
      : pick<() => FaultProxyModeInput>([
          () => 'pass',
          () => 'cut',
          () => 'blackhole',
          () => ({ mode: 'blackhole', onHeal: 'lose' }),
          () => ({ mode: 'latency', ms: integer(5, 50) }),
          () => ({
            mode: 'cut-after',
            bytes: integer(1, 2048),
            direction: pick(['to-server', 'to-client'] as const),
            connections: 1,
          }),
        ])();
  const steps: FaultScheduleStep[] = [];
  for (let i = 0; i < (options.steps ?? 6); i += 1) {
    steps.push({
      atMs: Math.floor(random() * options.durationMs),
      upstream: pick(options.upstreams),
      mode: drawMode(),
    });
  }
  return steps.sort((a, b) => a.atMs - b.atMs);
}

/**
 * A schedule being played: `done` settles once every step was applied (or the playback was stopped) and every
 * upstream it touched is back in `pass`; it rejects if a switch failed (e.g. the proxy was closed).
 *
 * @example
 * const playback: FaultSchedulePlayback = playFaultSchedule(proxy, schedule);
 * await playback.done;
 * console.log(playback.applied.length, 'switches applied');
 */
export interface FaultSchedulePlayback {
  readonly done: Promise<void>;
  /** The steps applied so far, in order. */
  readonly applied: readonly FaultScheduleStep[];
  /** Skips the steps not yet due, restores `pass`, and waits for `done` (its rejection included). */
  stop(): Promise<void>;
}

/**
 * Plays a schedule of mode switches against a proxy, each at its time from now, once; then sets every upstream
 * the schedule names back to `pass`. It stops by itself after its last step (or earlier with `stop()`).
 *
 * @example
 * await fc.assert(fc.asyncProperty(
 *   fc.array(fc.record({
 *     atMs: fc.integer({ min: 0, max: 500 }),
 *     upstream: fc.constantFrom('seats', 'payments'),
 *     mode: fc.constantFrom<FaultProxyModeInput>('pass', 'cut', 'blackhole', { mode: 'latency', ms: 20 }),
 *   }), { maxLength: 5 }),
 *   async (schedule) => {
 *     const playback = playFaultSchedule(proxy, schedule);
 *     await coordinator.transaction(book).catch(() => {});
 *     await playback.stop();
 *     // ... recover, then check the invariants
 *   },
 * ));
 */
export function playFaultSchedule(
  proxy: FaultProxy,
  steps: readonly FaultScheduleStep[],
): FaultSchedulePlayback {
  const ordered = [...steps].sort((a, b) => a.atMs - b.atMs);
  const applied: FaultScheduleStep[] = [];
  let stopped = false;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const sleepUntil = (at: number) =>
    new Promise<void>((resolve) => {
      // stop() may have come while the previous switch was being applied: do not start a new wait then.
      if (stopped) return resolve();
      wake = resolve;
      timer = setTimeout(resolve, Math.max(0, at - performance.now()));
    });
  const play = async () => {
    const start = performance.now();
    try {
      for (const step of ordered) {
        await sleepUntil(start + step.atMs);
        if (stopped) break;
        await proxy.set(step.upstream, step.mode);
        applied.push(step);
      }
    } finally {
      clearTimeout(timer);
      const touched = new Set(ordered.map((s) => s.upstream));
      await Promise.all([...touched].map((name) => proxy.set(name, 'pass')));
    }
  };
  const done = play();
  // Whoever does not await `done` must not get an unhandled rejection; who awaits it still sees the error.
  done.catch(() => {});
  return {
    done,
    applied,
    stop() {
      stopped = true;
      wake?.();
      return done;
    },
  };
}
