import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { SagaRunner } from 'txkit';
import { startPostgresCluster } from 'txkit/testing';
import { median } from '../stats/median.js';
import { benchServerSettings } from './bench-cluster.js';
import { cpuUsed, openCpuMeter } from './cpu-meter.js';

/**
 * What a saga log's rows cost the log's server, layout by layout, with nothing else in the way: one connection
 * runs sagas one after another, each the seat step's transaction (`BEGIN`, the seat's update, the log's rows,
 * `COMMIT`) plus the log's end, group-committed eight at a time as txkit's runner does. Measured per saga: the
 * server's CPU (every process of the server, from /proc — so the machine must be this one) and the WAL written.
 * It answers one question of issue 18: how close to the floor's rows a log that recovery and idempotency can
 * use could come, whatever its code — the layouts are written by hand, txkit's as its migrations create it.
 * The CPU is the bench's meter's (`cpu-meter.ts`): the postmaster and every child, exited ones included.
 */
interface Layout {
  description: string;
  ddl?: string;
  /** The log's rows of one saga, inside the seat's transaction. */
  start(client: pg.ClientBase, saga: { id: string; key: string; input: string }): Promise<unknown>;
  /** The log's end of a batch of sagas, in its own transaction (none for a layout without an end). */
  end?(client: pg.ClientBase, ids: string[]): Promise<unknown>;
}

const LEASE = "now() + interval '30 s'";
const END_BATCH = 8;

const named = (name: string, text: string) => (client: pg.ClientBase, values: unknown[]) =>
  client.query({ name: `log-layouts-${name}`, text, values });

const updateSeat = named('seat', 'UPDATE seats SET booking_id = $1 WHERE id = $2');
const txkitInsert = named(
  'txkit-insert',
  `WITH fenced AS (
     INSERT INTO txk.saga (id, name, key, input, status, step, owner, lease_token, lease_until)
     VALUES ($1, 'book', $2, $3, 'running', 1, 'bench', $4, ${LEASE}) ON CONFLICT DO NOTHING RETURNING id),
   inserted AS (
     INSERT INTO txk.saga_step (saga_id, step, kind, status, attempt, output)
     SELECT fenced.id, 'seat', 'action', 'done', 1, 'null' FROM fenced ON CONFLICT DO NOTHING RETURNING 1)
   SELECT (SELECT count(*) FROM fenced)::int AS fenced, (SELECT count(*) FROM inserted)::int AS inserted`,
);
const txkitInsertAlone = named(
  'txkit-insert-alone',
  `INSERT INTO txk.saga (id, name, key, input, status, step, owner, lease_token, lease_until)
   VALUES ($1, 'book', $2, $3, 'running', 1, 'bench', $4, ${LEASE}) ON CONFLICT DO NOTHING RETURNING id`,
);
const txkitEnd = named(
  'txkit-end',
  `UPDATE txk.saga s SET step = 3, lease_until = ${LEASE}, updated_at = now(), status = 'completed',
     result = '{"ticket":"t"}', finished_at = now()
   FROM unnest($1::uuid[]) AS i(id) WHERE s.id = i.id AND s.status = 'running'`,
);

const layouts: Record<string, Layout> = {
  floor: {
    description: "the bench's saga-floor row: key, input, lease; one index; no end",
    ddl: `CREATE SCHEMA floor;
      CREATE TABLE floor.saga (key text PRIMARY KEY, input jsonb NOT NULL, lease_until timestamptz NOT NULL)`,
    start: (c, s) =>
      named('floor', `INSERT INTO floor.saga (key, input, lease_until) VALUES ($1, $2, ${LEASE})`)(c, [
        s.key,
        s.input,
      ]),
  },
  txkit: {
    description:
      "txkit's saga log (its migrations): saga row and the seat step's record; the end updates the row",
    start: (c, s) => txkitInsert(c, [s.id, s.key, s.input, randomUUID()]),
    end: (c, ids) => txkitEnd(c, [ids]),
  },
  'txkit-no-record': {
    description: "txkit's saga row without the local step's record row (its done-ness in the row's step)",
    start: (c, s) => txkitInsertAlone(c, [s.id, s.key, s.input, randomUUID()]),
    end: (c, ids) => txkitEnd(c, [ids]),
  },
  'txkit-no-end': {
    description: "txkit's saga row and record, and no end at all (what the end costs)",
    start: (c, s) => txkitInsert(c, [s.id, s.key, s.input, randomUUID()]),
  },
  'lease-table': {
    description:
      'the lease and the recovery index in a table of their own: the saga row has no index its end changes ' +
      '(a HOT update), the end deletes the lease row',
    ddl: `CREATE SCHEMA lt;
      CREATE TABLE lt.saga (id uuid PRIMARY KEY, name text NOT NULL, key text, input jsonb NOT NULL,
        status text NOT NULL, step integer NOT NULL, owner text NOT NULL, result jsonb, error jsonb,
        created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz) WITH (fillfactor = 80);
      CREATE UNIQUE INDEX ON lt.saga (name, key) WHERE key IS NOT NULL;
      CREATE TABLE lt.lease (saga_id uuid PRIMARY KEY, token uuid NOT NULL, lease_until timestamptz NOT NULL);
      CREATE INDEX ON lt.lease (lease_until)`,
    start: (c, s) =>
      named(
        'lease-table-start',
        `WITH s AS (INSERT INTO lt.saga (id, name, key, input, status, step, owner)
           VALUES ($1, 'book', $2, $3, 'running', 1, 'bench') ON CONFLICT DO NOTHING RETURNING id)
         INSERT INTO lt.lease (saga_id, token, lease_until) SELECT id, $4, ${LEASE} FROM s RETURNING saga_id`,
      )(c, [s.id, s.key, s.input, randomUUID()]),
    end: (c, ids) =>
      named(
        'lease-table-end',
        `WITH d AS (DELETE FROM lt.lease WHERE saga_id = ANY($1::uuid[]) RETURNING saga_id)
         UPDATE lt.saga s SET step = 3, updated_at = now(), status = 'completed', result = '{"ticket":"t"}',
           finished_at = now()
         FROM d WHERE s.id = d.saga_id`,
      )(c, [ids]),
  },
};

export interface LogLayoutResult {
  layout: string;
  description: string;
  /** Medians over the rounds, per saga. */
  serverCpuUs: number;
  walBytes: number;
}

/**
 * Runs every layout for `rounds` interleaved rounds of `sagas` sagas on one server (started here unless
 * `pgUrl` is given) and returns the medians.
 *
 * @example
 * const results = await runLogLayouts({ sagas: 3_000, rounds: 5 });
 */
export async function runLogLayouts(options: {
  sagas: number;
  rounds: number;
  pgUrl?: string;
  progress?: (line: string) => void;
}): Promise<LogLayoutResult[]> {
  const cluster = options.pgUrl
    ? undefined
    : await startPostgresCluster({ names: ['log'], settings: benchServerSettings });
  const connectionString = options.pgUrl ?? cluster!.instance('log').connectionString;
  // One connection runs the sagas; the other migrates and serves the CPU meter's reads.
  const pool = new pg.Pool({ connectionString, max: 2 });
  const client = await pool.connect();
  try {
    const meter = await openCpuMeter([pool]);
    if (!meter)
      throw new Error('log-layouts reads the server’s CPU from /proc: the server must run on this machine');
    // txkit's layout exactly as its migrations create it, in a schema of its own.
    await new SagaRunner({ pool, id: 'log-layouts', schema: 'txk', sagas: [] }).migrate();
    for (const layout of Object.values(layouts)) if (layout.ddl) await client.query(layout.ddl);
    await client.query(`CREATE TABLE seats (id int PRIMARY KEY, booking_id text);
      INSERT INTO seats SELECT g, NULL FROM generate_series(1, ${options.sagas}) g`);
    const samples = new Map<string, { cpu: number[]; wal: number[] }>();
    for (let round = 1; round <= options.rounds; round++) {
      for (const [name, layout] of Object.entries(layouts)) {
        await client.query(
          'UPDATE seats SET booking_id = NULL; TRUNCATE floor.saga, txk.saga, txk.saga_step, lt.saga, lt.lease',
        );
        await client.query('VACUUM ANALYZE');
        await client.query('CHECKPOINT');
        const { rows: before } = await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn() AS lsn');
        const cpuBefore = await meter.read();
        let pending: string[] = [];
        for (let i = 1; i <= options.sagas; i++) {
          const saga = { id: randomUUID(), key: `${round}-${i}`, input: `{"booking":"${round}-${i}"}` };
          await client.query('BEGIN');
          await updateSeat(client, [saga.key, i]);
          await layout.start(client, saga);
          await client.query('COMMIT');
          if (layout.end) {
            pending.push(saga.id);
            if (pending.length === END_BATCH || i === options.sagas) {
              await layout.end(client, pending);
              pending = [];
            }
          }
        }
        const cpuMs = cpuUsed(cpuBefore, await meter.read()).postgres;
        const { rows: wal } = await client.query<{ bytes: string }>(
          'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1) AS bytes',
          [before[0]!.lsn],
        );
        const sample = samples.get(name) ?? { cpu: [], wal: [] };
        sample.cpu.push((cpuMs / options.sagas) * 1e3);
        sample.wal.push(Number(wal[0]!.bytes) / options.sagas);
        samples.set(name, sample);
        options.progress?.(
          `round ${round} ${name}: ${sample.cpu.at(-1)!.toFixed(0)} µs, ${sample.wal.at(-1)!.toFixed(0)} B per saga`,
        );
      }
    }
    return Object.entries(layouts).map(([name, layout]) => ({
      layout: name,
      description: layout.description,
      serverCpuUs: median(samples.get(name)!.cpu)!,
      walBytes: median(samples.get(name)!.wal)!,
    }));
  } finally {
    client.release();
    await pool.end();
    await cluster?.destroy();
  }
}

/** The results as a markdown table, each layout against the floor. */
export function logLayoutsMarkdown(results: readonly LogLayoutResult[]): string {
  const floor = results.find((r) => r.layout === 'floor');
  const lines = [
    '| layout | server CPU µs per saga | − floor | WAL bytes per saga | what it is |',
    '| --- | ---: | ---: | ---: | --- |',
    ...results.map(
      (r) =>
        `| \`${r.layout}\` | ${r.serverCpuUs.toFixed(0)} | ${floor ? (r.serverCpuUs - floor.serverCpuUs).toFixed(0) : '–'} | ${r.walBytes.toFixed(0)} | ${r.description} |`,
    ),
  ];
  return lines.join('\n');
}
