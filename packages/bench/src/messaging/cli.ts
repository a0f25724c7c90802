import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openBenchCluster } from '../library/bench-cluster.js';
import { measureAmqpBaseline } from './amqp-baseline.js';
import { messagingReport } from './messaging-report.js';
import { benchOutbox } from './outbox-bench.js';
import { benchRemoteSaga } from './remote-saga-bench.js';

const usage = `usage: npx tsx src/messaging/cli.ts [options]   (in packages/bench, after npm run build -w txkit)

  --amqp-url <url>      RabbitMQ (default: AMQP_URL or amqp://guest:guest@127.0.0.1:5672)
  --concurrency <list>  saga clients per cell (default: 1,8,32)
  --duration <s>        seconds per saga cell (default: 5)
  --rounds <n>          interleaved rounds per saga cell (default: 2)
  --backlog <n>         outbox rows drained per relay measurement (default: 50000)
  --pg-urls <urls>      three postgres:// URLs instead of embedded servers
  --out <dir>           results folder (default: results/messaging-<timestamp>)`;

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'amqp-url': { type: 'string', default: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672' },
      concurrency: { type: 'string', default: '1,8,32' },
      duration: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '2' },
      backlog: { type: 'string', default: '50000' },
      'pg-urls': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const url = values['amqp-url'];
  const concurrency = values.concurrency.split(',').map(Number);
  const cluster = await openBenchCluster({
    ...(values['pg-urls'] ? { pgUrls: values['pg-urls'] } : {}),
    poolSize: Math.max(...concurrency) * 2 + 8,
  });
  try {
    const startedAt = new Date().toISOString();
    console.log('broker baseline ...');
    const baseline = await measureAmqpBaseline(url, 20_000);
    console.log('outbox relay ...');
    const outbox = await benchOutbox(cluster.dbs.seats, url, {
      backlog: Number(values.backlog),
      latencyMs: 5_000,
      producers: 8,
    });
    console.log('remote vs in-process saga steps ...');
    const sagas = await benchRemoteSaga(cluster.dbs, url, {
      concurrency,
      durationMs: Number(values.duration) * 1000,
      rounds: Number(values.rounds),
    });
    const results = { startedAt, server: cluster.server, baseline, outbox, sagas };
    const markdown = messagingReport(results);
    const out = values.out ?? join('results', `messaging-${startedAt.replaceAll(':', '-')}`);
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'results.json'), JSON.stringify(results, null, 2));
    await writeFile(join(out, 'report.md'), markdown);
    console.log(`\n${markdown}\nresults written to ${out}`);
  } finally {
    await cluster.close();
  }
}

main(process.argv.slice(2)).catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
