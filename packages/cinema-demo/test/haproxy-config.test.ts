import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HAPROXY_TEMPLATE_PATH, renderHaproxyConfig } from '../src/deploy/haproxy-config.js';
import { parseStatsCsv } from '../src/deploy/haproxy-process.js';

const template = readFileSync(HAPROXY_TEMPLATE_PATH, 'utf8');
const layout = {
  bind: '127.0.0.1:18080',
  apiServers: ['127.0.0.1:4001', '127.0.0.1:4002'],
  readModelServers: ['127.0.0.1:4100'],
};

describe('the HAProxy template rendered for processes on this machine', () => {
  it("binds where told, lists this machine's servers instead of the compose services, keeps the rest", () => {
    const cfg = renderHaproxyConfig(template, { ...layout, checks: { interMs: 500, fall: 3, rise: 1 } });
    expect(cfg).toContain('    bind 127.0.0.1:18080');
    expect(cfg).not.toContain('bind *:8080');
    expect(cfg).toMatch(/server api1 127\.0\.0\.1:4001 check\n\s+server api2 127\.0\.0\.1:4002 check/);
    expect(cfg).toContain('server read_model1 127.0.0.1:4100 check');
    // The compose file's service names do not resolve here.
    expect(cfg).not.toMatch(/server api\d api\d:3000|read-model:3001/);
    expect(cfg).toContain('default-server inter 500ms fall 3 rise 1 maxconn 64');
    // Everything else is the deployment's: balancing, checks, the stats page, the redispatch.
    for (const line of [
      'balance roundrobin',
      'option httpchk GET /healthz',
      'option redispatch',
      'listen stats',
    ]) {
      expect(cfg).toContain(line);
    }
  });

  it("keeps the template's health-check timing unless told otherwise", () => {
    expect(renderHaproxyConfig(template, layout)).toContain(
      'default-server inter 2000ms fall 2 rise 2 maxconn 64',
    );
  });

  it('fails on a template that lost a marker it relies on', () => {
    expect(() => renderHaproxyConfig(template.replace('# SERVERS:api', '# servers'), layout)).toThrow(/api/);
    expect(() => renderHaproxyConfig(template.replace('bind *:8080', 'bind :80'), layout)).toThrow(/bind/);
  });
});

describe("HAProxy's stats CSV", () => {
  it('gives each server its backend, status and sessions, without the frontend and backend rows', () => {
    const csv = [
      '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status',
      'public,FRONTEND,,,0,1,4096,12,0,0,0,0,0,,,,,OPEN',
      'api,api1,0,0,0,1,64,7,0,0,,0,,0,0,0,0,DOWN',
      'api,api2,0,0,0,1,64,5,0,0,,0,,0,0,0,0,UP 1/2',
      'api,BACKEND,0,0,0,1,410,12,0,0,0,0,,0,0,0,0,UP',
    ].join('\n');
    expect(parseStatsCsv(csv)).toEqual([
      { backend: 'api', server: 'api1', status: 'DOWN', sessions: 7 },
      { backend: 'api', server: 'api2', status: 'UP 1/2', sessions: 5 },
    ]);
  });
});
