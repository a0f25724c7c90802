import type pg from 'pg';
import type { WaterfallData } from '../booking/booking-waterfall.js';
import { SCHEMA } from '../db/statement.js';

export interface WaterfallStoreOptions {
  /** The seats database (where the bookings are). */
  pool: pg.Pool;
  /** How often queued timings are written (default 250 ms): one multi-row insert per flush. */
  flushEveryMs?: number;
  /** Most timings per insert (default 500); more wait for the next flush. */
  batchSize?: number;
  /** Most timings queued (default 5 000): beyond, the oldest are dropped (a database down for long). */
  maxQueued?: number;
  /** Flushes a timing may fail before it is dropped (default 5). */
  maxAttempts?: number;
  /** Bound of one insert's wait (default 5 s): a stuck database cannot stall the flushes for longer. */
  insertTimeoutMs?: number;
  /** A flush failed, or timings were dropped (`dropped` of them). */
  onError?: (error: unknown, dropped: number) => void;
}

interface Queued {
  bookingId: string;
  data: WaterfallData;
  attempts: number;
}

/**
 * The durable record of the bookings' waterfalls, written off the booking's path: {@link add} only queues, and a
 * timer writes what is queued every `flushEveryMs` in ONE multi-row insert into the seats database — never a
 * statement per booking. Bounded: a failed flush is logged and retried at the next tick, a timing that failed
 * `maxAttempts` flushes is dropped, and the queue drops its oldest beyond `maxQueued`; dropping loses only the
 * waterfall (the customer sees the coarser timeline instead), never a booking. Until written, a timing is
 * answered from the queue.
 *
 * @example
 * const store = new WaterfallStore({ pool: dbs.seats, onError: (e, n) => log.warn({ err: e, dropped: n }) });
 * store.start();
 * store.add(bookingId, data);
 * await store.get(bookingId); // [booking, cancellation?]
 * await store.stop(); // writes what is left
 */
export class WaterfallStore {
  readonly #o: Required<Omit<WaterfallStoreOptions, 'onError'>> & Pick<WaterfallStoreOptions, 'onError'>;
  #queue: Queued[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;

  constructor(o: WaterfallStoreOptions) {
    this.#o = {
      flushEveryMs: 250,
      batchSize: 500,
      maxQueued: 5_000,
      maxAttempts: 5,
      insertTimeoutMs: 5_000,
      ...o,
    };
  }

  /** Queues a finished transaction's timing (constant time; no I/O). */
  add(bookingId: string, data: WaterfallData): void {
    this.#queue.push({ bookingId, data, attempts: 0 });
    const over = this.#queue.length - this.#o.maxQueued;
    if (over > 0) {
      this.#queue.splice(0, over);
      this.#o.onError?.(new Error(`waterfall queue full (${this.#o.maxQueued})`), over);
    }
  }

  /** A booking's waterfalls, the booking's first, then its cancellation's: written ones and queued ones. */
  async get(bookingId: string): Promise<WaterfallData[]> {
    const { rows } = await this.#o.pool.query<WaterfallData>(
      `SELECT run, protocol, started_at AS "startedAt", total_ms AS "totalMs", outcome, bars
         FROM ${SCHEMA}.booking_waterfalls WHERE booking_id = $1`,
      [bookingId],
    );
    const byRun = new Map<string, WaterfallData>();
    for (const row of rows) byRun.set(row.run, { ...row, startedAt: new Date(row.startedAt).toISOString() });
    for (const q of this.#queue) if (q.bookingId === bookingId) byRun.set(q.data.run, q.data);
    return [...byRun.values()].sort((a, b) => (a.run === b.run ? 0 : a.run === 'booking' ? -1 : 1));
  }

  /** Starts the periodic flush. */
  start(): void {
    this.#timer ??= setInterval(() => void this.flush(), this.#o.flushEveryMs);
    this.#timer.unref();
  }

  /** Stops the periodic flush and writes what is queued (one last attempt). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  /** Writes up to `batchSize` queued timings in one insert; one flush at a time. Never rejects. */
  flush(): Promise<void> {
    if (this.#flushing || this.#queue.length === 0) return this.#flushing ?? Promise.resolve();
    this.#flushing = this.#write().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #write(): Promise<void> {
    const batch = this.#queue.slice(0, this.#o.batchSize);
    // A booking's run is written once per batch (a re-run cancellation: the latest timing wins).
    const latest = new Map(batch.map((q) => [`${q.bookingId}/${q.data.run}`, q]));
    const records = [...latest.values()].map(({ bookingId, data }) => ({
      booking_id: bookingId,
      run: data.run,
      protocol: data.protocol,
      started_at: data.startedAt,
      total_ms: data.totalMs,
      outcome: data.outcome,
      bars: data.bars,
    }));
    try {
      await this.#o.pool.query({
        text: `INSERT INTO ${SCHEMA}.booking_waterfalls (booking_id, run, protocol, started_at, total_ms, outcome, bars)
               SELECT booking_id, run, protocol, started_at, total_ms, outcome, bars
                 FROM jsonb_to_recordset($1::jsonb) AS r(booking_id uuid, run text, protocol text,
                      started_at timestamptz, total_ms double precision, outcome text, bars jsonb)
               ON CONFLICT (booking_id, run) DO UPDATE SET protocol = excluded.protocol,
                 started_at = excluded.started_at, total_ms = excluded.total_ms, outcome = excluded.outcome,
                 bars = excluded.bars`,
        values: [JSON.stringify(records)],
        query_timeout: this.#o.insertTimeoutMs,
      } as pg.QueryConfig);
      const written = new Set(batch);
      this.#queue = this.#queue.filter((q) => !written.has(q));
    } catch (error) {
      for (const q of batch) q.attempts++;
      const before = this.#queue.length;
      this.#queue = this.#queue.filter((q) => q.attempts < this.#o.maxAttempts);
      this.#o.onError?.(error, before - this.#queue.length);
    }
  }
}
