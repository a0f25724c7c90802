/**
 * `npm start`: the whole demo in one command with no configuration. Without database URLs it runs an embedded
 * PostgreSQL (data kept in packages/cinema-demo/.data); without AMQP_URL it uses the in-process bus; the read
 * model and the built web UI are served by this process; secrets it is not given are generated for this run and
 * it says so.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { demoEmail, generateDemoPasswords } from './auth/demo-passwords.js';
import { loadConfig } from './config.js';
import { startTracing } from './observability/otlp-tracing.js';
import { startApi } from './server/api-runtime.js';
import { openBus } from './server/bus.js';
import { startEmbeddedPostgres } from './server/embedded-postgres.js';
import { createLogger } from './server/logger.js';

const env: Record<string, string | undefined> = { ...process.env };
const notes: string[] = [];
let stopPostgres: (() => Promise<void>) | undefined;
let demoPasswords: Record<string, string> | undefined;

if (!env.SEATS_DATABASE_URL && !env.PAYMENTS_DATABASE_URL && !env.TICKETS_DATABASE_URL) {
  const dataRoot = fileURLToPath(new URL('../.data', import.meta.url));
  const port = Number(env.EMBEDDED_PG_PORT ?? 54329);
  const embedded = await startEmbeddedPostgres(dataRoot, port, (m) => console.error(m));
  stopPostgres = embedded.stop;
  env.SEATS_DATABASE_URL = embedded.urls.seats;
  env.PAYMENTS_DATABASE_URL = embedded.urls.payments;
  env.TICKETS_DATABASE_URL = embedded.urls.tickets;
  notes.push(`embedded PostgreSQL on 127.0.0.1:${port}, data in ${dataRoot}`);
  // Only here, on the demo's own throwaway database: a deployment's seeded customers get no password.
  demoPasswords = generateDemoPasswords();
  notes.push(
    `demo customers' throwaway passwords for this run: ${Object.entries(demoPasswords)
      .map(([name, password]) => `${demoEmail(name)} ${password}`)
      .join(', ')}`,
  );
}
if (!env.OPERATOR_TOKEN) {
  env.OPERATOR_TOKEN = randomBytes(24).toString('base64url');
  notes.push(`OPERATOR_TOKEN not set: generated a throwaway one for this run: ${env.OPERATOR_TOKEN}`);
}

const config = loadConfig(env);
const logger = createLogger('cinema-demo', env.LOG_LEVEL ?? 'warn');
const tracing = await startTracing(env, 'cinema-demo', logger);
if (tracing) notes.push('OTEL_EXPORTER_OTLP_ENDPOINT set: traces are exported over OTLP');
const { bus, kind, close: closeBus } = await openBus(config.AMQP_URL, 'cinema-demo');
const api = await startApi({
  config,
  bus,
  logger,
  // The read model runs here either way: fed through RabbitMQ when AMQP_URL is set, in process otherwise.
  withReadModel: true,
  readModelQueue: 'cinema.read-model.embedded',
  webDir: fileURLToPath(new URL('./web', import.meta.url)),
  demoPasswords,
  traceRequests: tracing !== undefined,
});
notes.push(
  kind === 'rabbitmq'
    ? 'AMQP_URL set: seat events go through RabbitMQ to the read model'
    : 'AMQP_URL not set: in-process bus (no broker needed)',
);

console.log(
  ['', 'cinema demo is running', ...notes.map((n) => `  - ${n}`), '', `  open ${api.url}`, ''].join('\n'),
);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  // embedded-postgres registers its own exit hook on these signals, which stops the server at once — under the
  // API's open pools, whose connections then die mid-shutdown. This process stops it itself, after the pools.
  if (stopPostgres) process.removeAllListeners(signal);
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    await api.close();
    await closeBus();
    await tracing?.shutdown();
    await stopPostgres?.();
    process.exit(0);
  });
}
