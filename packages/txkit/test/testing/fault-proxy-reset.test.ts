import { once } from 'node:events';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hardReset, type LinkHost, ProxyLink } from '../../src/testing/fault-proxy-link.js';
import { normalizeMode } from '../../src/testing/fault-proxy-mode.js';

// The fault proxy's stuck link: a link reset right after its lane delivered a FIN (same tick) never closed,
// because Node cannot reset a socket whose shutdown is pending and then leaks it without a 'close' event.
// These tests reset exactly then, and fail (time out on 'close') without the fix in hardReset.

/** Resolves with what `promise` gave, or rejects once `ms` passed (every wait here is bounded). */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Resolves on the first `event` (unlike events.once, an 'error' before it does not reject: resets are expected). */
function next(emitter: { once(event: string, listener: () => void): unknown }, event: string): Promise<void> {
  return new Promise((resolve) => emitter.once(event, () => resolve()));
}

/** A loopback server that never reads (its peer's shutdown may stay pending) and hands out accepted sockets. */
async function startSilentServer(): Promise<{
  server: Server;
  accepted: () => Promise<Socket>;
  close: () => Promise<void>;
}> {
  const waiting: ((socket: Socket) => void)[] = [];
  const queued: Socket[] = [];
  const all: Socket[] = [];
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    all.push(socket);
    socket.pause();
    const take = waiting.shift();
    if (take) take(socket);
    else queued.push(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = () =>
    new Promise<Socket>((resolve) => {
      const socket = queued.shift();
      if (socket) resolve(socket);
      else waiting.push(resolve);
    });
  const close = () =>
    new Promise<void>((resolve) => {
      for (const socket of all) socket.destroy();
      server.close(() => resolve());
    });
  return { server, accepted, close };
}

function portOf(server: Server): number {
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('not listening');
  return address.port;
}

describe('fault proxy: a reset right after a FIN', () => {
  let silent: Awaited<ReturnType<typeof startSilentServer>>;
  beforeAll(async () => {
    silent = await startSilentServer();
  });
  afterAll(() => silent?.close());

  it('hardReset closes a socket whose end() is still under way, and its peer sees the connection go', async () => {
    const socket = tcpConnect({ host: '127.0.0.1', port: portOf(silent.server), allowHalfOpen: true });
    socket.on('error', () => {});
    const [peer] = await Promise.all([silent.accepted(), once(socket, 'connect')]);
    // The peer is half-open-tolerant: it reads the end of the stream (a FIN, or the reset), not a 'close'.
    const peerEnded = Promise.race([next(peer, 'end'), next(peer, 'close')]);
    peer.resume();

    socket.write('last words');
    socket.end();
    hardReset(socket); // same tick as end(): the shutdown is pending

    await within(5_000, "the reset socket's 'close'", once(socket, 'close'));
    await within(5_000, 'the peer to see the end of the connection', peerEnded);
    expect(socket.destroyed).toBe(true);
  });

  it('a link reset in the tick its lane delivered a FIN closes both sockets', async () => {
    const proxyListener = createServer({ allowHalfOpen: true });
    proxyListener.listen(0, '127.0.0.1');
    await once(proxyListener, 'listening');
    try {
      const host: LinkHost = {
        mode: normalizeMode('pass'),
        target: { host: '127.0.0.1', port: portOf(silent.server) },
        delivered: () => {},
        injectedReset: () => {},
        linkClosed: () => {},
        changed: () => {},
      };
      const client = tcpConnect({ host: '127.0.0.1', port: portOf(proxyListener), allowHalfOpen: true });
      client.on('error', () => {});
      const clientGone = Promise.race([next(client, 'end'), next(client, 'close')]);
      const [[proxySide]] = await Promise.all([once(proxyListener, 'connection'), once(client, 'connect')]);
      const link = new ProxyLink(host, proxySide as Socket);
      link.connect();
      const upstream = await silent.accepted();
      const upstreamGone = Promise.race([next(upstream, 'end'), next(upstream, 'close')]);
      // The server side is attached once connected; wait for the lane to deliver (a byte reaches upstream).
      link.toServer.push('data', Buffer.from('x'));
      await within(5_000, 'the first byte upstream', next(upstream.resume(), 'data'));

      link.toServer.push('end'); // delivered now: end() on the server-side socket
      const closed = link.reset(true); // and reset in the same tick, as a cut right after a client's FIN

      await within(5_000, 'the link to close', closed);
      await within(5_000, 'the client to see the connection go', clientGone);
      await within(5_000, 'the upstream to see the connection go', upstreamGone);
      client.destroy();
    } finally {
      await new Promise<void>((resolve) => proxyListener.close(() => resolve()));
    }
  });
});
