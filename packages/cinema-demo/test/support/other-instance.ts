import { randomUUID } from 'node:crypto';
import type { FaultHook } from 'txkit/testing';
import { BookingService } from '../../src/booking/booking-service.js';
import { TxkitBookingEngine } from '../../src/booking/txkit-engine.js';
import type { FaultSettings } from '../../src/config.js';
import type { DemoHarness } from './demo-harness.js';

/** The booking parts of another API instance on the harness's databases (no HTTP, no seat events). */
export interface OtherInstance {
  engine: TxkitBookingEngine;
  service: BookingService;
}

/**
 * Another instance to crash (a `SimulatedCrash` from `faultHook`) or to get stuck (a hook that waits), next to
 * the harness's own API, which plays the instance that survives. Its background recovery is not started.
 */
export async function otherInstance(
  h: DemoHarness,
  o: {
    /** Default: `other-<random>`; give the id of an earlier instance to play its restart. */
    instanceId?: string;
    faultHook?: FaultHook;
    faults?: FaultSettings;
    prepareTimeoutMs?: number;
    sagaLeaseMs?: number;
    onError?: (error: unknown) => void;
    answerWithinMs?: number;
  } = {},
): Promise<OtherInstance> {
  const outbox = { enqueue: async () => {} };
  const engine = new TxkitBookingEngine({
    dbs: h.dbs,
    instanceId: o.instanceId ?? `other-${randomUUID().slice(0, 8)}`,
    outbox,
    preparedOutbox: outbox,
    faults: o.faults ?? h.faults,
    lockTimeoutMs: h.config.LOCK_TIMEOUT_MS,
    prepareTimeoutMs: o.prepareTimeoutMs ?? h.config.PREPARE_TIMEOUT_MS,
    sagaLeaseMs: o.sagaLeaseMs,
    faultHook: o.faultHook,
  });
  await engine.migrate();
  const service = new BookingService({
    dbs: h.dbs,
    executor: engine,
    view: engine.view,
    bookingsPerMinute: 1000,
    onError: o.onError,
    answerWithinMs: o.answerWithinMs,
  });
  return { engine, service };
}
