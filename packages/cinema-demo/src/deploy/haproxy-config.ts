import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The one HAProxy configuration of the demo (`deploy/haproxy.cfg`): docker-compose mounts it as is; tests and the
 * bench render it for processes on this machine with {@link renderHaproxyConfig}, so what they run is what the
 * deployment runs.
 */
export const HAPROXY_TEMPLATE_PATH = fileURLToPath(new URL('../../deploy/haproxy.cfg', import.meta.url));

/** Where the proxy listens and what it balances, for processes on this machine. */
export interface HaproxyLayout {
  /** The public frontend's address, e.g. `127.0.0.1:18080` (the template's is `*:8080`). */
  bind: string;
  /** `host:port` of each API instance, named api1, api2, ... as in the compose file. */
  apiServers: string[];
  /** `host:port` of each read model (an API instance without a broker serves it too). */
  readModelServers: string[];
  /**
   * Health checks of every server: interval, failures before a server is taken out, successes before it is taken
   * back. Default: the template's (2 s, 2, 2), about 4 s to take out a dead instance; tests shorten it.
   */
  checks?: { interMs: number; fall: number; rise: number };
}

type Section = 'frontend' | 'api' | 'read_model' | 'other';

function sectionOf(line: string, current: Section): Section {
  if (/^frontend public\b/.test(line)) return 'frontend';
  if (/^backend api\b/.test(line)) return 'api';
  if (/^backend read_model\b/.test(line)) return 'read_model';
  if (/^\S/.test(line) && !line.startsWith('#')) return 'other';
  return current;
}

/**
 * Renders the template for this machine: the frontend's bind address, the `server` lines of both backends (at
 * their `# SERVERS:` markers, the compose file's service names dropped) and, optionally, the health checks'
 * timing. Fails when the template lost a marker this relies on, so a template change cannot silently leave a
 * test or the bench running something else.
 *
 * @example
 * const cfg = renderHaproxyConfig(readFileSync(HAPROXY_TEMPLATE_PATH, 'utf8'), {
 *   bind: '127.0.0.1:18080',
 *   apiServers: ['127.0.0.1:4001', '127.0.0.1:4002'],
 *   readModelServers: ['127.0.0.1:4001'],
 * });
 */
export function renderHaproxyConfig(template: string, layout: HaproxyLayout): string {
  const found = new Set<string>();
  const serverLines = (name: string, addresses: string[]) =>
    addresses.map((address, i) => `    server ${name}${i + 1} ${address} check`);
  let section: Section = 'other';
  const out: string[] = [];
  for (const line of template.split('\n')) {
    section = sectionOf(line, section);
    if (section === 'frontend' && /^\s+bind \*:8080\s*$/.test(line)) {
      found.add('bind');
      out.push(`    bind ${layout.bind}`);
    } else if (line.trim() === '# SERVERS:api') {
      found.add('api');
      out.push(line, ...serverLines('api', layout.apiServers));
    } else if (line.trim() === '# SERVERS:read_model') {
      found.add('read_model');
      out.push(line, ...serverLines('read_model', layout.readModelServers));
    } else if ((section === 'api' || section === 'read_model') && /^\s+server /.test(line)) {
      // The compose file's servers (service names that do not resolve here).
    } else if (section === 'api' && /^\s+default-server /.test(line)) {
      found.add('default-server');
      const { interMs, fall, rise } = layout.checks ?? { interMs: 2_000, fall: 2, rise: 2 };
      out.push(line.replace(/inter \S+ fall \d+ rise \d+/, `inter ${interMs}ms fall ${fall} rise ${rise}`));
    } else {
      out.push(line);
    }
  }
  const missing = ['bind', 'api', 'read_model', 'default-server'].filter((part) => !found.has(part));
  if (missing.length > 0) {
    throw new Error(`the HAProxy template lost what rendering relies on: ${missing.join(', ')}`);
  }
  return out.join('\n');
}

/**
 * {@link renderHaproxyConfig} of the repository's template.
 *
 * @example
 * await writeFile(cfgPath, renderDemoHaproxyConfig({ bind, apiServers, readModelServers }));
 */
export function renderDemoHaproxyConfig(layout: HaproxyLayout): string {
  return renderHaproxyConfig(readFileSync(HAPROXY_TEMPLATE_PATH, 'utf8'), layout);
}
