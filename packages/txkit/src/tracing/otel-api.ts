import { createRequire } from 'node:module';

/** The part of `@opentelemetry/api` txkit uses; `typeof import` keeps the package out of the published types. */
export type OtelApi = typeof import('@opentelemetry/api');

let loaded: { api: OtelApi | undefined } | undefined;

/**
 * `@opentelemetry/api` when the application installed it, `undefined` otherwise. It is an optional peer: txkit
 * must load without it, and must use the application's copy (the one its SDK registered the tracer provider
 * with), so it is required lazily from txkit's own location instead of imported. Loaded once; a missing package
 * costs one failed resolution per process.
 *
 * @internal
 */
export function otelApi(): OtelApi | undefined {
  if (!loaded) {
    try {
      loaded = { api: createRequire(import.meta.url)('@opentelemetry/api') as OtelApi };
    } catch {
      loaded = { api: undefined };
    }
  }
  return loaded.api;
}
