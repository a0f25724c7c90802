import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { type MessageBus, Outbox, OutboxRelay } from 'txkit/outbox';
import { appOrigin, createApp } from '../api/app.js';
import { type ApiMetrics, createMetrics } from '../api/metrics.js';
import { setDemoPasswords } from '../auth/demo-passwords.js';
import { SessionCache } from '../auth/session-cache.js';
import { SessionStore } from '../auth/session-store.js';
import { BookingService } from '../booking/booking-service.js';
import { type SweepReport, startStaleBookingSweeper } from '../booking/stale-booking-sweeper.js';
import { TxkitBookingEngine } from '../booking/txkit-engine.js';
import { type Config, type FaultSettings, faultSettings } from '../config.js';
import { closeDatabases, type Databases, migrateDatabases, openDatabases } from '../db/databases.js';
import { seedDatabases } from '../db/seed.js';
import { isLockTimeout } from '../db/wait-limits.js';
import { withDeadline } from '../deadline.js';
import { busSeatSource, READ_MODEL_QUEUE } from '../events/bus-seat-source.js';
import { announceRevocations, followRevocations, SESSIONS_QUEUE } from '../events/session-revocations.js';
import { seatOutbox } from '../events/txkit-outbox.js';
import { WaterfallStore } from '../observability/waterfall-store.js';
import { ReadModelService } from '../read-model/read-model-service.js';

export interface ApiRuntimeOptions {
  config: Config;
  /** Where the outbox relay publishes seat events (RabbitMQ, or the in-process bus). */
  bus: MessageBus;
  logger: Logger;
  /** Also run the read model in this process, on the same HTTP server (no broker, or the embedded start). */
  withReadModel: boolean;
  /**
   * The read model's queue on the bus. Every read model needs its own (consumers of one queue share its
   * messages); default `cinema.read-model.<INSTANCE_ID>`.
   */
  readModelQueue?: string;
  /** Serve the built web UI from here when it exists. */
  webDir?: string;
  /**
   * Passwords of the seeded demo customers by name (`npm start` in embedded mode; tests). Without them the seeded
   * customers have no account and cannot sign in: a deployment's customers sign up.
   */
  demoPasswords?: Record<string, string>;
  /** Use these databases instead of opening the configured ones (tests). */
  dbs?: Databases;
  /** Override the configured failure injection (tests). */
  faults?: FaultSettings;
  /** Interval of recovery passes and relay polling (default `RECOVERY_INTERVAL_MS` / 250 ms). */
  recoveryIntervalMs?: number;
  relayPollMs?: number;
  /**
   * Interval of the stale-booking sweep (default `SWEEP_INTERVAL_MS`); `false`: no background sweep (tests run
   * it themselves).
   */
  sweepIntervalMs?: number | false;
  /**
   * Bound of each start-up wait that a dead instance's leftover prepared transactions could prolong: the 2PC
   * recovery pass before seeding, and seeding's retries on a lock (default 15 s each).
   */
  startupWaitMs?: number;
  /** A server span per request, parent of txkit's spans (set when an OpenTelemetry SDK exports traces). */
  traceRequests?: boolean;
}

/** One running API instance: its HTTP server, its parts, and how to stop it. */
export interface ApiRuntime {
  app: Express;
  server: Server;
  url: string;
  dbs: Databases;
  engine: TxkitBookingEngine;
  service: BookingService;
  metrics: ApiMetrics;
  relay: OutboxRelay;
  readModel: ReadModelService | undefined;
  /** The bookings' waterfalls (timings), written in batches. */
  waterfalls: WaterfallStore;
  close(): Promise<void>;
}

/**
 * Starts one API instance: migrates the databases, resolves what it can of the prepared transactions dead
 * instances left, seeds (idempotent, safe from several instances at once, and never stuck behind a leftover),
 * starts txkit's recovery and the outbox relay, builds the app and listens.
 *
 * @example
 * const api = await startApi({ config, bus: new InProcessBus(), logger, withReadModel: true });
 * console.log(api.url);
 * await api.close();
 */
export async function startApi(o: ApiRuntimeOptions): Promise<ApiRuntime> {
  const { config, logger } = o;
  const ownDbs = !o.dbs;
  const limits = { lockTimeoutMs: config.LOCK_TIMEOUT_MS, statementTimeoutMs: config.STATEMENT_TIMEOUT_MS };
  const dbs =
    o.dbs ??
    openDatabases(
      {
        seats: config.SEATS_DATABASE_URL,
        payments: config.PAYMENTS_DATABASE_URL,
        tickets: config.TICKETS_DATABASE_URL,
      },
      { max: config.POOL_SIZE, limits },
      (error) => logger.warn({ err: error }, 'idle database connection failed'),
    );
  const startupWaitMs = o.startupWaitMs ?? 15_000;
  const outbox = new Outbox();
  // No NOTIFY per seat change: the relay polls (every `relayPollMs`) and publishes what accumulated in one batch,
  // instead of a NOTIFY and a relay pass of three statements per booking. Seat events reach the read model within
  // a poll interval.
  const seatEvents = seatOutbox(outbox, { notify: false });
  const waterfalls = new WaterfallStore({
    pool: dbs.seats,
    onError: (error, dropped) =>
      logger.warn({ err: error, dropped }, 'writing booking waterfalls failed; retried at the next flush'),
  });
  const engine = new TxkitBookingEngine({
    dbs,
    instanceId: config.INSTANCE_ID,
    outbox: seatEvents,
    preparedOutbox: seatEvents,
    faults: o.faults ?? faultSettings(config),
    ...limits,
    prepareTimeoutMs: config.PREPARE_TIMEOUT_MS,
    coordinatorLeaseMs: config.TXKIT_LEASE_MS,
    sagaLeaseMs: config.TXKIT_LEASE_MS,
    recoveryIntervalMs: o.recoveryIntervalMs ?? config.RECOVERY_INTERVAL_MS,
    onError: (error) => logger.error({ err: error }, 'txkit background failure'),
    onWaterfall: (bookingId, data) => waterfalls.add(bookingId, data),
  });
  await retryingLockWaits(startupWaitMs, logger, async () => {
    await migrateDatabases(dbs);
    await outbox.migrate(dbs.seats);
    await engine.migrate();
  });
  waterfalls.start();
  // A dead instance's transaction finished by this one: the trace of a crash, worth a line in the log.
  engine.coordinator.on('recovered', (event) => {
    if (event.takeover) {
      logger.info(
        { gid: event.gid, outcome: event.outcome, deadInstance: event.coordinatorId },
        'finished a prepared transaction of a dead instance',
      );
    }
  });
  // Leftovers first, so that seeding meets as few of their locks as possible; then seeding, which must not
  // wait for the rest (those of instances whose lease has not expired yet, or still in their grace period).
  await recoverBeforeSeeding(engine, logger, startupWaitMs);
  const seeded = await seedDatabases(dbs, {
    lockTimeoutMs: config.LOCK_TIMEOUT_MS,
    retryForMs: startupWaitMs,
    onLockWait: (wait) =>
      logger.warn({ part: wait.part, attempt: wait.attempt, holders: wait.holders }, wait.description),
  });
  for (const { part, reason } of seeded.skipped) {
    logger.warn({ part }, `seeding left out ${part}: ${reason}`);
  }
  if (o.demoPasswords) await setDemoPasswords(dbs.payments, o.demoPasswords);
  await engine.start();
  const metrics = createMetrics(() => engine.view.counts());
  const service = new BookingService({
    dbs,
    executor: engine,
    view: engine.view,
    limits,
    bookingsPerMinute: config.BOOKINGS_PER_MINUTE,
    answerWithinMs: config.BOOKING_ANSWER_MS,
    // The request's own log line says what it answered; the outcome's metric counts every booking.
    onOutcome: (mode, outcome, seconds) => metrics.bookingOutcome(mode, outcome, seconds),
    onError: (error, bookingId) =>
      logger.error({ err: error, bookingId }, 'booking outcome unknown; left pending'),
  });

  let readModel: ReadModelService | undefined;
  if (o.withReadModel) {
    readModel = new ReadModelService({
      seats: dbs.seats,
      source: busSeatSource(
        o.bus,
        (payload) => logger.warn({ payload }, 'malformed seat event dead-lettered'),
        o.readModelQueue ?? `${READ_MODEL_QUEUE}.${config.INSTANCE_ID}`,
      ),
      allowedOrigin: appOrigin(config),
      socketsPerClient: config.SOCKETS_PER_CLIENT,
      logger,
    });
    await readModel.start();
  }
  const sweeper =
    o.sweepIntervalMs === false
      ? undefined
      : startStaleBookingSweeper({
          dbs,
          executor: engine,
          limits,
          prepareTimeoutMs: config.PREPARE_TIMEOUT_MS,
          staleAfterMs: config.STALE_BOOKING_AFTER_MS,
          intervalMs: o.sweepIntervalMs ?? config.SWEEP_INTERVAL_MS,
          onError: (error) => logger.warn({ err: error }, 'stale booking sweep failed; retried next pass'),
          onReport: (report) => logSweep(logger, report),
        });
  const relay = new OutboxRelay({
    pool: dbs.seats,
    bus: o.bus,
    pollIntervalMs: o.relayPollMs ?? 250,
    // Nothing NOTIFYs (see seatEvents): no listening connection to hold.
    listen: false,
  });
  relay.on('error', (error) => logger.warn({ err: error }, 'outbox relay pass failed; rows stay pending'));
  relay.start();

  // Sessions answered from a short-lived per-instance cache; a sign-out reaches the other instances' caches over
  // the bus (SESSION_CACHE_MS bounds a lost message; 0: no cache, every request reads the sessions table).
  const sessions = new SessionStore(dbs.seats, config.SESSION_TTL_SECONDS, {
    cache: config.SESSION_CACHE_MS > 0 ? new SessionCache({ ttlMs: config.SESSION_CACHE_MS }) : undefined,
    onRevoked: announceRevocations(o.bus, (error) =>
      logger.warn(
        { err: error },
        'announcing a sign-out failed; other instances forget it by SESSION_CACHE_MS',
      ),
    ),
  });
  const revocations = await followRevocations(o.bus, `${SESSIONS_QUEUE}.${config.INSTANCE_ID}`, (hash) =>
    sessions.forget(hash),
  );

  const app = createApp({
    config,
    dbs,
    sessions,
    view: engine.view,
    service,
    waterfalls,
    metrics,
    logger,
    webDir: o.webDir,
    traceRequests: o.traceRequests,
    extraRouters: readModel ? [readModel.router()] : [],
  });
  const server = createServer(app);
  // The read model's socket.io shares the API's server (one origin for the browser).
  readModel?.attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, config.HOST, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${port}`;
  return {
    app,
    server,
    url,
    dbs,
    engine,
    service,
    metrics,
    relay,
    readModel,
    waterfalls,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await readModel?.stop();
      await revocations.cancel();
      await relay.stop();
      await sweeper?.stop();
      await engine.stop();
      await waterfalls.stop();
      if (ownDbs) await closeDatabases(dbs);
    },
  };
}

/**
 * One 2PC recovery pass before seeding, bounded: commits what dead coordinators decided and aborts what they
 * left undecided (txkit takes over the prepared transactions of coordinators whose lease expired). What it
 * cannot resolve yet stays, and start-up goes on without waiting for it; the recovery service keeps at it.
 */
/**
 * Instances starting together migrate one at a time (txkit's advisory lock), and the pools' `lock_timeout` bounds
 * that wait too: a wait that ran out is retried, with backoff, until `waitMs` is spent.
 */
async function retryingLockWaits(
  waitMs: number,
  logger: Logger,
  migrate: () => Promise<void>,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await migrate();
    } catch (error) {
      const delayMs = Math.min(1_000, 50 * 2 ** attempt);
      if (!isLockTimeout(error) || Date.now() + delayMs > deadline) throw error;
      logger.warn({ attempt }, 'migrations waited for a lock (another instance migrating?); retrying');
      await sleep(delayMs);
    }
  }
}

async function recoverBeforeSeeding(
  engine: TxkitBookingEngine,
  logger: Logger,
  waitMs: number,
): Promise<void> {
  try {
    const report = await withDeadline(engine.coordinator.recover(), waitMs, 'recovery pass before seeding');
    const { committed, aborted, waiting, failed, unreachable } = report;
    if (committed.length + aborted.length > 0) {
      logger.info({ committed, aborted }, 'resolved prepared transactions left by earlier instances');
    }
    if (waiting.length + failed.length + unreachable.length > 0) {
      logger.warn(
        {
          waiting,
          failed: failed.map((f) => ({ gid: f.gid, participant: f.participant, error: String(f.error) })),
          unreachable: unreachable.map((u) => u.participant),
        },
        'prepared transactions left by earlier instances remain (not resolvable yet); start-up goes on without them',
      );
    }
  } catch (error) {
    logger.warn(
      { err: error },
      'recovery before seeding did not finish; start-up goes on, recovery keeps running',
    );
  }
}

/** A sweep pass in the log: what it settled, and what it could not and why. */
function logSweep(logger: Logger, report: SweepReport): void {
  if (report.unsettled.length > 0 || report.failedParts.length > 0) {
    logger.warn(report, 'stale booking sweep: not everything settled; the next pass tries again');
  } else if (report.settled.length > 0) {
    logger.info(report, 'stale booking sweep settled bookings');
  }
}
