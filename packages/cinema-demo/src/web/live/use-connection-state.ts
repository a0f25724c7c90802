import { useEffect, useState } from 'react';
import { type ConnectionState, seatSocket } from './seat-socket';

/**
 * The live feed's connection state, for the indicator in the header.
 *
 * @example
 * const state = useConnectionState(); // 'connecting' | 'live' | 'offline'
 */
export function useConnectionState(): ConnectionState {
  const socket = seatSocket();
  const [state, setState] = useState<ConnectionState>(socket.connected ? 'live' : 'connecting');
  useEffect(() => {
    const live = () => setState('live');
    const offline = () => setState('offline');
    const retrying = () => setState('connecting');
    socket.on('connect', live);
    socket.on('disconnect', offline);
    socket.on('connect_error', offline);
    socket.io.on('reconnect_attempt', retrying);
    if (socket.connected) live();
    return () => {
      socket.off('connect', live);
      socket.off('disconnect', offline);
      socket.off('connect_error', offline);
      socket.io.off('reconnect_attempt', retrying);
    };
  }, [socket]);
  return state;
}
