import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Express, type Router } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import { requireCustomer, requireOperator } from '../auth/auth-middleware.js';
import type { SessionStore } from '../auth/session-store.js';
import type { BookingService } from '../booking/booking-service.js';
import type { OperationsView } from '../booking/operations-view.js';
import type { Config } from '../config.js';
import type { Databases } from '../db/databases.js';
import { requestSpans } from '../observability/request-span.js';
import type { WaterfallStore } from '../observability/waterfall-store.js';
import { errorHandler, HttpError } from './http-error.js';
import type { ApiMetrics } from './metrics.js';
import { apiRoutes } from './openapi/api-routes.js';
import { docsRoutes } from './openapi/docs-routes.js';
import { openApiDocument } from './openapi/openapi-document.js';
import { originGuard } from './origin-guard.js';
import { customerRoutes } from './routes/customer-routes.js';
import { opsRoutes } from './routes/ops-routes.js';
import { publicRoutes } from './routes/public-routes.js';
import { sessionRoutes } from './routes/session-routes.js';

export interface AppDeps {
  config: Config;
  dbs: Databases;
  /** Server-side sessions (and this instance's cache of them). */
  sessions: SessionStore;
  view: OperationsView;
  service: BookingService;
  /** Where the bookings' waterfalls are read. */
  waterfalls: Pick<WaterfallStore, 'get'>;
  metrics: ApiMetrics;
  logger: Logger;
  /** A server span per request (when an OpenTelemetry SDK exports traces). */
  traceRequests?: boolean;
  /** Folder of the built web UI, served when it exists. */
  webDir?: string;
  /** More public routes (the read model's, when it runs in this process). */
  extraRouters?: Router[];
}

/** The app's own origin: APP_ORIGIN, or where this server listens. */
export function appOrigin(config: Config): string {
  return (
    config.APP_ORIGIN ?? `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${config.PORT}`
  );
}

/**
 * The API as an Express app: security headers, own-origin CORS, a body size limit, request logs and metrics,
 * public routes, sign-in, customer routes behind a session, operator routes behind the operator token.
 *
 * @example
 * const app = createApp({ config, dbs, sessions, view: engine.view, service, waterfalls, metrics, logger });
 * app.listen(config.PORT);
 */
export function createApp(deps: AppDeps): Express {
  const { config, logger, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  // First: every later middleware and route (txkit's spans included) runs inside the request's span.
  if (deps.traceRequests) app.use(requestSpans());
  // Behind HAProxy: trust one proxy hop for the client address and protocol.
  app.set('trust proxy', 1);
  // Helmet's default CSP has upgrade-insecure-requests, which rewrites the page's own http URLs to https: served
  // over plain http from anything but localhost (a LAN address, the compose proxy) the web UI would not load.
  const https = (config.APP_ORIGIN ?? '').startsWith('https:');
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: https ? [] : null } } }));
  // One log line per request, at info: method, route (the pattern, not the URL: no ids or query strings in
  // it), status, milliseconds, and the booking it made or read (`res.locals.bookingId`, set by the booking routes).
  const logRequests = logger.isLevelEnabled('info');
  app.use((req, res, next) => {
    const started = performance.now();
    res.on('finish', () => {
      const seconds = (performance.now() - started) / 1000;
      const route = req.route?.path ? `${req.baseUrl}${req.route.path}` : 'unmatched';
      metrics.httpRequest(req.method, route, res.statusCode, seconds);
      if (logRequests) {
        const line = { method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1000) };
        const bookingId = res.locals.bookingId as string | undefined;
        logger.info(bookingId ? { ...line, bookingId } : line, 'request');
      }
    });
    next();
  });
  app.use(originGuard(appOrigin(config)));
  app.use(express.json({ limit: config.BODY_LIMIT_BYTES, strict: true }));

  app.use(publicRoutes(deps.dbs));
  app.use(
    docsRoutes(
      openApiDocument(
        apiRoutes({ maxSeats: config.MAX_SEATS_PER_BOOKING, topUpCentsPerDay: config.TOP_UP_CENTS_PER_DAY }),
      ),
    ),
  );
  const { sessions } = deps;
  app.use(
    sessionRoutes({
      dbs: deps.dbs,
      sessions,
      secureCookie: https,
      signInAttemptsPerAccount: config.SIGN_IN_ATTEMPTS_PER_ACCOUNT,
      signInAttemptsPerClient: config.SIGN_IN_ATTEMPTS_PER_CLIENT,
      signUpsPerClient: config.SIGN_UPS_PER_CLIENT,
    }),
  );
  app.use(['/api/me', '/api/bookings'], requireCustomer(sessions));
  app.use(
    customerRoutes({
      dbs: deps.dbs,
      service: deps.service,
      waterfalls: deps.waterfalls,
      maxSeats: config.MAX_SEATS_PER_BOOKING,
      topUpCentsPerDay: config.TOP_UP_CENTS_PER_DAY,
      limits: { lockTimeoutMs: config.LOCK_TIMEOUT_MS, statementTimeoutMs: config.STATEMENT_TIMEOUT_MS },
    }),
  );
  app.use(['/api/ops', '/metrics'], requireOperator(config.OPERATOR_TOKEN));
  app.use(opsRoutes({ view: deps.view, metrics }));
  for (const router of deps.extraRouters ?? []) app.use(router);
  app.use('/api', (req, _res, next) => {
    next(new HttpError(404, 'not-found', `no route ${req.method} ${req.originalUrl}`));
  });

  // The built web UI (a later issue fills src/web; its bundle lands in dist/web).
  if (deps.webDir && existsSync(join(deps.webDir, 'index.html'))) {
    const webDir = deps.webDir;
    app.use(express.static(webDir, { index: 'index.html' }));
    app.get(/^\/(?!api\/|socket\.io\/|metrics|healthz).*/, (_req, res) =>
      res.sendFile(join(webDir, 'index.html')),
    );
  }
  app.use((req, _res, next) =>
    next(new HttpError(404, 'not-found', `no route ${req.method} ${req.originalUrl}`)),
  );
  app.use(errorHandler(logger));
  return app;
}
