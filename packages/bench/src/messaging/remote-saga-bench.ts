import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { migrateBarrier, SagaRunner, type StepContext, saga, withBarrier } from 'txkit';
import { AmqpConnection, RemoteStepClient, remoteStep, SagaParticipant } from 'txkit/amqp';
import type { BenchDatabases } from '../library/booking-mode.js';
import { type LatencySummary, summariseLatencies } from '../stats/latency-summary.js';

/** One cell: a saga variant at one concurrency. */
export interface RemoteSagaCell {
  variant: 'in-process' | 'remote';
  concurrency: number;
  sagasPerSecond: number;
  completed: number;
  other: number;
  latency: LatencySummary;
}

type Role = keyof BenchDatabases;
const ROLES: readonly Role[] = ['seats', 'payments', 'tickets'];
interface Input {
  seat: number;
}

/** The participant's write: barrier and effect row in one local transaction, the same in both variants. */
async function applyAction(
  client: pg.PoolClient,
  role: Role,
  sagaId: string,
  seat: number,
): Promise<{ id: number }> {
  const { rows } = await client.query<{ id: number }>(
    `INSERT INTO bench_msg_${role} (saga_id, seat) VALUES ($1, $2) RETURNING id`,
    [sagaId, seat],
  );
  return { id: rows[0]!.id };
}

/**
 * The same three-step saga (seats, payments, tickets; each step a barrier-guarded insert in its own database)
 * with its steps run in the runner's process, and on three participants over RabbitMQ. Closed-loop clients,
 * `durationMs` per cell, variants interleaved.
 *
 * @example
 * const cells = await benchRemoteSaga(dbs, amqpUrl, { concurrency: [1, 8, 32], durationMs: 5_000 });
 */
export async function benchRemoteSaga(
  dbs: BenchDatabases,
  amqpUrl: string,
  options: { concurrency: readonly number[]; durationMs: number; rounds: number },
): Promise<RemoteSagaCell[]> {
  for (const role of ROLES) {
    await dbs[role].query(
      `DROP TABLE IF EXISTS bench_msg_${role}; CREATE TABLE bench_msg_${role} (id serial PRIMARY KEY, saga_id text NOT NULL, seat int NOT NULL)`,
    );
    await migrateBarrier(dbs[role]);
  }
  const prefix = `bench.saga.${randomUUID().slice(0, 8)}`;
  const maxConcurrency = Math.max(...options.concurrency);
  const closers: Array<() => Promise<void>> = [];
  try {
    for (const role of ROLES) {
      const connection = new AmqpConnection({ url: amqpUrl, name: `bench-participant-${role}` });
      const participant = new SagaParticipant(connection, {
        pool: dbs[role],
        queue: `${prefix}.${role}`,
        prefetch: maxConcurrency,
      }).handle<Input, { id: number }>(role, {
        action: (client, command) => applyAction(client, role, command.sagaId, command.input.seat),
      });
      await participant.migrate();
      await connection.connect();
      await participant.start();
      closers.push(async () => {
        await participant.stop();
        await connection.close();
      });
    }
    const runnerConnection = new AmqpConnection({ url: amqpUrl, name: 'bench-runner' });
    await runnerConnection.connect();
    const remote = new RemoteStepClient(runnerConnection);
    closers.push(async () => {
      await remote.stop();
      await runnerConnection.close();
    });

    const local = (role: Role) => ({
      run: (ctx: StepContext<Input, Record<string, unknown>>) =>
        withBarrier(dbs[role], ctx, 'action', async (client, gate) =>
          gate.apply ? applyAction(client, role, ctx.sagaId, ctx.input.seat) : null,
        ),
    });
    const stepOptions = { timeoutMs: 5_000 };
    const inProcess = saga<Input>('bench-in-process')
      .step('seats', { ...local('seats'), ...stepOptions })
      .step('payments', { ...local('payments'), ...stepOptions })
      .step('tickets', { ...local('tickets'), ...stepOptions })
      .build();
    const overRabbit = saga<Input>('bench-remote')
      .step('seats', {
        ...remoteStep<Input>(remote, { queue: `${prefix}.seats`, compensate: false }),
        ...stepOptions,
      })
      .step('payments', {
        ...remoteStep<Input>(remote, { queue: `${prefix}.payments`, compensate: false }),
        ...stepOptions,
      })
      .step('tickets', {
        ...remoteStep<Input>(remote, { queue: `${prefix}.tickets`, compensate: false }),
        ...stepOptions,
      })
      .build();
    const runner = new SagaRunner({ pool: dbs.seats, id: 'bench-messaging', sagas: [inProcess, overRabbit] });
    await runner.migrate();

    const cells: RemoteSagaCell[] = [];
    for (const concurrency of options.concurrency) {
      const samples = {
        'in-process': { latencies: [] as number[], completed: 0, other: 0, seconds: 0 },
        remote: { latencies: [] as number[], completed: 0, other: 0, seconds: 0 },
      };
      for (let round = 0; round < options.rounds; round++) {
        for (const variant of ['in-process', 'remote'] as const) {
          const definition = variant === 'remote' ? overRabbit : inProcess;
          const sample = samples[variant];
          const deadline = performance.now() + options.durationMs;
          let seat = 0;
          const t0 = performance.now();
          await Promise.all(
            Array.from({ length: concurrency }, async () => {
              while (performance.now() < deadline) {
                const start = performance.now();
                const outcome = await runner.run(definition, { seat: seat++ });
                sample.latencies.push(performance.now() - start);
                if (outcome.status === 'completed') sample.completed++;
                else sample.other++;
              }
            }),
          );
          sample.seconds += (performance.now() - t0) / 1000;
        }
      }
      for (const variant of ['in-process', 'remote'] as const) {
        const sample = samples[variant];
        cells.push({
          variant,
          concurrency,
          sagasPerSecond: (sample.completed + sample.other) / sample.seconds,
          completed: sample.completed,
          other: sample.other,
          latency: summariseLatencies(sample.latencies),
        });
      }
    }
    return cells;
  } finally {
    for (const close of closers.reverse()) await close();
  }
}
