import { useConnectionState } from '../live/use-connection-state';

const text = { live: 'Live', connecting: 'Connecting…', offline: 'Offline' } as const;

/** Whether seat changes are arriving live; announced when it changes. */
export function ConnectionBadge() {
  const state = useConnectionState();
  return (
    <output className={`connection ${state}`} data-testid="connection" data-state={state} aria-live="polite">
      <span className="dot" aria-hidden="true" />
      <span className="visually-hidden">Seat updates: </span>
      {text[state]}
    </output>
  );
}
