import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AmqpConnection } from '../../src/rabbitmq/amqp-connection.js';
import {
  assertRabbitMqReachable,
  type FaultProxy,
  startFaultProxy,
  testAmqpUrl,
} from '../../src/testing/index.js';
import { uniqueName } from '../support/broker-control.js';

// amqplib's close() of a channel or a connection calls back only on the broker's CloseOk: when the connection
// is lost while the close waits for it, the close never settles. The partition soak found an outbox relay's
// connection stuck for good that way (its declaration channel closing when a cut came): it never reconnected,
// and close() never returned. A close ends with the connection now, however it ends.

/** Settles with `promise`, or rejects after `ms` (a hang fails the test instead of timing it out). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe('AmqpConnection when the connection is lost while a close waits for its reply', () => {
  let proxy: FaultProxy;
  const exchange = uniqueName('close-lost');

  beforeAll(async () => {
    await assertRabbitMqReachable();
    proxy = await startFaultProxy({ upstreams: { amqp: testAmqpUrl() } });
  });
  afterAll(async () => {
    await proxy?.close();
  });

  function connection(label: string) {
    const amqp = new AmqpConnection({
      url: proxy.url('amqp', testAmqpUrl()),
      name: `${exchange}.${label}`,
      // Heartbeats far away: only the lost connection itself may end the closes.
      heartbeatSeconds: 60,
      reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
    });
    amqp.on('error', () => {});
    return amqp;
  }

  /** Once the blackhole holds what the client sent (the close), the link is cut and the proxy passes again. */
  async function cutOnceHeld() {
    // (Bytes are also held, in pass, while a new link's connection to the broker is still being opened.)
    await proxy.until('amqp', (s) => s.mode.mode === 'blackhole' && s.heldToServer > 0, 10_000);
    await proxy.set('amqp', 'cut');
    await proxy.set('amqp', 'pass');
  }

  it('reconnects when the connection is lost while a declaration channel closes', async () => {
    const amqp = connection('declare');
    let first = true;
    await amqp.addTopology(async (channel) => {
      await channel.assertExchange(exchange, 'topic', { durable: false, autoDelete: true });
      // The declaration went through; the channel's close that follows is held, then the connection is cut.
      if (first) {
        first = false;
        await proxy.set('amqp', 'blackhole');
      }
    });
    const connecting = amqp.connect();
    await cutOnceHeld();
    // Before: the first attempt waited for the channel's CloseOk for ever, so no reconnect ever came.
    await within(connecting, 10_000, 'connect()');
    // (connect() may resolve with the attempt the cut ended, as with any loss right after it: then it reconnects.)
    await expect.poll(() => amqp.isConnected, { timeout: 10_000 }).toBe(true);
    await within(amqp.close(), 10_000, 'close()');
  });

  it('close() ends when the connection is lost while its close waits for the broker', async () => {
    const amqp = connection('close');
    await amqp.connect();
    await proxy.set('amqp', 'blackhole');
    const closing = amqp.close();
    await cutOnceHeld();
    await within(closing, 10_000, 'close()');
  });
});
