import { ConnectionBadge } from './components/connection-badge';
import { OpsPage } from './pages/ops-page';
import { RoomPage } from './pages/room-page';
import { ScreeningsPage } from './pages/screenings-page';
import { href, useRoute } from './router';
import { useSession } from './session/session-context';

/** The app shell: header (brand, navigation, live indicator, who is signed in) and the current page. */
export function App() {
  const route = useRoute();
  const { customer, signOut } = useSession();
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="app-header">
        <a className="brand" href={href({ page: 'screenings' })}>
          <span className="brand-mark" aria-hidden="true" />
          txkit cinema
        </a>
        <nav aria-label="Main">
          <a href={href({ page: 'screenings' })} aria-current={route.page !== 'ops' ? 'page' : undefined}>
            Screenings
          </a>
          <a href={href({ page: 'ops' })} aria-current={route.page === 'ops' ? 'page' : undefined}>
            Operations
          </a>
        </nav>
        <div className="header-end">
          <ConnectionBadge />
          {customer && (
            <span className="account">
              <span className="avatar" aria-hidden="true">
                {customer.name.slice(0, 1)}
              </span>
              <span className="visually-hidden">Signed in as </span>
              <span className="account-name">{customer.name}</span>
              <button type="button" className="link" onClick={() => void signOut()}>
                Sign out
              </button>
            </span>
          )}
        </div>
      </header>
      {route.page === 'room' && <RoomPage key={route.screeningId} screeningId={route.screeningId} />}
      {route.page === 'ops' && <OpsPage />}
      {route.page === 'screenings' && <ScreeningsPage />}
      <footer className="app-footer muted small">
        Seats, payments and tickets live in three PostgreSQL databases; every booking is all-or-nothing.
      </footer>
    </>
  );
}
