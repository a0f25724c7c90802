import { useEffect, useState } from 'react';

/** The pages of the app, addressed by the URL hash so the server needs no routes for them. */
export type Route = { page: 'screenings' } | { page: 'room'; screeningId: number } | { page: 'ops' };

/** Parses a location hash: `#/screenings/3` → the room page of screening 3. */
export function parseRoute(hash: string): Route {
  const room = /^#\/screenings\/(\d{1,9})$/.exec(hash);
  if (room) return { page: 'room', screeningId: Number(room[1]) };
  if (hash === '#/ops') return { page: 'ops' };
  return { page: 'screenings' };
}

/** The link of a route. */
export function href(route: Route): string {
  if (route.page === 'room') return `#/screenings/${route.screeningId}`;
  if (route.page === 'ops') return '#/ops';
  return '#/';
}

/**
 * The current route, following the hash.
 *
 * @example
 * const route = useRoute();
 */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
