import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParticipantOutcome } from '../../src/remote-saga/saga-participant.js';
import { SagaRunner } from '../../src/saga/saga-runner.js';
import { uniqueName } from '../support/broker-control.js';
import {
  bookingSaga,
  type RemoteBookingWorld,
  ROLES,
  type Role,
  startRemoteBookingWorld,
} from './fixtures/booking.js';

let world: RemoteBookingWorld;
let runner: SagaRunner;
const outcomes: Array<{ role: Role; step: string; kind: string; outcome: ParticipantOutcome }> = [];
let definition: ReturnType<typeof bookingSaga>;

async function effects(role: Role, sagaId: string): Promise<string[]> {
  const { rows } = await world
    .pool(role)
    .query(`SELECT state FROM ${role}_effects WHERE saga_id = $1 ORDER BY id`, [sagaId]);
  return rows.map((r) => r.state);
}

beforeAll(async () => {
  world = await startRemoteBookingWorld(uniqueName('remote-step'), 'remote steps', (role, info) =>
    outcomes.push({ role, ...info }),
  );
  definition = bookingSaga(world.remote, world.queues);
  runner = new SagaRunner({ pool: world.pool('seats'), id: 'remote-runner', sagas: [definition] });
  await runner.migrate();
});

afterAll(() => world?.close());

describe('remote saga steps over RabbitMQ', () => {
  it('completes a saga whose three steps run on three participants, with their outputs', async () => {
    const outcome = await runner.run(definition, { seat: 'A1', amount: 10 });
    expect(outcome.status).toBe('completed');
    if (outcome.status !== 'completed') return;
    for (const role of ROLES) {
      expect(await effects(role, outcome.sagaId)).toEqual(['applied']);
      expect(outcome.result[role]).toEqual({ id: expect.any(Number) });
    }
  });

  it('compensates when the payment participant declines, with its reason', async () => {
    const outcome = await runner.run(definition, { seat: 'A2', amount: 10, decline: true });
    expect(outcome).toMatchObject({
      status: 'compensated',
      failedStep: 'payments',
      reason: 'payment-declined',
    });
    expect(await effects('seats', outcome.sagaId)).toEqual(['compensated']);
    expect(await effects('payments', outcome.sagaId)).toEqual([]);
    expect(await effects('tickets', outcome.sagaId)).toEqual([]);
    // The declined action rolled back its barrier row, so the payment compensation found nothing to undo. (A
    // participant reports a command once its reply is confirmed, which may be after the saga has ended.)
    await expect
      .poll(() => outcomes.filter((o) => o.role === 'payments' && o.kind === 'compensate').at(-1)?.outcome)
      .toBe('null-compensation');
  });

  it('retries a step that timed out; the barrier answers the second command with the first output', async () => {
    const outcome = await runner.run(definition, {
      seat: 'A3',
      amount: 10,
      slow: { role: 'tickets', ms: 2_500 },
    });
    expect(outcome.status).toBe('completed');
    if (outcome.status !== 'completed') return;
    expect(await effects('tickets', outcome.sagaId)).toEqual(['applied']);
    const ticketId = (
      await world.pool('tickets').query('SELECT id FROM tickets_effects WHERE saga_id = $1', [outcome.sagaId])
    ).rows[0].id;
    expect(outcome.result.tickets).toEqual({ id: ticketId });
    // The second command may be answered after the saga finished (the first reply answered both attempts).
    await expect
      .poll(() => outcomes.filter((o) => o.role === 'tickets' && o.kind === 'action').map((o) => o.outcome))
      .toEqual(expect.arrayContaining(['applied', 'duplicate']));
  });
});
