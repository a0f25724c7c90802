import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { InProcessBus } from 'txkit/outbox';
import { SimulatedCrash } from 'txkit/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withDeadline } from '../src/deadline.js';
import { startApi } from '../src/server/api-runtime.js';
import { type DemoHarness, seatsOf, startHarness } from './support/demo-harness.js';
import { type Leftover, prepareLeftover } from './support/leftovers.js';
import { otherInstance } from './support/other-instance.js';

// An instance killed with prepared transactions in flight, started again: start-up must resolve what it can
// first, and then never wait behind what is left (seeding used to wait for a leftover holding a wallet).

const LOCK_TIMEOUT_MS = 200;
let h: DemoHarness;
const leftovers: Leftover[] = [];

beforeAll(async () => {
  h = await startHarness('start-up leftovers', { LOCK_TIMEOUT_MS: String(LOCK_TIMEOUT_MS) });
});
afterAll(async () => {
  for (const leftover of leftovers) await leftover.rollback();
  await h?.close();
});

it('start-up does not wait behind leftovers: recovery first, existing seed rows untouched, a lock wait named and bounded', async () => {
  // The instance that restarts crashed in a 2PC booking with its branches prepared (Alice's wallet held):
  // recovery resolves that before seeding.
  const instanceId = `restart-${randomUUID().slice(0, 8)}`;
  const dying = await otherInstance(h, {
    instanceId,
    prepareTimeoutMs: 1_000,
    faultHook: (site) => {
      if (site.point === '2pc:before-decision') throw new SimulatedCrash(site);
    },
  });
  const [seat] = await seatsOf(h.dbs, 5, 1);
  const crashed = await dying.service.book(
    1,
    { screeningId: 5, seatIds: [seat!], mode: '2pc' },
    randomUUID(),
  );
  expect(crashed.booking.status).toBe('pending');
  await dying.engine.stop();
  // Leftovers no recovery resolves: a dead 2PC charge holding Bob's wallet (seeding used to wait for it), and
  // one that inserted a customer seeding would insert (seeding meets that lock, names it, and gives up in time).
  const wallet = await prepareLeftover(
    h.dbs.payments,
    'SELECT 1 FROM cinema.customers WHERE id = $1 FOR UPDATE',
    [2],
  );
  leftovers.push(wallet);
  // Dave's account goes first (it refers to the customer row).
  await h.dbs.payments.query(
    "DELETE FROM cinema.accounts WHERE customer_id = (SELECT id FROM cinema.customers WHERE name = 'Dave')",
  );
  await h.dbs.payments.query("DELETE FROM cinema.customers WHERE name = 'Dave'");
  const dave = await prepareLeftover(
    h.dbs.payments,
    "INSERT INTO cinema.customers (name, balance_cents) VALUES ('Dave', 1)",
  );
  leftovers.push(dave);
  // Past the prepare timeout, the crashed branches are recovery's to abort.
  await withDeadline(untilOlderThan(`tx:${instanceId}:%`, 1_000), 10_000, 'the crashed branches to age');
  const logs: { level: number; msg: string; [key: string]: unknown }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line)) });
  try {
    const restarted = await withDeadline(
      startApi({
        config: { ...h.config, INSTANCE_ID: instanceId, PREPARE_TIMEOUT_MS: 1_000 },
        bus: new InProcessBus(),
        logger,
        withReadModel: false,
        dbs: h.dbs,
        sweepIntervalMs: false,
        startupWaitMs: 1_000,
      }),
      20_000,
      'start-up behind leftovers',
    );
    await restarted.close();
  } finally {
    await wallet.rollback();
    await dave.rollback();
  }
  const messages = logs.map((l) => l.msg);
  const resolved = messages.indexOf('resolved prepared transactions left by earlier instances');
  const waited = messages.findIndex((m) => m.startsWith('seeding customers waited'));
  expect(resolved).toBeGreaterThanOrEqual(0);
  expect(waited).toBeGreaterThan(resolved);
  expect(logs[resolved]!.aborted).toEqual(expect.arrayContaining([expect.stringContaining(instanceId)]));
  expect(messages[waited]).toContain(`cinema.customers locked by prepared transaction '${dave.gid}'`);
  expect(messages.some((m) => m.startsWith('seeding left out customers'))).toBe(true);
  const { rows } = await h.dbs.payments.query(
    'SELECT gid FROM pg_prepared_xacts WHERE database = current_database()',
  );
  expect(rows).toEqual([]);
});

/** Resolves once some prepared transaction with a gid like `pattern` exists and all of them are older than `ms`. */
async function untilOlderThan(pattern: string, ms: number): Promise<void> {
  for (;;) {
    const { rows } = await h.dbs.payments.query(
      `SELECT count(*)::int AS n, bool_and(prepared < now() - make_interval(secs => $2::float8 / 1000)) AS old
         FROM pg_prepared_xacts WHERE gid LIKE $1`,
      [pattern, ms],
    );
    if (rows[0].n > 0 && rows[0].old) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
