import type pg from 'pg';
import type { TwoPhaseCoordinator } from 'txkit';
import type { BookingTimeline } from './booking-timeline.js';
import type { TwoPhaseSummary } from './operations-view.js';

const KEEP = 200;

/**
 * Keeps the recent 2PC transactions of this process with their phase, from the coordinator's events, and
 * lists prepared branches still unresolved on the participants (in doubt), whoever prepared them.
 *
 * @example
 * const monitor = new TwoPhaseMonitor(coordinator, { seats, payments, tickets });
 * monitor.recent(20);
 */
export class TwoPhaseMonitor {
  readonly #recent = new Map<string, TwoPhaseSummary>();
  readonly #participants: Record<string, pg.Pool>;
  readonly #timeline: BookingTimeline | undefined;

  constructor(
    coordinator: TwoPhaseCoordinator,
    participants: Record<string, pg.Pool>,
    timeline?: BookingTimeline,
  ) {
    this.#participants = participants;
    this.#timeline = timeline;
    coordinator.on('prepared', (e) => this.#note(e.transactionId, 'prepared', e.participants));
    coordinator.on('committed', (e) =>
      this.#note(
        e.transactionId,
        e.pending.length > 0 ? 'commit-pending' : e.onePhase ? 'committed (one-phase)' : 'committed',
        e.participants,
      ),
    );
    coordinator.on('aborted', (e) => this.#note(e.transactionId, 'aborted', e.participants));
    coordinator.on('commit-pending', (e) => this.#note(e.transactionId, 'commit-pending', [e.participant]));
    coordinator.on('recovered', (e) =>
      this.#note(e.transactionId, `recovered: ${e.outcome}`, [e.participant]),
    );
  }

  /** Most recent first. */
  recent(limit: number): TwoPhaseSummary[] {
    return [...this.#recent.values()].reverse().slice(0, limit);
  }

  /** Prepared branches of the participants' databases that nobody has committed or rolled back yet. */
  async inDoubt(): Promise<{ participant: string; gid: string; preparedAt: string }[]> {
    const found = await Promise.all(
      Object.entries(this.#participants).map(async ([participant, pool]) => {
        const { rows } = await pool.query<{ gid: string; prepared: Date }>(
          'SELECT gid, prepared FROM pg_prepared_xacts WHERE database = current_database() ORDER BY prepared',
        );
        return rows.map((r) => ({ participant, gid: r.gid, preparedAt: r.prepared.toISOString() }));
      }),
    );
    return found.flat();
  }

  #note(id: string, phase: string, participants: string[]): void {
    this.#timeline?.addFor(id, {
      kind: 'phase',
      name: 'two-phase commit',
      status: phase,
      detail: participants.join(', '),
    });
    const previous = this.#recent.get(id);
    this.#recent.delete(id);
    this.#recent.set(id, {
      id,
      phase,
      participants: participants.length > 0 ? participants : (previous?.participants ?? []),
      at: new Date().toISOString(),
    });
    if (this.#recent.size > KEEP) this.#recent.delete(this.#recent.keys().next().value as string);
  }
}
