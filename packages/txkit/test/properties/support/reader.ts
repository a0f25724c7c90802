import { DATABASES, type DatabaseName, type World } from './world.js';

/** One reading of the three databases, one after another (PostgreSQL has no snapshot across databases). */
export interface Reading<T> {
  startMs: number;
  endMs: number;
  parts: Record<DatabaseName, T>;
}

/**
 * A concurrent reader: reads the databases one after another, over and over, until stopped, and keeps every
 * reading with its time window. The property then counts the mixed states among them.
 */
export function startReader<T>(world: World, read: (pool: import('pg').Pool) => Promise<T>) {
  const readings: Reading<T>[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const startMs = Date.now();
      const parts = {} as Record<DatabaseName, T>;
      for (const name of DATABASES) parts[name] = await read(world.pool(name));
      readings.push({ startMs, endMs: Date.now(), parts });
      // Leave the workload some air on two cores.
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  return {
    readings,
    async stop(): Promise<Reading<T>[]> {
      running = false;
      await loop;
      return readings;
    },
  };
}
