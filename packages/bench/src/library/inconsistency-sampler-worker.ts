import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import type { BenchDatabases } from './booking-mode.js';
import {
  readSnapshot,
  SAMPLER_APPLICATION_NAME,
  type SamplerWorkerData,
  sampleUntil,
} from './inconsistency-sampler.js';
import type { DatabaseSnapshot } from './mixed-states.js';

// The inconsistency sampler's worker thread (see startInconsistencySampler): its own pools, its own event loop.
const { urls, source, pauseMs } = workerData as SamplerWorkerData;
const [seats, payments, tickets] = urls.map(
  (url) => new pg.Pool({ connectionString: url, max: 1, application_name: SAMPLER_APPLICATION_NAME }),
);
if (!seats || !payments || !tickets || !parentPort) throw new Error('the sampler worker needs three URLs');
const dbs: BenchDatabases = { seats, payments, tickets };

let stopped = false;
parentPort.once('message', () => {
  stopped = true;
});

let read: () => Promise<DatabaseSnapshot>;
if (source.kind === 'library') {
  read = () => readSnapshot(dbs, source.singleDatabase);
} else {
  const { readDemoSnapshot } = await import('../e2e/demo-fixtures.js');
  read = () => readDemoSnapshot(dbs, source.screeningId, source.after);
}

parentPort.postMessage('sampling');
const report = await sampleUntil(read, () => stopped, pauseMs);
await Promise.all([seats.end(), payments.end(), tickets.end()]);
parentPort.postMessage(report);
