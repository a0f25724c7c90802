// In a file of its own, free of server imports, so that the web UI can import the types too.

/**
 * One bar of a booking's waterfall: a saga step or compensation attempt, or a two-phase commit's work on one
 * database or phase, on the lane of the database it ran in (or `coordinator` for the protocol's own work), at
 * its real start and duration.
 */
export interface WaterfallBar {
  /** `coordinator`, `seats`, `payments` or `tickets`. */
  lane: string;
  name: string;
  kind: 'step' | 'compensation' | 'phase';
  /** Milliseconds from the start of the transaction. */
  startMs: number;
  durationMs: number;
  failed: boolean;
  /** The attempt number of a retried step (1 for the first). */
  attempt?: number;
  /** The error code or reason of a failed bar, or what a phase covered. */
  detail?: string | null;
}

/** A booking's transaction (the booking's own, or its cancellation's) as bars on lanes, for the waterfall. */
export interface WaterfallData {
  run: 'booking' | 'cancellation';
  protocol: 'saga' | '2pc';
  /** When the transaction started (ISO 8601). */
  startedAt: string;
  /** Duration of the whole transaction, milliseconds. */
  totalMs: number;
  /** How it ended: `completed`, `compensated: seat-taken`, `committed`, `aborted`, … */
  outcome: string;
  bars: WaterfallBar[];
}
