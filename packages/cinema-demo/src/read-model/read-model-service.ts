import type { Server as HttpServer } from 'node:http';
import { Router } from 'express';
import type pg from 'pg';
import type { Logger } from 'pino';
import { type Socket, Server as SocketServer } from 'socket.io';
import * as seatsSql from '../db/seats-sql.js';
import { rows } from '../db/statement.js';
import type { SeatEventSource } from '../events/seat-event-source.js';
import type { SeatsChangedEvent } from '../events/seat-events.js';
import { type SeatState, SeatStateStore } from './seat-state-store.js';

export interface ReadModelOptions {
  /** The seats database, to rebuild from. */
  seats: pg.Pool;
  source: SeatEventSource;
  /** The only browser origin allowed to connect. */
  allowedOrigin: string;
  /** Most simultaneous socket.io connections per client address. */
  socketsPerClient: number;
  logger: Logger;
}

/** Room of the sockets watching one screening. */
const room = (screeningId: number) => `screening:${screeningId}`;

function clientAddress(socket: Socket): string {
  // Behind HAProxy the peer is the proxy; it adds X-Forwarded-For (one trusted hop).
  const forwarded = socket.handshake.headers['x-forwarded-for'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',').pop()?.trim();
  return first || socket.handshake.address;
}

/**
 * The realtime read model: seat states per screening in memory, fed by seat events, pushed over socket.io to
 * every browser watching a screening. Rebuilt from the seats database on start, so a restart loses nothing.
 *
 * Clients send `watch` with a screening id, get a `snapshot` ({ screeningId, version, seats }), then `seats`
 * updates ({ screeningId, version, cause, seats }) with only the seats that changed.
 *
 * @example
 * const readModel = new ReadModelService({ seats, source, allowedOrigin, socketsPerClient: 20, logger });
 * await readModel.start();
 * readModel.attach(httpServer);
 */
export class ReadModelService {
  readonly store = new SeatStateStore();
  readonly #o: ReadModelOptions;
  readonly #connections = new Map<string, number>();
  #io: SocketServer | undefined;
  #unsubscribe: (() => Promise<void>) | undefined;

  constructor(options: ReadModelOptions) {
    this.#o = options;
  }

  /** Subscribes to seat events first, then rebuilds: events racing the rebuild are settled by seat versions. */
  async start(): Promise<void> {
    this.#unsubscribe = await this.#o.source.subscribe((event) => this.apply(event));
    await this.rebuild();
  }

  async stop(): Promise<void> {
    await this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await new Promise<void>((resolve) => (this.#io ? this.#io.close(() => resolve()) : resolve()));
  }

  /** Loads every seat's state and version from the seats database. */
  async rebuild(): Promise<void> {
    const all = await rows<{ screeningId: number } & SeatState>(this.#o.seats, seatsSql.allSeatStates());
    const byScreening = new Map<number, SeatState[]>();
    for (const { screeningId, ...seat } of all) {
      const list = byScreening.get(screeningId) ?? [];
      list.push(seat);
      byScreening.set(screeningId, list);
    }
    for (const [screeningId, seats] of byScreening) {
      this.store.apply({ screeningId, version: 0, cause: 'booked', seats });
    }
    this.#o.logger.info({ seats: all.length }, 'read model rebuilt from the seats database');
  }

  /** Applies one event and pushes what was news to the screening's watchers. */
  apply(event: SeatsChangedEvent): void {
    const applied = this.store.apply(event);
    if (applied) this.#io?.to(room(event.screeningId)).emit('seats', applied);
  }

  /** Serves socket.io on an HTTP server (its own, or the API's in the embedded start). */
  attach(server: HttpServer): void {
    const io = new SocketServer(server, {
      cors: { origin: this.#o.allowedOrigin, credentials: true },
      maxHttpBufferSize: 4096,
    });
    io.use((socket, next) => {
      const address = clientAddress(socket);
      const open = this.#connections.get(address) ?? 0;
      if (open >= this.#o.socketsPerClient) return next(new Error('too many connections from this client'));
      this.#connections.set(address, open + 1);
      socket.once('disconnect', () => {
        const left = (this.#connections.get(address) ?? 1) - 1;
        if (left <= 0) this.#connections.delete(address);
        else this.#connections.set(address, left);
      });
      next();
    });
    io.on('connection', (socket) => {
      socket.on('watch', (screeningId: unknown) => {
        if (!Number.isSafeInteger(screeningId) || (screeningId as number) < 1) return;
        const id = screeningId as number;
        for (const joined of socket.rooms) if (joined.startsWith('screening:')) void socket.leave(joined);
        void socket.join(room(id));
        socket.emit('snapshot', this.store.snapshot(id));
      });
    });
    this.#io = io;
  }

  /** HTTP routes of the read model: health and a screening's snapshot. */
  router(): Router {
    const router = Router();
    router.get('/healthz', (_req, res) => {
      res.json({ status: this.#unsubscribe ? 'ok' : 'stopped' });
    });
    router.get('/api/read-model/screenings/:screeningId', (req, res) => {
      const id = Number(req.params.screeningId);
      if (!Number.isSafeInteger(id) || id < 1 || !this.store.has(id)) {
        res.status(404).json({ error: { code: 'screening-not-found', message: 'no such screening' } });
        return;
      }
      res.json(this.store.snapshot(id));
    });
    return router;
  }
}
