import type { SagaSummary } from '../api/types';
import { dateTime } from '../format';

/** The badge class of a status like "failed: payment-declined" or "resumed (running)": its first word. */
export const statusBadge = (status: string) => `badge ${/^[a-z-]+/.exec(status)?.[0] ?? ''}`;

/**
 * Sagas with what they are for (a booking or its cancellation, the booking, its customer), when they started,
 * their status and each step's (and compensation's) state.
 */
export function SagaTable({ sagas }: { sagas: SagaSummary[] }) {
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Saga</th>
          <th scope="col">Type</th>
          <th scope="col">Booking</th>
          <th scope="col">Customer</th>
          <th scope="col">Started</th>
          <th scope="col">Status</th>
          <th scope="col">Steps</th>
          <th scope="col">Updated</th>
        </tr>
      </thead>
      <tbody>
        {sagas.map((s) => (
          <tr key={s.id}>
            <td>
              <code title={s.id}>{s.id.slice(0, 8)}</code>
            </td>
            <td data-testid="saga-type">{s.type ?? s.name}</td>
            <td>{s.bookingId ? <code title={s.bookingId}>{s.bookingId.slice(0, 8)}</code> : '—'}</td>
            <td data-testid="saga-customer">{s.customer ? s.customer.name : '—'}</td>
            <td className="nowrap">{s.startedAt ? dateTime(s.startedAt) : '—'}</td>
            <td>
              <span className={statusBadge(s.status)}>{s.status}</span>
            </td>
            <td>
              <ol className="steps">
                {s.steps.map((step) => (
                  <li key={step.name} className={statusBadge(step.status)} title={step.error ?? undefined}>
                    {step.name}: {step.status}
                  </li>
                ))}
              </ol>
            </td>
            <td className="nowrap">{s.updatedAt ? dateTime(s.updatedAt) : '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
