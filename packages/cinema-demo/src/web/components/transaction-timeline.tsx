import type { TimelineEvent } from '../api/types';
import { clock } from '../format';

const kindText: Record<TimelineEvent['kind'], string> = {
  request: 'Request',
  step: 'Saga step',
  compensation: 'Compensation',
  phase: '2PC phase',
};

function tone(status: string): 'ok' | 'bad' | 'busy' | 'neutral' {
  if (/^(completed|done|committed|confirmed|prepared|compensated|succeeded)$/.test(status)) return 'ok';
  if (/^(failed|rejected|aborted|rolled-back|error)$/.test(status)) return 'bad';
  if (/^(started|running|pending|preparing|committing|compensating|retrying|sent)$/.test(status))
    return 'busy';
  return 'neutral';
}

/**
 * The person's booking as it happens: the saga's steps and compensations, or the two-phase commit's phases,
 * in order, each with its time and status.
 *
 * @example
 * <TransactionTimeline events={events} mode="saga" />
 */
export function TransactionTimeline({ events, mode }: { events: readonly TimelineEvent[]; mode: string }) {
  if (events.length === 0) return null;
  return (
    <section className="card timeline" aria-labelledby="timeline-title">
      <h3 id="timeline-title">
        Transaction timeline <span className="muted">({mode === 'saga' ? 'saga' : 'two-phase commit'})</span>
      </h3>
      <ol>
        {events.map((e, i) => (
          <li
            // biome-ignore lint/suspicious/noArrayIndexKey: the list only grows; an index is a stable key here
            key={i}
            className={`tl-${tone(e.status)} tl-${e.kind}`}
          >
            <time dateTime={e.at}>{clock(e.at)}</time>
            <span className="tl-kind">{kindText[e.kind]}</span>
            <span className="tl-name">{e.name}</span>
            <span className="tl-status">{e.status}</span>
            {e.detail && <span className="tl-detail">{e.detail}</span>}
          </li>
        ))}
      </ol>
    </section>
  );
}
