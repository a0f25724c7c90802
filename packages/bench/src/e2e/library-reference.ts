import pg from 'pg';
import { createBenchSchema, resetBenchData } from '../library/bench-schema.js';
import type { BenchDatabases, BookingMode } from '../library/booking-mode.js';
import { cpuUsed, openCpuMeter } from '../library/cpu-meter.js';
import { bookingModes } from '../library/modes/index.js';
import { type LoadSample, runLoad } from '../library/run-load.js';
import { type Contention, seatPicker } from '../library/seat-picker.js';

/** Seats of the library-level hall the reference cells book from. */
const SEAT_COUNT = 3000;

/** The library level of the same modes, on the e2e run's servers, to compare the demo against. */
export interface LibraryReference {
  /** One library-level cell of `mode`, measured with this process's CPU and the servers'. */
  cell(
    mode: string,
    o: {
      concurrency: number;
      contention: Contention;
      declineRate: number;
      durationMs: number;
      round: number;
    },
  ): Promise<LoadSample>;
  close(): Promise<void>;
}

/** A database of its own on each e2e server: the library modes' tables and txkit logs apart from the demo's. */
const LIBRARY_DATABASE = 'bench_library';

/**
 * txkit's own booking of the library bench (`library/modes`) on the e2e servers, in a database of its own on
 * each (its resets truncate txkit's logs, which must not touch the demo's), so that an e2e run measures both
 * levels under the same load of the machine.
 *
 * @example
 * const reference = await openLibraryReference(cluster.urls, ['saga', '2pc'], 40);
 * const sample = await reference.cell('saga', { concurrency: 8, contention: { kind: 'fresh' }, ... });
 */
export async function openLibraryReference(
  serverUrls: string[],
  modeNames: string[],
  poolSize: number,
): Promise<LibraryReference> {
  const pools: pg.Pool[] = [];
  for (const serverUrl of serverUrls) {
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    try {
      const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [
        LIBRARY_DATABASE,
      ]);
      if (rowCount === 0) await admin.query(`CREATE DATABASE ${LIBRARY_DATABASE}`);
    } finally {
      await admin.end();
    }
    const url = new URL(serverUrl);
    url.pathname = `/${LIBRARY_DATABASE}`;
    pools.push(new pg.Pool({ connectionString: url.toString(), max: poolSize }));
  }
  const [seats, payments, tickets] = pools as [pg.Pool, pg.Pool, pg.Pool];
  const dbs: BenchDatabases = { seats, payments, tickets };
  await createBenchSchema(dbs, SEAT_COUNT);
  const modes = new Map<string, BookingMode>();
  for (const name of modeNames) {
    const mode = await bookingModes[name]!(dbs);
    await mode.setup?.(dbs);
    modes.set(name, mode);
  }
  const meter = await openCpuMeter([dbs.seats, dbs.payments, dbs.tickets]);
  return {
    async cell(name, o) {
      const mode = modes.get(name)!;
      await resetBenchData(dbs, SEAT_COUNT);
      await mode.reset?.(dbs);
      const before = await meter?.read();
      const load = await runLoad({ mode, seats: seatPicker(o.contention), ...o });
      return before ? { ...load, cpuMs: cpuUsed(before, await meter!.read()) } : load;
    },
    async close() {
      for (const mode of modes.values()) await mode.close?.();
      await Promise.all(pools.map((pool) => pool.end()));
    },
  };
}
