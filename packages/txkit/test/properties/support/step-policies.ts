import type { RetryPolicy } from '../../../src/index.js';

/**
 * How a property's saga steps retry and how long an attempt may take. Quick retries by default (the crash
 * properties); partitions need compensations that outlast a partition (see partition-sagas.ts).
 */
export interface StepPolicies {
  retry: Partial<RetryPolicy>;
  compensationRetry: Partial<RetryPolicy>;
  timeoutMs: number;
}

export const QUICK_RETRIES: StepPolicies = {
  retry: { maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 20 },
  compensationRetry: { maxAttempts: 5, initialDelayMs: 5, maxDelayMs: 50 },
  timeoutMs: 5_000,
};
