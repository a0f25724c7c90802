import type { Outcome } from './decision-log.js';

/**
 * Payload of the `prepared` event: every touched branch is prepared (two or more participants).
 *
 * @example
 * coordinator.on('prepared', ({ transactionId, gids }) => log.debug({ transactionId, gids }, 'prepared'));
 */
export interface PreparedEvent {
  transactionId: string;
  /** The prepared gids (the log participant's branch, when it carries the decision, is not prepared). */
  gids: string[];
}

/**
 * Payload of the `committed` event.
 *
 * @example
 * coordinator.on('committed', (e) => metrics.commitMs.observe(e.durationMs));
 */
export interface CommittedEvent {
  transactionId: string;
  participants: string[];
  /** True when only one participant was touched (plain COMMIT, no decision record). */
  onePhase: boolean;
  /** Branches whose COMMIT PREPARED failed and were left to recovery (see `commit-pending`). */
  pending: string[];
  durationMs: number;
}

/**
 * Payload of the `aborted` event: the transaction was rolled back before any commit decision.
 *
 * @example
 * coordinator.on('aborted', (e) => metrics.aborts.inc());
 */
export interface AbortedEvent {
  transactionId: string;
  participants: string[];
  /** Why: the callback's error, the failed PREPARE, the timeout, or the fence lost to recovery. */
  error: unknown;
}

/**
 * Payload of the `commit-pending` event: the transaction is committed, but this branch is not finished yet.
 *
 * @example
 * coordinator.on('commit-pending', (e) => log.warn({ gid: e.gid }, 'COMMIT PREPARED left to recovery'));
 */
export interface CommitPendingEvent {
  transactionId: string;
  participant: string;
  gid: string;
  error: unknown;
}

/**
 * Payload of the `recovered` event: recovery finished one in-doubt branch.
 *
 * @example
 * coordinator.on('recovered', (e) => log.info({ gid: e.gid, outcome: e.outcome }, 'recovered'));
 */
export interface RecoveredEvent {
  gid: string;
  transactionId: string;
  participant: string;
  outcome: Outcome;
  /** The coordinator that prepared the branch. */
  coordinatorId: string;
  /** Whether that coordinator was another one, whose lease had expired (a takeover of a dead instance's work). */
  takeover: boolean;
}

/**
 * Events of {@link TwoPhaseCoordinator}.
 *
 * @example
 * coordinator.on('commit-pending', (e) => log.warn(e, 'commit left to recovery'));
 */
export interface TwoPhaseEvents {
  /**
   * The transaction's branches are prepared (see {@link PreparedEvent.gids}) and its commit decision comes
   * next. Only transactions with two or more participants prepare.
   */
  prepared: (event: PreparedEvent) => void;
  /**
   * The transaction committed: its commit decision is durable, or its only participant committed. Branches in
   * `pending` are still prepared (each had a `commit-pending` event first) and recovery commits them.
   */
  committed: (event: CommittedEvent) => void;
  /**
   * The transaction ended without a commit decision and its branches were rolled back; a prepared branch whose
   * rollback failed is rolled back by recovery (presumed abort).
   */
  aborted: (event: AbortedEvent) => void;
  /**
   * COMMIT PREPARED of one branch kept failing after the commit decision. The outcome is already commit; the
   * branch stays prepared, holding its locks, until recovery commits it.
   */
  'commit-pending': (event: CommitPendingEvent) => void;
  /**
   * A recovery pass finished one in-doubt branch: committed when the decision log holds its transaction's
   * commit decision, rolled back when it holds none and the prepare timeout has passed (presumed abort).
   */
  recovered: (event: RecoveredEvent) => void;
  /** A background failure (a recovery pass, a listener): never an unhandled rejection. */
  error: (error: unknown) => void;
}
