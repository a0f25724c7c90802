import { type FormEvent, useEffect, useState } from 'react';
import { ApiError, api } from '../api/client';
import type { TransactionsView } from '../api/types';
import { SagaTable, statusBadge } from '../components/saga-table';
import { dateTime } from '../format';

const TOKEN_KEY = 'cinema-operator-token';

/**
 * Operations: recent sagas and two-phase transactions, prepared transactions still in doubt, and sagas that
 * are stuck or gave up compensating. Needs the operator token (kept for this tab only).
 */
export function OpsPage() {
  const [token, setToken] = useState(() => sessionStorage.getItem(TOKEN_KEY) ?? '');
  const [draft, setDraft] = useState('');
  const [view, setView] = useState<TransactionsView>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    if (!token) return;
    let stop = false;
    const load = () =>
      api
        .transactions(token)
        .then((v) => {
          if (stop) return;
          setView(v);
          setError(undefined);
        })
        .catch((e: unknown) => {
          if (stop) return;
          setError(e instanceof ApiError ? e.message : String(e));
          if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
            sessionStorage.removeItem(TOKEN_KEY);
            setToken('');
          }
        });
    void load();
    const timer = setInterval(load, 2000);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [token]);

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, draft.trim());
    setToken(draft.trim());
    setDraft('');
  };

  return (
    <main className="page" id="main">
      <h1>Operations</h1>
      {!token && (
        <form className="card inline-form" onSubmit={onSubmit}>
          <label htmlFor="operator-token">Operator token</label>
          <input
            id="operator-token"
            type="password"
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            autoComplete="off"
          />
          <button type="submit" className="primary" disabled={!draft.trim()}>
            Open
          </button>
          <p className="muted small" data-testid="token-hint">
            The token is the API's <code>OPERATOR_TOKEN</code>: with <code>npm start</code>, the one printed
            at start-up when none was set; with Docker Compose, the one in your <code>.env</code>.
          </p>
        </form>
      )}
      {error && (
        <p role="alert" className="error-text">
          {error}
        </p>
      )}
      {token && view && (
        <div className="ops-grid">
          <section className="card" aria-labelledby="doubt-title">
            <h2 id="doubt-title">
              In doubt{' '}
              <span className={`count ${view.inDoubt.length ? 'bad' : ''}`}>{view.inDoubt.length}</span>
            </h2>
            {view.inDoubt.length === 0 ? (
              <p className="muted">No prepared transaction is waiting for a decision.</p>
            ) : (
              <table>
                <thead>
                  <tr>
                    <th scope="col">Participant</th>
                    <th scope="col">Global id</th>
                    <th scope="col">Prepared</th>
                  </tr>
                </thead>
                <tbody>
                  {view.inDoubt.map((d) => (
                    <tr key={`${d.participant}:${d.gid}`}>
                      <td>{d.participant}</td>
                      <td>
                        <code>{d.gid}</code>
                      </td>
                      <td className="nowrap">{dateTime(d.preparedAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <section className="card" aria-labelledby="stuck-title">
            <h2 id="stuck-title">
              Stuck sagas{' '}
              <span className={`count ${view.stuck.length ? 'bad' : ''}`}>{view.stuck.length}</span>
            </h2>
            {view.stuck.length === 0 ? (
              <p className="muted">Every saga finished or compensated.</p>
            ) : (
              <SagaTable sagas={view.stuck} />
            )}
          </section>
          <section className="card wide" aria-labelledby="sagas-title">
            <h2 id="sagas-title">Recent sagas</h2>
            <SagaTable sagas={view.sagas} />
          </section>
          <section className="card wide" aria-labelledby="tpc-title">
            <h2 id="tpc-title">Recent two-phase commits</h2>
            <table>
              <thead>
                <tr>
                  <th scope="col">Transaction</th>
                  <th scope="col">Phase</th>
                  <th scope="col">Participants</th>
                  <th scope="col">At</th>
                </tr>
              </thead>
              <tbody>
                {view.twoPhase.map((t) => (
                  <tr key={t.id}>
                    <td>
                      <code>{t.id.slice(0, 8)}</code>
                    </td>
                    <td>
                      <span className={statusBadge(t.phase)}>{t.phase}</span>
                    </td>
                    <td>{t.participants.join(', ')}</td>
                    <td className="nowrap">{t.at ? dateTime(t.at) : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        </div>
      )}
      {token && (
        <button
          type="button"
          className="link"
          onClick={() => {
            sessionStorage.removeItem(TOKEN_KEY);
            setToken('');
            setView(undefined);
          }}
        >
          Forget the operator token
        </button>
      )}
    </main>
  );
}
