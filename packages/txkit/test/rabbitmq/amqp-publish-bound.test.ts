import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransportError } from '../../src/errors.js';
import { AmqpConnection } from '../../src/rabbitmq/amqp-connection.js';
import {
  assertRabbitMqReachable,
  type FaultProxy,
  startFaultProxy,
  testAmqpUrl,
} from '../../src/testing/index.js';
import { uniqueName } from '../support/broker-control.js';

// A broker that stops answering (a partition, a frozen node) after the channel is open: the publish's confirm
// never comes. Its signal must end the wait — not the heartbeat, seconds later — with a TransportError.

describe('AmqpConnection.publish through a blackholed broker', () => {
  let proxy: FaultProxy;
  let amqp: AmqpConnection;

  beforeAll(async () => {
    await assertRabbitMqReachable();
    proxy = await startFaultProxy({ upstreams: { amqp: testAmqpUrl() } });
    // Heartbeats far away: only the publish's own signal can end its wait within the test's bound.
    amqp = new AmqpConnection({
      url: proxy.url('amqp', testAmqpUrl()),
      name: uniqueName('publish-bound'),
      heartbeatSeconds: 60,
    });
    amqp.on('error', () => {});
    await amqp.connect();
  });
  afterAll(async () => {
    await proxy?.set('amqp', { mode: 'blackhole', onHeal: 'lose' });
    await proxy?.set('amqp', 'pass');
    await amqp?.close();
    await proxy?.close();
  });

  it('rejects with a TransportError once its signal aborts, the confirm still missing', async () => {
    // One confirmed publish first: the publisher channel is open before the network goes silent.
    await amqp.publish('', 'txkit-test.no-such-queue', Buffer.from('warm-up'));
    await proxy.set('amqp', 'blackhole');
    const started = performance.now();
    const publishing = amqp.publish(
      '',
      'txkit-test.no-such-queue',
      Buffer.from('lost'),
      {},
      AbortSignal.timeout(300),
    );
    const error = await publishing.then(
      () => undefined,
      (e: unknown) => e,
    );
    const ms = performance.now() - started;
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).cause).toMatchObject({ name: 'TimeoutError' });
    // Generous for a loaded machine, far below the 60 s heartbeat that would otherwise end it.
    expect(ms).toBeLessThan(10_000);
  });
});
