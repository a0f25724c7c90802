import { useState } from 'react';
import { ApiError, api } from '../api/client';
import { money } from '../format';
import { useSession } from '../session/session-context';

const AMOUNT_CENTS = 10_000;

/**
 * Adds demo money to the wallet. The server caps it (no wallet above the daily allowance, and at most that much
 * per 24 hours) and records every top-up, so the demo cannot mint money without limit.
 */
export function TopUpButton() {
  const { refresh } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const onClick = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await api.topUp(AMOUNT_CENTS);
      await refresh();
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" className="link" onClick={() => void onClick()} disabled={busy}>
        Add {money(AMOUNT_CENTS)} of demo money
      </button>
      {error && (
        <span role="alert" className="error-text small">
          {error}
        </span>
      )}
    </>
  );
}
