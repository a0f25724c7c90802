import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { type ConfirmChannel, connect } from 'amqplib';
import { deadLetterQueueOf } from '../../src/rabbitmq/dead-letter.js';
import { testAmqpUrl } from '../../src/testing/index.js';

const run = promisify(execFile);

/** A name unique to one test file and run, for queues, exchanges and connection names. */
export function uniqueName(label: string): string {
  return `txkit-test.${label}.${randomUUID().slice(0, 8)}`;
}

/**
 * Closes, from the broker's side, every connection whose `connection_name` is `name` (as an operator or a
 * broker shutdown would), through `rabbitmqctl`. Returns how many were closed.
 */
export async function closeConnectionsFromServer(name: string, reason = 'closed by test'): Promise<number> {
  const { stdout } = await rabbitmqctl([
    'list_connections',
    '-q',
    '--no-table-headers',
    'pid',
    'client_properties',
  ]);
  const pids = stdout
    .split('\n')
    .filter((line) => line.includes(`{"connection_name","${name}"}`))
    .map((line) => line.split('\t')[0]!)
    .filter(Boolean);
  for (const pid of pids) await rabbitmqctl(['close_connection', pid, reason]);
  return pids.length;
}

/**
 * Deletes queues a test declared, each with the dead-letter queue its consumer declared next to it (best effort,
 * for teardown).
 */
export async function deleteQueues(names: readonly string[]): Promise<void> {
  await withBrokerChannel(async (channel) => {
    for (const name of names) {
      await channel.deleteQueue(name);
      await channel.deleteQueue(deadLetterQueueOf(name));
    }
  }).catch(() => {});
}

/**
 * Runs `work` on a confirm channel of a connection of its own, with amqplib alone: what a test publishes, reads
 * or checks this way does not depend on the code under test.
 */
export async function withBrokerChannel<T>(work: (channel: ConfirmChannel) => Promise<T>): Promise<T> {
  const connection = await connect(testAmqpUrl());
  try {
    const channel = await connection.createConfirmChannel();
    // A refused operation (checking a queue that does not exist yet) closes the channel: the operation's own
    // promise rejects with the reason, the 'error' event would only repeat it as an uncaught exception.
    channel.on('error', () => {});
    const result = await work(channel);
    // Whatever `work` published is on the broker before the connection goes.
    await channel.waitForConfirms();
    return result;
  } finally {
    await connection.close().catch(() => {});
  }
}

async function rabbitmqctl(args: string[]): Promise<{ stdout: string }> {
  try {
    return await run('rabbitmqctl', args, { timeout: 30_000 });
  } catch (error) {
    throw new Error(
      `rabbitmqctl ${args[0]} failed (the connection-loss tests close connections from the broker's side with it): ${(error as Error).message}`,
    );
  }
}
