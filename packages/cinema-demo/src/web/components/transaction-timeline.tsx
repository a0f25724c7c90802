import type { TimelineEvent } from '../api/types';
import { clock } from '../format';

/** One row of the timeline: a step, compensation or phase with its latest status. */
interface TimelineRow extends TimelineEvent {
  /** Statuses it went through, oldest first (e.g. running → completed). */
  history: string[];
}

/**
 * Folds consecutive events of the same step (started, retrying, completed) into one row that shows the latest
 * status, so the timeline reads as the list of things that happened.
 */
export function timelineRows(events: readonly TimelineEvent[]): TimelineRow[] {
  const rows: TimelineRow[] = [];
  for (const e of events) {
    const last = rows.at(-1);
    if (last && last.kind === e.kind && last.name === e.name) {
      last.history.push(e.status);
      last.status = e.status;
      last.at = e.at;
      last.detail = e.detail ?? last.detail;
    } else rows.push({ ...e, history: [e.status] });
  }
  return rows;
}

function tone(status: string): 'ok' | 'bad' | 'busy' | 'neutral' {
  if (/^(completed|committed|confirmed|prepared|compensated|cancelled)\b/.test(status)) return 'ok';
  if (/^(failed|rejected|aborted|error)\b/.test(status)) return 'bad';
  if (/^(started|running|pending|compensating|retrying|sent|commit-pending)\b/.test(status)) return 'busy';
  return 'neutral';
}

const kindText: Record<TimelineEvent['kind'], string> = {
  request: 'booking',
  step: 'step',
  compensation: 'compensation',
  phase: 'two-phase commit',
};

/**
 * The person's booking as it happens: the saga's steps and compensations (marked ↩), or the two-phase
 * commit's phases, in order, each with its latest status and time.
 *
 * @example
 * <TransactionTimeline events={events} mode="saga" />
 */
export function TransactionTimeline({ events, mode }: { events: readonly TimelineEvent[]; mode: string }) {
  if (events.length === 0) return null;
  return (
    <section className="card timeline" aria-labelledby="timeline-title" data-testid="timeline">
      <h3 id="timeline-title">
        Transaction timeline <span className="muted">({mode === 'saga' ? 'saga' : 'two-phase commit'})</span>
      </h3>
      <ol>
        {timelineRows(events).map((e, i) => (
          <li
            // biome-ignore lint/suspicious/noArrayIndexKey: rows only grow at the end; the index is stable
            key={i}
            className={`tl-${tone(e.status)} tl-${e.kind}`}
            data-kind={e.kind}
            data-name={e.name}
            data-status={e.status}
          >
            <span className="tl-name">
              <span className="visually-hidden">{kindText[e.kind]} </span>
              {e.name}
            </span>
            <time dateTime={e.at}>{clock(e.at)}</time>
            <span className="tl-status">
              {e.history.length > 1 ? e.history.join(' → ') : e.status}
              {e.detail && <span className="tl-detail"> · {e.detail}</span>}
            </span>
          </li>
        ))}
      </ol>
    </section>
  );
}
