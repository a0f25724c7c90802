/**
 * One API instance, configured by the environment (see src/config.ts); several run behind HAProxy. With
 * AMQP_URL set, seat events go to RabbitMQ for the separate read-model service; without it, this process also
 * serves the read model.
 */
import { fileURLToPath } from 'node:url';
import { loadConfig } from './config.js';
import { startTracing } from './observability/otlp-tracing.js';
import { startApi } from './server/api-runtime.js';
import { openBus } from './server/bus.js';
import { createLogger } from './server/logger.js';

const config = loadConfig(process.env);
const logger = createLogger(`cinema-api:${config.INSTANCE_ID}`, config.LOG_LEVEL);
// Before anything runs a transaction: txkit's spans and the request spans go to the SDK registered here.
const tracing = await startTracing(process.env, `cinema-api-${config.INSTANCE_ID}`, logger);
const { bus, kind, close: closeBus } = await openBus(config.AMQP_URL, `cinema-api-${config.INSTANCE_ID}`);
const api = await startApi({
  config,
  bus,
  logger,
  withReadModel: kind === 'in-process',
  traceRequests: tracing !== undefined,
  webDir: fileURLToPath(new URL('./web', import.meta.url)),
});
logger.info({ url: api.url, bus: kind }, 'API listening');

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    await api.close();
    await closeBus();
    // Last: the spans of the requests that were still running are exported.
    await tracing?.shutdown();
    process.exit(0);
  });
}
