import { defineConfig } from 'vitest/config';

// Starting a PostgreSQL server (initdb) takes a few seconds on a small machine.
export default defineConfig({ test: { testTimeout: 60_000, hookTimeout: 120_000 } });
