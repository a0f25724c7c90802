/**
 * One bar of a booking's waterfall: a saga step or compensation attempt, or a two-phase commit phase, on the
 * lane of the database it ran in (or `coordinator` for the protocol's own work), at its real start and duration.
 */
export interface WaterfallBar {
  /** `coordinator`, `seats`, `payments` or `tickets`. */
  lane: string;
  name: string;
  kind: 'step' | 'compensation' | 'phase';
  /** Milliseconds from the start of the booking's transaction. */
  startMs: number;
  durationMs: number;
  failed: boolean;
  /** The attempt number of a retried step (1 for the first). */
  attempt?: number;
  /** The error code or reason of a failed bar. */
  detail?: string | null;
}

/** A booking's transaction as bars on lanes, for the web UI's waterfall. */
export interface WaterfallData {
  protocol: 'saga' | '2pc';
  /** Duration of the whole transaction, milliseconds. */
  totalMs: number;
  bars: WaterfallBar[];
}
