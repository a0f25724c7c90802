import fc from 'fast-check';
import type { FaultPoint } from '../../../src/faults.js';
import type { FaultProxyModeInput, FaultScheduleStep } from '../../../src/testing/index.js';

/** A fault of one link: cut, blackhole (healed delivering or losing what it held), latency, cut mid-stream. */
export const faultMode: fc.Arbitrary<FaultProxyModeInput> = fc.oneof(
  fc.constant<FaultProxyModeInput>('cut'),
  fc.constant<FaultProxyModeInput>('blackhole'),
  fc.constant<FaultProxyModeInput>({ mode: 'blackhole', onHeal: 'lose' }),
  fc.integer({ min: 5, max: 80 }).map((ms): FaultProxyModeInput => ({ mode: 'latency', ms })),
  fc.record({ bytes: fc.integer({ min: 1, max: 1_500 }), toServer: fc.boolean() }).map(
    ({ bytes, toServer }): FaultProxyModeInput => ({
      mode: 'cut-after',
      bytes,
      direction: toServer ? 'to-server' : 'to-client',
      connections: 1,
    }),
  ),
);

/**
 * Partitions at random times: 1-4 switches of one of `upstreams` within the first `windowMs`, each back to
 * pass after 50-1500 ms, as a sorted fault schedule.
 */
export function randomPartitions(
  upstreams: readonly string[],
  mode: fc.Arbitrary<FaultProxyModeInput> = faultMode,
  windowMs = 800,
): fc.Arbitrary<FaultScheduleStep[]> {
  return fc
    .array(
      fc.record({
        atMs: fc.integer({ min: 0, max: windowMs }),
        upstream: fc.constantFrom(...upstreams),
        mode,
        healAfterMs: fc.integer({ min: 50, max: 1_500 }),
      }),
      { minLength: 1, maxLength: 4 },
    )
    .map((faults) =>
      faults
        .flatMap(({ atMs, upstream, mode, healAfterMs }) => [
          { atMs, upstream, mode },
          { atMs: atMs + healAfterMs, upstream, mode: 'pass' as const },
        ])
        .sort((x, y) => x.atMs - y.atMs),
    );
}

/**
 * A partition at a protocol point: when the `occurrence`-th site matching `point` (and `step`, when given) is
 * reached, `upstream` switches to `mode`, and back to pass `healAfterMs` later.
 */
export interface PointPartition {
  point: FaultPoint;
  step?: string;
  occurrence: number;
  upstream: string;
  mode: FaultProxyModeInput;
  healAfterMs: number;
}

/** 0-2 partitions at the given protocol points (of the given steps, for sagas). */
export function pointPartitions(
  points: readonly FaultPoint[],
  upstreams: readonly string[],
  steps?: readonly string[],
): fc.Arbitrary<PointPartition[]> {
  return fc.array(
    fc.record(
      {
        point: fc.constantFrom(...points),
        step: steps ? fc.constantFrom(...steps) : fc.constant(undefined),
        occurrence: fc.integer({ min: 1, max: 2 }),
        upstream: fc.constantFrom(...upstreams),
        mode: faultMode,
        healAfterMs: fc.integer({ min: 50, max: 1_500 }),
      },
      { requiredKeys: ['point', 'occurrence', 'upstream', 'mode', 'healAfterMs'] },
    ),
    { maxLength: 2 },
  );
}
