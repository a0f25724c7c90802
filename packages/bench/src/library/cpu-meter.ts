import { readdirSync, readFileSync } from 'node:fs';
import type pg from 'pg';

/** CPU time used so far, in milliseconds: this process's main thread, and each PostgreSQL server (all its processes). */
export interface CpuReading {
  nodeMs: number;
  postgresMs: number[];
}

/** Reads the CPU time of the load generator and of the bench's PostgreSQL servers. */
export interface CpuMeter {
  read(): Promise<CpuReading>;
}

// utime and stime of /proc/<pid>/stat are in clock ticks; Linux reports them at USER_HZ = 100.
const ticksPerSecond = 100;

/**
 * Measures where a cell's CPU went, so that modes can be compared by CPU per booking — on a shared, noisy
 * machine a steadier figure than throughput, and at saturation the one that decides it. Node's figure is the
 * main thread (the library and the load generator, not the inconsistency sampler's worker thread), or the
 * `nodeProcesses` (all their threads) when given; a server's
 * is its postmaster and every child (backends, WAL writer, checkpointer, autovacuum) but the backends of
 * `excludeApplication` (the sampler's: it reads at a fixed rate, so its CPU per booking would favour the
 * fastest mode). Linux only, and only for servers on this machine: returns `undefined` when /proc does not
 * show them (servers given by URL elsewhere).
 *
 * @example
 * const meter = await openCpuMeter([dbs.seats, dbs.payments, dbs.tickets]);
 * const before = await meter?.read();
 */
export async function openCpuMeter(
  pools: readonly pg.Pool[],
  options: {
    excludeApplication?: string;
    /** Processes to charge as `node` instead of this main thread (end to end: the API instances). */
    nodeProcesses?: () => readonly number[];
  } = {},
): Promise<CpuMeter | undefined> {
  try {
    const postmasters: number[] = [];
    for (const pool of pools) {
      const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      postmasters.push(readStat(rows[0]!.pid).ppid);
    }
    const mainThread = `/proc/self/task/${process.pid}/stat`;
    readStatFile(mainThread);
    return {
      async read() {
        const excluded = new Set<number>();
        if (options.excludeApplication !== undefined) {
          for (const pool of pools) {
            const { rows } = await pool.query<{ pid: number }>(
              'SELECT pid FROM pg_stat_activity WHERE application_name = $1',
              [options.excludeApplication],
            );
            for (const { pid } of rows) excluded.add(pid);
          }
        }
        const byParent = new Map<number, number>();
        const stats = new Map<number, ProcessStat>();
        for (const entry of readdirSync('/proc')) {
          const pid = Number(entry);
          if (!Number.isInteger(pid) || pid <= 0) continue;
          const stat = excluded.has(pid) ? undefined : tryReadStat(pid);
          if (!stat) continue;
          stats.set(pid, stat);
          byParent.set(stat.ppid, (byParent.get(stat.ppid) ?? 0) + stat.cpuMs);
        }
        const nodeProcesses = options.nodeProcesses?.();
        return {
          nodeMs: nodeProcesses
            ? nodeProcesses.reduce((sum, pid) => sum + (stats.get(pid)?.cpuMs ?? 0), 0)
            : readStatFile(mainThread).cpuMs,
          // A backend that exits (an idle pool connection closed) takes its CPU out of the children's sum and
          // into the postmaster's reaped-children figure: count both, so the total never goes down.
          postgresMs: postmasters.map(
            (pid) =>
              (stats.get(pid)?.cpuMs ?? 0) +
              (byParent.get(pid) ?? 0) +
              (stats.get(pid)?.reapedChildrenMs ?? 0),
          ),
        };
      },
    };
  } catch {
    return undefined;
  }
}

/** CPU milliseconds used between two readings: the main thread's, and all servers' together. */
export function cpuUsed(before: CpuReading, after: CpuReading): CpuUse {
  const postgres = after.postgresMs.reduce((sum, ms, i) => sum + ms - (before.postgresMs[i] ?? 0), 0);
  return { node: after.nodeMs - before.nodeMs, postgres };
}

/** CPU milliseconds of the load generator's main thread (`node`) and of the three servers (`postgres`). */
export interface CpuUse {
  node: number;
  postgres: number;
}

/** CPU used divided over `bookings` (undefined when there were none). */
export function perBooking(use: CpuUse, bookings: number): CpuUse | undefined {
  return bookings > 0 ? { node: use.node / bookings, postgres: use.postgres / bookings } : undefined;
}

/** CPU per booking as the report prints it: `node + postgres` ms. */
export function cpuText(perBookingMs: CpuUse | undefined): string {
  return perBookingMs ? `${perBookingMs.node.toFixed(2)} + ${perBookingMs.postgres.toFixed(2)}` : '–';
}

/**
 * CPU milliseconds one process (all its threads) used so far, or this process's main thread with `'main-thread'`;
 * undefined where /proc does not show it (not Linux, or the process ended).
 *
 * @example
 * const before = processCpuMs(haproxyPid);
 */
export function processCpuMs(pid: number | 'main-thread'): number | undefined {
  try {
    return readStatFile(pid === 'main-thread' ? `/proc/self/task/${process.pid}/stat` : `/proc/${pid}/stat`)
      .cpuMs;
  } catch {
    return undefined;
  }
}

/** What the meter reads of one process: its parent, its CPU, and the CPU of its children that ended. */
interface ProcessStat {
  ppid: number;
  cpuMs: number;
  reapedChildrenMs: number;
}

function tryReadStat(pid: number) {
  try {
    return readStat(pid);
  } catch {
    return undefined; // the process ended between the listing and the read
  }
}

function readStat(pid: number) {
  return readStatFile(`/proc/${pid}/stat`);
}

// Fields after the command name (which may hold spaces and parentheses), 0-based: 1 ppid, 11 utime, 12 stime,
// 13 cutime, 14 cstime (the CPU of children that ended and were waited for).
function readStatFile(path: string): ProcessStat {
  const text = readFileSync(path, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ms = (ticks: number) => (ticks * 1000) / ticksPerSecond;
  return {
    ppid: Number(fields[1]),
    cpuMs: ms(Number(fields[11]) + Number(fields[12])),
    reapedChildrenMs: ms(Number(fields[13]) + Number(fields[14])),
  };
}
