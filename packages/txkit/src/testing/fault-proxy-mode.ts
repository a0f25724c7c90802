/**
 * What a fault proxy does to the traffic of one upstream (see {@link FaultProxy.set}):
 *
 * - `pass`: forwards every byte as it comes (bytes held or delayed by an earlier mode are delivered at once).
 * - `cut`: resets (TCP RST) every open connection, both sides, and resets every new one as soon as it is accepted.
 * - `blackhole`: accepts connections and holds every byte, both ways, without answering; a new connection is
 *   not passed on to the server until the blackhole ends. When another mode follows, `onHeal: 'deliver'`
 *   (the default: a network that healed) delivers what was held, in order; `onHeal: 'lose'` (a connection lost
 *   without a reset) resets every connection that had bytes held or was opened during the blackhole, and the
 *   held bytes are never delivered. Idle connections go on in both cases, as they would on a real network.
 * - `latency`: delays every chunk by at least `ms` milliseconds in both directions, order preserved.
 * - `cut-after`: lets `bytes` bytes pass in `direction` (`to-server`: from the client to the server;
 *   `to-client`: the other way), delivers the part of the chunk that reaches the limit, then resets both
 *   sides. Without `connections`, every connection is cut this way, counting from the switch for those already
 *   open; with `connections: n`, only the next n connections accepted after the switch (the others pass).
 *
 * @example
 * await proxy.set('payments', { mode: 'blackhole', onHeal: 'lose' });
 * await proxy.set('seats', { mode: 'latency', ms: 50 });
 * await proxy.set('seats', { mode: 'cut-after', bytes: 20, direction: 'to-server', connections: 1 });
 */
export type FaultProxyMode =
  | { mode: 'pass' }
  | { mode: 'cut' }
  | { mode: 'blackhole'; onHeal?: 'deliver' | 'lose' }
  | { mode: 'latency'; ms: number }
  | { mode: 'cut-after'; bytes: number; direction: FaultProxyDirection; connections?: number };

/**
 * A direction of the traffic through the proxy: `to-server` (what the application sends) or `to-client`
 * (what the server answers).
 *
 * @example
 * const direction: FaultProxyDirection = 'to-server'; // cut while the client is still sending its statement
 */
export type FaultProxyDirection = 'to-server' | 'to-client';

/**
 * A {@link FaultProxyMode}, or the name of a mode that takes no parameter (`blackhole` alone delivers on heal).
 *
 * @example
 * const modes: FaultProxyModeInput[] = ['pass', 'cut', 'blackhole', { mode: 'latency', ms: 20 }];
 */
export type FaultProxyModeInput = FaultProxyMode | 'pass' | 'cut' | 'blackhole';

/** Turns a shorthand into a mode object and checks its numbers; throws a `RangeError` on a bad one. */
export function normalizeMode(input: FaultProxyModeInput): FaultProxyMode {
  const mode: FaultProxyMode = typeof input === 'string' ? { mode: input } : { ...input };
  const nonNegativeInteger = (name: string, value: number | undefined) => {
    if (value !== undefined && !(Number.isInteger(value) && value >= 0)) {
      throw new RangeError(`fault proxy: ${mode.mode} needs ${name} to be an integer >= 0, got ${value}`);
    }
  };
  if (mode.mode === 'latency') nonNegativeInteger('ms', mode.ms);
  if (mode.mode === 'cut-after') {
    nonNegativeInteger('bytes', mode.bytes);
    nonNegativeInteger('connections', mode.connections);
    if (mode.direction !== 'to-server' && mode.direction !== 'to-client') {
      throw new RangeError(`fault proxy: cut-after needs a direction 'to-server' or 'to-client'`);
    }
  }
  if (mode.mode === 'blackhole' && mode.onHeal !== undefined && !['deliver', 'lose'].includes(mode.onHeal)) {
    throw new RangeError(`fault proxy: blackhole's onHeal is 'deliver' or 'lose', got ${mode.onHeal}`);
  }
  return Object.freeze(mode);
}
