import amqp from 'amqplib';
import { pino } from 'pino';
import { io, type Socket } from 'socket.io-client';
import { AmqpConnection, RabbitMqBus } from 'txkit/amqp';
import { assertRabbitMqReachable, testAmqpUrl } from 'txkit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busSeatSource } from '../src/events/bus-seat-source.js';
import { ReadModelService } from '../src/read-model/read-model-service.js';
import { EXCHANGE } from '../src/server/bus.js';
import { type DemoHarness, seatsOf, startHarness } from './support/demo-harness.js';

interface SeatsMessage {
  screeningId: number;
  version: number;
  cause: string;
  seats: { seatId: number; status: string; version: number }[];
}

function watch(url: string, screeningId: number): Promise<{ socket: Socket; snapshot: SeatsMessage }> {
  const socket = io(url, { transports: ['websocket'], forceNew: true });
  return new Promise((resolve, reject) => {
    socket.once('connect_error', reject);
    socket.once('snapshot', (snapshot: SeatsMessage) => resolve({ socket, snapshot }));
    socket.on('connect', () => socket.emit('watch', screeningId));
  });
}

function nextUpdate(
  socket: Socket,
  match: (m: SeatsMessage) => boolean,
  timeoutMs = 10_000,
): Promise<SeatsMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('no seat update reached the socket.io client')),
      timeoutMs,
    );
    const onSeats = (m: SeatsMessage) => {
      if (!match(m)) return;
      clearTimeout(timer);
      socket.off('seats', onSeats);
      resolve(m);
    };
    socket.on('seats', onSeats);
  });
}

describe('in-process bus (no broker)', () => {
  let h: DemoHarness;
  beforeAll(async () => {
    h = await startHarness('read model local');
  });
  afterAll(() => h?.close());

  it('a booked and a cancelled seat reach a socket.io client watching the screening, with growing versions', async () => {
    const { socket, snapshot } = await watch(h.api.url, 1);
    try {
      expect(snapshot.seats).toHaveLength(150);
      const [seat] = await seatsOf(h.dbs, 1, 1);
      const token = await h.signIn(1);
      const sold = nextUpdate(socket, (m) => m.seats.some((s) => s.seatId === seat && s.status === 'sold'));
      const booked = await h.book(token, { screeningId: 1, seatIds: [seat!], mode: '2pc' });
      const soldUpdate = await sold;
      expect(soldUpdate).toMatchObject({ screeningId: 1, cause: 'booked' });
      const freed = nextUpdate(socket, (m) => m.seats.some((s) => s.seatId === seat && s.status === 'free'));
      await h.request('POST', `/api/bookings/${booked.body.booking.id}/cancel`, { token });
      const freedUpdate = await freed;
      expect(freedUpdate.cause).toBe('cancelled');
      expect(freedUpdate.version).toBeGreaterThan(soldUpdate.version);
    } finally {
      socket.close();
    }
  });

  it('a rolled-back 2PC booking publishes nothing; the next committed change still arrives', async () => {
    const { socket } = await watch(h.api.url, 2);
    try {
      const [declined, booked] = await seatsOf(h.dbs, 2, 2);
      const token = await h.signIn(2);
      const seen: SeatsMessage[] = [];
      socket.on('seats', (m: SeatsMessage) => seen.push(m));
      h.faults.paymentDeclineRate = 1;
      try {
        const res = await h.book(token, { screeningId: 2, seatIds: [declined!], mode: '2pc' });
        expect(res.body.booking.status).toBe('rejected');
      } finally {
        h.faults.paymentDeclineRate = 0;
      }
      const next = nextUpdate(socket, (m) => m.seats.some((s) => s.seatId === booked));
      await h.book(token, { screeningId: 2, seatIds: [booked!], mode: '2pc' });
      await next;
      // Events of one screening are relayed in order: had the rollback published anything, it would be here.
      expect(seen.flatMap((m) => m.seats.map((s) => s.seatId))).not.toContain(declined);
    } finally {
      socket.close();
    }
  });

  it('limits socket.io connections per client', async () => {
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < h.config.SOCKETS_PER_CLIENT; i++) sockets.push((await watch(h.api.url, 1)).socket);
      await expect(watch(h.api.url, 1)).rejects.toThrow(/too many connections/);
    } finally {
      for (const s of sockets) s.close();
    }
  });
});

describe('through RabbitMQ to a separate read-model service', () => {
  let h: DemoHarness;
  let connections: AmqpConnection[] = [];
  let readModel: ReadModelService | undefined;
  let server: import('node:http').Server | undefined;
  let url = '';
  // A queue of this run only: a shared durable queue could hold other runs' events for other databases.
  const queue = `cinema.read-model.test-${process.pid}-${Date.now()}`;

  async function startReadModel(): Promise<void> {
    const connection = new AmqpConnection({ url: testAmqpUrl(), name: 'cinema-read-model-test' });
    await connection.connect();
    connections.push(connection);
    readModel = new ReadModelService({
      seats: h.dbs.seats,
      source: busSeatSource(new RabbitMqBus(connection, { exchange: EXCHANGE }), () => {}, queue),
      allowedOrigin: 'http://127.0.0.1',
      socketsPerClient: 5,
      logger: pino({ level: 'silent' }),
    });
    await readModel.start();
    const { createServer } = await import('node:http');
    server = createServer();
    readModel.attach(server);
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
  }

  async function stopReadModel(): Promise<void> {
    await readModel?.stop();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  }

  beforeAll(async () => {
    await assertRabbitMqReachable();
    const apiConnection = new AmqpConnection({ url: testAmqpUrl(), name: 'cinema-api-test' });
    await apiConnection.connect();
    connections.push(apiConnection);
    h = await startHarness(
      'read model broker',
      {},
      {
        bus: new RabbitMqBus(apiConnection, { exchange: EXCHANGE }),
        withReadModel: false,
      },
    );
    await startReadModel();
  });
  afterAll(async () => {
    await stopReadModel();
    await h?.close();
    await Promise.all(connections.map((c) => c.close()));
    connections = [];
    const admin = await amqp.connect(testAmqpUrl());
    const channel = await admin.createChannel();
    await channel.deleteQueue(queue);
    await admin.close();
  });

  it('a booking reaches the socket.io client; a restarted read model rebuilds from the seats database', async () => {
    const screeningId = 3;
    const [seatA, seatB] = await seatsOf(h.dbs, screeningId, 2);
    const token = await h.signIn(1);
    let { socket } = await watch(url, screeningId);
    try {
      const update = nextUpdate(
        socket,
        (m) => m.screeningId === screeningId && m.seats.some((s) => s.seatId === seatA),
      );
      await h.book(token, { screeningId, seatIds: [seatA!], mode: 'saga' });
      expect((await update).seats.find((s) => s.seatId === seatA)?.status).toBe('sold');
    } finally {
      socket.close();
    }

    // While the read model is down, another seat is sold: the restarted one must show it.
    await stopReadModel();
    await h.book(token, { screeningId, seatIds: [seatB!], mode: '2pc' });
    await startReadModel();
    const restarted = await watch(url, screeningId);
    socket = restarted.socket;
    try {
      const states = new Map(restarted.snapshot.seats.map((s) => [s.seatId, s.status]));
      expect(states.get(seatA!)).toBe('sold');
      expect(states.get(seatB!)).toBe('sold');
    } finally {
      socket.close();
    }
  });
});
