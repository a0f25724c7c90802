import { useId } from 'react';
import type { BookingMode, Customer } from '../api/types';
import { money } from '../format';
import { useSession } from '../session/session-context';
import { SignInForm } from './sign-in-form';
import { TopUpButton } from './top-up-button';

const modes: { value: BookingMode; title: string; text: string }[] = [
  {
    value: 'saga',
    title: 'Saga',
    text: 'Three local steps, each committed at once; undone by compensations if a later step fails.',
  },
  {
    value: '2pc',
    title: 'Two-phase commit',
    text: 'All three databases prepare, then commit together; nothing is visible before the decision.',
  },
];

interface BookingPanelProps {
  customer: Customer | undefined | null;
  selected: { id: number; name: string }[];
  priceCents: number;
  mode: BookingMode;
  onMode(mode: BookingMode): void;
  onUnselect(seatId: number): void;
  onBook(): void;
  busy: boolean;
}

/** Who books, which seats, in which mode, for how much — and the button. */
export function BookingPanel(props: BookingPanelProps) {
  const { customer, selected, priceCents, mode, busy } = props;
  const { signOut } = useSession();
  const ids = { mode: useId(), seats: useId(), total: useId(), short: useId() };
  const total = priceCents * selected.length;
  const short = customer ? customer.balanceCents < total : false;

  return (
    <section className="card booking-panel" aria-labelledby="booking-title">
      <h2 id="booking-title">Your booking</h2>
      {customer === null && <p className="muted">Checking your session…</p>}
      {customer === undefined && <SignInForm />}
      {customer && (
        <div className="who">
          <p>
            Booking as <strong data-testid="customer-name">{customer.name}</strong>
            <br />
            <span className="muted">
              Wallet <span data-testid="wallet">{money(customer.balanceCents)}</span>
            </span>
            <br />
            <TopUpButton />
          </p>
          <button type="button" className="link" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      )}

      <fieldset className="modes" disabled={busy}>
        <legend id={ids.mode}>Transaction mode</legend>
        {modes.map((m) => (
          <label key={m.value} className={`mode ${mode === m.value ? 'checked' : ''}`}>
            <input
              type="radio"
              name="mode"
              value={m.value}
              checked={mode === m.value}
              onChange={() => props.onMode(m.value)}
            />
            <span>
              <strong>{m.title}</strong>
              <span className="muted small">{m.text}</span>
            </span>
          </label>
        ))}
      </fieldset>

      <div className="selection">
        <h3 id={ids.seats}>Seats</h3>
        {selected.length === 0 ? (
          <p className="muted">Pick seats on the map (click, or arrow keys and Space).</p>
        ) : (
          <ul className="chips" aria-labelledby={ids.seats}>
            {selected.map((s) => (
              <li key={s.id}>
                {s.name}
                <button
                  type="button"
                  className="chip-x"
                  aria-label={`Remove seat ${s.name}`}
                  onClick={() => props.onUnselect(s.id)}
                  disabled={busy}
                >
                  ×
                </button>
              </li>
            ))}
          </ul>
        )}
      </div>

      <p className="total" id={ids.total}>
        <span>Total</span>
        <strong className="total-amount" data-testid="total">
          {money(total)}
        </strong>
      </p>
      {short && (
        <p className="warn-text" id={ids.short} data-testid="wallet-short">
          Your wallet holds {money(customer?.balanceCents ?? 0)}, less than the total: top it up or pick fewer
          seats to book.
        </p>
      )}
      <button
        type="button"
        className="primary big"
        disabled={!customer || selected.length === 0 || busy || short}
        onClick={props.onBook}
        aria-describedby={short ? `${ids.total} ${ids.short}` : ids.total}
      >
        {busy
          ? 'Booking…'
          : selected.length === 0
            ? 'Book seats'
            : `Book ${selected.length} seat${selected.length === 1 ? '' : 's'}`}
      </button>
    </section>
  );
}
