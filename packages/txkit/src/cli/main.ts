#!/usr/bin/env node
import { main } from './cli.js';

// The `txkit` bin (dist/cli.js). All logic is in cli.ts so that tests can run it in-process.
process.exitCode = await main(process.argv.slice(2));
