import { createServer } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwoPhaseCoordinator } from '../../src/two-phase/coordinator.js';

// A participant whose server refuses connections (down, restarting): the transaction fails with the error, and
// nothing else. Every enlistment's promise is kept by the run until the callback ends, and one of them used to
// reject with nobody listening: an unhandled rejection, which ends a Node process run with the default
// --unhandled-rejections=throw, on every transaction that touched a server that was down.
describe('2PC with a participant that cannot be reached', () => {
  let unreachable: pg.Pool;

  beforeAll(async () => {
    unreachable = new pg.Pool({ host: '127.0.0.1', port: await closedPort(), user: 'nobody', max: 1 });
    unreachable.on('error', () => {});
  });
  afterAll(() => unreachable.end());

  it('fails the transaction with the connection error and leaves no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const coordinator = new TwoPhaseCoordinator({
        id: 'unreachable',
        participants: { a: unreachable },
        log: unreachable,
      });
      await expect(
        coordinator.transaction(async (tx) => {
          await tx.query('a', 'SELECT 1');
        }),
      ).rejects.toMatchObject({ message: expect.stringMatching(/ECONNREFUSED|connect/) });
      // Node reports unhandled rejections once the microtasks of a turn are done, before the next phase of the
      // event loop: by the time a setImmediate callback runs, any report of this transaction has been made.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });
});

/** A local port nothing listens on: one the system just gave out and that was closed again. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
