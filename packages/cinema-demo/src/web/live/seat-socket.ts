import { io, type Socket } from 'socket.io-client';

/** Whether the live seat feed is connected. */
export type ConnectionState = 'connecting' | 'live' | 'offline';

let socket: Socket | undefined;

/**
 * The page's one socket.io connection to the read model (same origin: the API server, or the proxy in front of
 * the realtime service), opened on first use and shared by every view.
 *
 * @example
 * seatSocket().emit('watch', 3);
 */
export function seatSocket(): Socket {
  socket ??= io({ path: '/socket.io', transports: ['websocket', 'polling'], withCredentials: true });
  return socket;
}
