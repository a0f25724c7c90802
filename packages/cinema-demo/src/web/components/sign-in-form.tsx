import { type FormEvent, useEffect, useId, useState } from 'react';
import { ApiError, api } from '../api/client';
import type { CustomerName } from '../api/types';
import { useSession } from '../session/session-context';

/**
 * Demo sign-in: choose one of the customers, or sign up with a new name (a wallet with the starting balance).
 * The server answers with a signed, expiring HttpOnly session cookie.
 */
export function SignInForm() {
  const { signIn } = useSession();
  const [customers, setCustomers] = useState<CustomerName[]>([]);
  const [choice, setChoice] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const ids = { pick: useId(), name: useId(), error: useId() };

  useEffect(() => {
    api
      .customers()
      .then(({ customers }) => {
        setCustomers(customers);
        setChoice((c) => c || String(customers[0]?.id ?? ''));
      })
      .catch((e: Error) => setError(e.message));
  }, []);

  const submit = async (who: { customerId: number } | { name: string }) => {
    setBusy(true);
    setError(undefined);
    try {
      await signIn(who);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  const onPick = (event: FormEvent) => {
    event.preventDefault();
    if (choice) void submit({ customerId: Number(choice) });
  };
  const onSignUp = (event: FormEvent) => {
    event.preventDefault();
    if (name.trim()) void submit({ name: name.trim() });
  };

  return (
    <div className="sign-in">
      <form onSubmit={onPick} className="inline-form" aria-describedby={error ? ids.error : undefined}>
        <label htmlFor={ids.pick}>Book as</label>
        <select id={ids.pick} value={choice} onChange={(e) => setChoice(e.target.value)} disabled={busy}>
          {customers.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name}
            </option>
          ))}
        </select>
        <button type="submit" className="primary" disabled={busy || !choice}>
          Sign in
        </button>
      </form>
      <form onSubmit={onSignUp} className="inline-form">
        <label htmlFor={ids.name}>Or sign up as a new customer</label>
        <input
          id={ids.name}
          value={name}
          onChange={(e) => setName(e.target.value)}
          placeholder="Your name"
          maxLength={40}
          autoComplete="name"
          disabled={busy}
        />
        <button type="submit" disabled={busy || name.trim().length < 2}>
          Sign up
        </button>
      </form>
      {error && (
        <p id={ids.error} role="alert" className="error-text">
          {error}
        </p>
      )}
    </div>
  );
}
