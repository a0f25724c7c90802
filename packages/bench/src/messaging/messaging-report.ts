import type { AmqpBaseline } from './amqp-baseline.js';
import type { OutboxBenchResult } from './outbox-bench.js';
import type { RemoteSagaCell } from './remote-saga-bench.js';

/** Everything one messaging run measured. */
export interface MessagingResults {
  startedAt: string;
  server: Record<string, string>;
  baseline: AmqpBaseline;
  outbox: OutboxBenchResult;
  sagas: RemoteSagaCell[];
}

const n = (value: number, digits = 0) => value.toLocaleString('en-US', { maximumFractionDigits: digits });

/**
 * The run as Markdown tables, with the relay's rate as a ratio of the broker's pipelined rate measured in the
 * same run and the remote saga as a ratio of the in-process one.
 *
 * @example
 * console.log(messagingReport(results));
 */
export function messagingReport(results: MessagingResults): string {
  const { baseline, outbox, sagas } = results;
  const lines = [
    `## Messaging (${results.startedAt})`,
    '',
    '| Broker baseline (durable queue, persistent, confirms) | Value |',
    '| --- | ---: |',
    `| raw amqplib, pipelined | ${n(baseline.rawPipelinedPerSecond)} publishes/s |`,
    `| AmqpConnection, pipelined (windows of 1,000) | ${n(baseline.connectionPipelinedPerSecond)} publishes/s |`,
    `| AmqpConnection, one at a time (noDelay on), p50 | ${n(baseline.sequentialP50Ms, 2)} ms |`,
    `| raw amqplib, one at a time, noDelay off (amqplib default), p50 | ${n(baseline.sequentialNoDelayOffP50Ms, 2)} ms |`,
    '',
    '| Outbox relay drain | Events | Relayed events/s | vs raw pipelined | Consumed events/s |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...outbox.drain.map(
      (d) =>
        `| ${d.relays} relay${d.relays > 1 ? 's' : ''} | ${n(d.events)} | ${n(d.eventsPerSecond)} | ${n(d.eventsPerSecond / baseline.rawPipelinedPerSecond, 2)}× | ${n(d.consumedPerSecond)} |`,
    ),
    '',
    `Commit-to-consume latency with ${outbox.latency.producers} producers committing ${n(outbox.latency.committedPerSecond)} events/s (relay woken by NOTIFY): p50 ${n(outbox.latency.commitToConsume.p50, 2)} ms, p99 ${n(outbox.latency.commitToConsume.p99, 2)} ms, max ${n(outbox.latency.commitToConsume.max, 2)} ms (${n(outbox.latency.commitToConsume.count)} events).`,
    '',
    '| Saga, 3 steps | Concurrency | Sagas/s | vs in-process | p50 ms | p99 ms | Not completed |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...sagas.map((cell) => {
      const local = sagas.find((c) => c.variant === 'in-process' && c.concurrency === cell.concurrency);
      const ratio = local ? cell.sagasPerSecond / local.sagasPerSecond : Number.NaN;
      return `| ${cell.variant} | ${cell.concurrency} | ${n(cell.sagasPerSecond)} | ${n(ratio, 2)}× | ${n(cell.latency.p50, 2)} | ${n(cell.latency.p99, 2)} | ${cell.other} |`;
    }),
    '',
  ];
  return lines.join('\n');
}
