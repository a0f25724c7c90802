/**
 * Prints `deploy/haproxy.cfg` rendered for processes on this machine (scripts/start-cluster.sh):
 *
 *   node dist/render-haproxy-config.js --template deploy/haproxy.cfg --bind 127.0.0.1:8080 \
 *     --api 127.0.0.1:4001,127.0.0.1:4002 --read-model 127.0.0.1:4100
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { renderHaproxyConfig } from './haproxy-config.js';

const { values } = parseArgs({
  options: {
    template: { type: 'string' },
    bind: { type: 'string' },
    api: { type: 'string' },
    'read-model': { type: 'string' },
  },
});
const { template, bind, api } = values;
const readModel = values['read-model'];
if (!template || !bind || !api || !readModel) {
  console.error(
    'usage: render-haproxy-config --template <haproxy.cfg> --bind <host:port> --api <host:port,...> --read-model <host:port>',
  );
  process.exit(2);
}
process.stdout.write(
  renderHaproxyConfig(readFileSync(template, 'utf8'), {
    bind,
    apiServers: api.split(','),
    readModelServers: readModel.split(','),
  }),
);
