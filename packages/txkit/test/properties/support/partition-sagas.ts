import fc from 'fast-check';
import type { SagaRunnerOptions } from '../../../src/index.js';
import { type FaultProxy, type FaultScheduleStep, SAGA_FAULT_POINTS } from '../../../src/testing/index.js';
import { type PointPartition, pointPartitions, randomPartitions } from './partition-arbitraries.js';
import { type PartitionedSagas, partitionedNetwork } from './partition-network.js';
import type { StepPolicies } from './step-policies.js';
import { DATABASES, type World } from './world.js';

/** The runner cut off from its log by partitions: short lease and response bound, a few log retries. */
export const PARTITION_RUNNER = {
  leaseMs: 1_500,
  responseTimeoutMs: 500,
  logRetry: { maxAttempts: 3, initialDelayMs: 20, maxDelayMs: 100, backoffFactor: 2 },
} satisfies Partial<SagaRunnerOptions>;

/** Every round trip of the steps' own database work (their pools go through boundedPool, as the docs advise). */
const STEP_RESPONSE_TIMEOUT_MS = 500;

/**
 * The steps' policies under partitions: an attempt's database work fails within STEP_RESPONSE_TIMEOUT_MS
 * when its server is cut off, and a compensation retries for longer than a partition lasts (a link is out
 * for at most about 2.3 s: overlapping random switches within 800 ms, each healed within 1.5 s), as a
 * deployment's would; quick compensation retries would end sagas in the dead-letter state (`failed`) by
 * design, which is not what these properties test.
 */
export const PARTITION_POLICIES: StepPolicies = {
  retry: { maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 20, backoffFactor: 2 },
  compensationRetry: { maxAttempts: 10, initialDelayMs: 50, maxDelayMs: 1_000, backoffFactor: 2 },
  timeoutMs: 5_000,
};

/** Delays between attempts of a policy, at most. */
function delaysMs(policy: StepPolicies['retry']): number {
  const attempts = policy.maxAttempts ?? 1;
  let delay = policy.initialDelayMs ?? 0;
  let total = 0;
  for (let i = 1; i < attempts; i += 1) {
    total += Math.min(delay, policy.maxDelayMs ?? delay);
    delay *= policy.backoffFactor ?? 2;
  }
  return total;
}

/**
 * The bound of one `run()` of a saga of `steps` steps, from `docs/operations.md`: every step within its
 * `timeoutMs` × attempts (and the delays between them), every compensation likewise, and every log write
 * (start, each step's and each compensation's records, the end; counted twice over for claims and renewals)
 * within `logRetry` attempts of `responseTimeoutMs`.
 */
export function sagaCallBoundMs(steps: number, policies: StepPolicies = PARTITION_POLICIES): number {
  const { retry, compensationRetry, timeoutMs } = policies;
  const step = timeoutMs * (retry.maxAttempts ?? 1) + delaysMs(retry);
  const compensation = timeoutMs * (compensationRetry.maxAttempts ?? 1) + delaysMs(compensationRetry);
  const log = PARTITION_RUNNER.logRetry;
  const logWrites = 2 * (2 + 2 * steps);
  const logWrite = log.maxAttempts * PARTITION_RUNNER.responseTimeoutMs + delaysMs(log);
  return steps * (step + compensation) + logWrites * logWrite;
}

/** Where a saga run's partitions fall: random ones over its first 800 ms, and 0-2 at saga points. */
export interface SagaPartitions {
  random: FaultScheduleStep[];
  atPoints: PointPartition[];
}

/** Partitions of one participant or of the saga log's database (`a`), at random and at the steps' points. */
export function sagaPartitions(steps: readonly string[]): fc.Arbitrary<SagaPartitions> {
  return fc.record({
    random: randomPartitions(DATABASES),
    atPoints: pointPartitions(SAGA_FAULT_POINTS, DATABASES, steps),
  });
}

/** The partitioned network of one saga run, with the runner's options and the bound of its calls. */
export function partitionedSagas(
  world: World,
  proxy: FaultProxy,
  partitions: SagaPartitions,
  steps: number,
): PartitionedSagas {
  return {
    network: partitionedNetwork(world, proxy, { ...partitions, responseTimeoutMs: STEP_RESPONSE_TIMEOUT_MS }),
    runner: PARTITION_RUNNER,
    policies: PARTITION_POLICIES,
    boundMs: sagaCallBoundMs(steps),
  };
}
