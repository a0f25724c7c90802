/**
 * The realtime read-model service as its own process: consumes seat events from RabbitMQ, rebuilds from the
 * seats database on start, and pushes updates over socket.io.
 */
import { createServer } from 'node:http';
import express from 'express';
import helmet from 'helmet';
import pg from 'pg';
import { z } from 'zod';
import { busSeatSource, READ_MODEL_QUEUE } from './events/bus-seat-source.js';
import { startTracing } from './observability/otlp-tracing.js';
import { ReadModelService } from './read-model/read-model-service.js';
import { openBus } from './server/bus.js';
import { createLogger } from './server/logger.js';

const parsed = z
  .object({
    SEATS_DATABASE_URL: z.string().url(),
    AMQP_URL: z
      .string()
      .url({ error: 'AMQP_URL is required: the read model consumes seat events from RabbitMQ' }),
    HOST: z.string().default('127.0.0.1'),
    READ_MODEL_PORT: z.coerce.number().int().min(0).max(65_535).default(3001),
    APP_ORIGIN: z.string().url().default('http://127.0.0.1:8080'),
    SOCKETS_PER_CLIENT: z.coerce.number().int().min(1).max(1000).default(20),
    LOG_LEVEL: z.string().default('info'),
    /** Names this read model's queue; several read models need different ids. */
    READ_MODEL_ID: z
      .string()
      .regex(/^[a-z0-9-]{1,40}$/)
      .default('main'),
  })
  .safeParse(process.env);
if (!parsed.success) {
  console.error(
    `invalid configuration: ${parsed.error.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
  );
  process.exit(2);
}
const env = parsed.data;
const logger = createLogger('cinema-read-model', env.LOG_LEVEL);
// Its spans continue the bookings' traces (the seat events carry them): exported when OTEL_EXPORTER_OTLP_ENDPOINT is set.
const tracing = await startTracing(process.env, `cinema-read-model-${env.READ_MODEL_ID}`, logger);
const seats = new pg.Pool({ connectionString: env.SEATS_DATABASE_URL, max: 4 });
seats.on('error', (error) => logger.warn({ err: error }, 'idle database connection failed'));
const { bus, close: closeBus } = await openBus(env.AMQP_URL, 'cinema-read-model');
const readModel = new ReadModelService({
  seats,
  source: busSeatSource(
    bus,
    (payload) => logger.warn({ payload }, 'malformed seat event dead-lettered'),
    `${READ_MODEL_QUEUE}.${env.READ_MODEL_ID}`,
  ),
  allowedOrigin: env.APP_ORIGIN,
  socketsPerClient: env.SOCKETS_PER_CLIENT,
  logger,
});
await readModel.start();
const app = express();
app.disable('x-powered-by');
app.use(helmet());
app.use(readModel.router());
const server = createServer(app);
readModel.attach(server);
server.listen(env.READ_MODEL_PORT, env.HOST, () => {
  logger.info({ port: env.READ_MODEL_PORT }, 'read model listening');
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    await readModel.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await closeBus();
    await seats.end();
    await tracing?.shutdown();
    process.exit(0);
  });
}
