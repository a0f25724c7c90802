import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabases, type TestDatabases, testCluster } from '../../src/testing/index.js';
import type { TwoPhaseCoordinator } from '../../src/two-phase/coordinator.js';
import { recordTraces } from '../support/trace-recorder.js';
import {
  coordinatorOptions,
  createBookingTables,
  startCoordinator,
  writeBooking,
} from '../two-phase/support.js';

// The span tree of a two-phase commit as an application's OpenTelemetry SDK receives it.
describe('2PC traces', () => {
  const cluster = testCluster();
  const recorder = recordTraces();
  let dbs: TestDatabases;
  let coordinator: TwoPhaseCoordinator;

  beforeAll(async () => {
    dbs = await createTestDatabases(cluster, '2pc traces');
    await createBookingTables(dbs);
    coordinator = await startCoordinator(coordinatorOptions(dbs, 'separate', { id: 'traced' }));
  });
  afterAll(async () => {
    await recorder.stop();
    await dbs.drop();
  });
  beforeEach(() => recorder.reset());

  /** Children of `parent` as "name participant" strings, sorted (parallel phases start in any order). */
  function phases(parent: ReadableSpan): string[] {
    return recorder
      .childrenOf(parent)
      .map((s) => `${s.name} ${s.attributes['txkit.participant'] ?? ''}`.trim())
      .sort();
  }

  it('a committed transaction: one span with statements, prepare and commit per participant and the decision', async () => {
    const app = trace.getTracer('app');
    await app.startActiveSpan('POST /bookings', async (request) => {
      await coordinator.transaction(writeBooking('traced-commit'));
      request.end();
    });
    const [request] = recorder.named('POST /bookings');
    const [run] = recorder.named('txkit.2pc.transaction');
    expect(run!.parentSpanContext?.spanId).toBe(request!.spanContext().spanId);
    expect(run!.attributes).toMatchObject({
      'txkit.coordinator.id': 'traced',
      'txkit.outcome': 'committed',
      'txkit.participants': expect.arrayContaining(['seats', 'payments', 'tickets']),
    });
    expect(run!.status.code).toBe(SpanStatusCode.UNSET);
    expect(phases(run!)).toEqual(
      [
        'txkit.2pc.commit-prepared payments',
        'txkit.2pc.commit-prepared seats',
        'txkit.2pc.commit-prepared tickets',
        'txkit.2pc.decision',
        'txkit.2pc.prepare payments',
        'txkit.2pc.prepare seats',
        'txkit.2pc.prepare tickets',
        'txkit.2pc.statements payments',
        'txkit.2pc.statements seats',
        'txkit.2pc.statements tickets',
      ].sort(),
    );
    const [prepare] = recorder
      .named('txkit.2pc.prepare')
      .filter((s) => s.attributes['txkit.participant'] === 'payments');
    expect(prepare!.attributes).toMatchObject({
      'db.system.name': 'postgresql',
      'db.namespace': dbs.on('b').database,
      'txkit.gid': expect.stringMatching(/^tx:traced:/),
    });
  });

  it('an aborted transaction: the failing statement’s error on the transaction, rollbacks instead of commits', async () => {
    const failing = coordinator.transaction(async (tx) => {
      await tx.query('seats', 'INSERT INTO bookings (key, note) VALUES ($1, $2)', ['traced-abort', 'seats']);
      await tx.query('payments', 'INSERT INTO no_such_table VALUES (1)');
    });
    await expect(failing).rejects.toMatchObject({ code: '42P01' });
    const [run] = recorder.named('txkit.2pc.transaction');
    expect(run!.attributes).toMatchObject({ 'txkit.outcome': 'aborted', 'error.type': '42P01' });
    expect(run!.status.code).toBe(SpanStatusCode.ERROR);
    expect(phases(run!)).toEqual([
      'txkit.2pc.rollback payments',
      'txkit.2pc.rollback seats',
      'txkit.2pc.statements payments',
      'txkit.2pc.statements seats',
    ]);
  });

  it('a recovery pass is a span of its own with what it did', async () => {
    await coordinator.recover();
    const [pass] = recorder.named('txkit.2pc.recovery');
    expect(pass!.attributes).toMatchObject({ 'txkit.coordinator.id': 'traced', 'txkit.recovery.failed': 0 });
  });
});
