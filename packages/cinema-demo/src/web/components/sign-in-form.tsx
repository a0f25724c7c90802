import { type FormEvent, useId, useState } from 'react';
import { ApiError } from '../api/client';
import { useSession } from '../session/session-context';

/**
 * Sign in with email and password, or sign up (name, email, password: a new wallet that starts empty and can be
 * topped up with demo money). The server answers with an expiring HttpOnly session cookie.
 */
export function SignInForm() {
  const { signIn, signUp } = useSession();
  const [mode, setMode] = useState<'sign-in' | 'sign-up'>('sign-in');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const ids = { email: useId(), password: useId(), name: useId(), error: useId() };
  const signingUp = mode === 'sign-up';

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      if (signingUp) await signUp({ email: email.trim(), password, name: name.trim() });
      else await signIn({ email: email.trim(), password });
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="sign-in">
      <form onSubmit={onSubmit} aria-describedby={error ? ids.error : undefined}>
        {signingUp && (
          <Field
            id={ids.name}
            label="Name"
            value={name}
            onChange={setName}
            disabled={busy}
            maxLength={40}
            autoComplete="name"
          />
        )}
        <Field
          id={ids.email}
          label="Email"
          type="email"
          value={email}
          onChange={setEmail}
          disabled={busy}
          autoComplete="username"
        />
        <Field
          id={ids.password}
          label="Password"
          type="password"
          value={password}
          onChange={setPassword}
          disabled={busy}
          autoComplete={signingUp ? 'new-password' : 'current-password'}
          minLength={signingUp ? 12 : undefined}
          maxLength={128}
        />
        <button type="submit" className="primary" disabled={busy}>
          {signingUp ? 'Create account' : 'Sign in'}
        </button>
      </form>
      <button
        type="button"
        className="link"
        onClick={() => {
          setMode(signingUp ? 'sign-in' : 'sign-up');
          setError(undefined);
        }}
      >
        {signingUp ? 'I have an account: sign in' : 'New here? Create an account'}
      </button>
      {error && (
        <p id={ids.error} role="alert" className="error-text">
          {error}
        </p>
      )}
    </div>
  );
}

interface FieldProps {
  id: string;
  label: string;
  value: string;
  onChange(value: string): void;
  disabled: boolean;
  type?: 'text' | 'email' | 'password';
  autoComplete: string;
  minLength?: number;
  maxLength?: number;
}

/** One labelled, required input of the form. */
function Field({ id, label, onChange, type = 'text', ...input }: FieldProps) {
  return (
    <p className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} type={type} onChange={(e) => onChange(e.target.value)} required {...input} />
    </p>
  );
}
