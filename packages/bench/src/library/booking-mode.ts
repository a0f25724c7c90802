import type pg from 'pg';

/** The three databases of the booking workload, one per PostgreSQL instance. */
export interface BenchDatabases {
  seats: pg.Pool;
  payments: pg.Pool;
  tickets: pg.Pool;
}

/** One booking: take a seat, take the money, issue the ticket. */
export interface BookingRequest {
  /** Unique per booking (uuid); also the idempotency key. */
  bookingId: string;
  seatId: number;
  customerId: number;
  amountCents: number;
  /**
   * The payment step refuses this booking (a declined card). Decided by the load runner from the request's
   * sequence number, so every mode sees the same declines; absent means false (callers from before declines).
   */
  declinePayment?: boolean;
}

/** What became of a booking: `rejected` when the seat was taken, `declined` when the payment was refused. */
export type BookingResult = 'confirmed' | 'rejected' | 'declined';

/**
 * A way of making the booking's three writes all-or-nothing: a protocol under test or a baseline.
 * The same {@link BookingRequest} stream is fed to every mode in one run, so their numbers can be compared.
 */
export interface BookingMode {
  /** Name on the command line and in reports (`local`, `2pc`, `raw-2pc`, `saga`, `raw-saga`, ...). */
  readonly name: string;
  /** One-line description for the report. */
  readonly description: string;
  /** True when all three tables live in the seats database (the `local` baseline); the audit reads there. */
  readonly singleDatabase?: boolean;
  /**
   * True when a declined payment is undone by a compensation (the seat was already committed and is released
   * afterwards), false or absent when it is rolled back before anything became visible.
   */
  readonly compensates?: boolean;
  /** Creates the mode's own tables or logs (after the workload schema exists). */
  setup?(dbs: BenchDatabases): Promise<void>;
  /** Books one seat. Throws only on an unexpected failure (a bug or a broken database). */
  book(request: BookingRequest): Promise<BookingResult>;
  /**
   * Waits for work the mode finishes after `book()` answered (a saga's end written after the answer), so that
   * the cell's CPU and its audit include it. Absent when a booking is done when it answers.
   */
  settle?(): Promise<void>;
  /** Log statements one booking costs, where the mode can count them. */
  logStatementsPerBooking?(): number | undefined;
  /**
   * Finishes what a killed process left behind (sagas to resume, prepared transactions to resolve) and resolves
   * once nothing is left; used by crash-injection runs. Absent when the mode has no recovery (raw baselines).
   */
  recover?(): Promise<void>;
  /** Empties the mode's own logs between measurement cells. */
  reset?(dbs: BenchDatabases): Promise<void>;
  /** Releases whatever `setup` made (pools, services). */
  close?(): Promise<void>;
}

/** Builds a mode over the bench databases. */
export type BookingModeFactory = (dbs: BenchDatabases) => BookingMode | Promise<BookingMode>;
