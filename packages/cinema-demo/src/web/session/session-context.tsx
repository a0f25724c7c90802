import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { ApiError, api } from '../api/client';
import type { Customer } from '../api/types';

interface SessionValue {
  /** The signed-in customer with their wallet, undefined when signed out, null while still checking. */
  customer: Customer | undefined | null;
  signIn(credentials: { email: string; password: string }): Promise<void>;
  signUp(account: { email: string; password: string; name: string }): Promise<void>;
  signOut(): Promise<void>;
  /** Reloads the wallet (after a booking or a cancellation). */
  refresh(): Promise<void>;
}

const SessionContext = createContext<SessionValue | undefined>(undefined);

// The cookie is HttpOnly, so the page cannot see whether it has one. This hint (no secret: just "signed in
// here before") spares a first-time visitor a pointless 401 from /api/me; the server still decides.
const HINT = 'cinema-signed-in';
const hint = {
  get: () => localStorage.getItem(HINT) === '1',
  set: (on: boolean) => (on ? localStorage.setItem(HINT, '1') : localStorage.removeItem(HINT)),
};

/**
 * Holds who is signed in. The session itself is an HttpOnly cookie the page cannot read: the page asks
 * `/api/session` for the session's CSRF token and `/api/me` who it is; a 401 means signed out (or expired).
 *
 * @example
 * <SessionProvider><App /></SessionProvider>
 */
export function SessionProvider({ children }: { children: ReactNode }) {
  const [customer, setCustomer] = useState<Customer | undefined | null>(null);

  const refresh = useCallback(async () => {
    try {
      setCustomer((await api.me()).customer);
      hint.set(true);
    } catch (error) {
      if (error instanceof ApiError && (error.status === 401 || error.status === 404)) {
        hint.set(false);
        setCustomer(undefined);
      } else throw error;
    }
  }, []);

  useEffect(() => {
    // After a reload the page has the cookie but not the session's CSRF token: ask for it first.
    if (hint.get())
      api
        .session()
        .then(refresh)
        .catch(() => {
          hint.set(false);
          setCustomer(undefined);
        });
    else setCustomer(undefined);
  }, [refresh]);

  const value = useMemo<SessionValue>(
    () => ({
      customer,
      refresh,
      async signIn(credentials) {
        await api.signIn(credentials);
        await refresh();
      },
      async signUp(account) {
        await api.signUp(account);
        await refresh();
      },
      async signOut() {
        try {
          await api.signOut();
        } finally {
          // Signed out here whatever the server said (an expired session is signed out already).
          hint.set(false);
          setCustomer(undefined);
        }
      },
    }),
    [customer, refresh],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

/** The session of the page (inside a {@link SessionProvider}). */
export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside SessionProvider');
  return value;
}
