import { defineConfig } from 'tsup';

export default defineConfig({
  // One entry per process the demo runs: the embedded start, one API instance, the read model; and the HAProxy
  // configuration renderer of scripts/start-cluster.sh.
  entry: {
    start: 'src/start.ts',
    'api-server': 'src/api-server.ts',
    'read-model-server': 'src/read-model-server.ts',
    'render-haproxy-config': 'src/deploy/render-haproxy-config-cli.ts',
  },
  format: ['esm'],
  sourcemap: true,
  // Keep dist/web (the UI bundle, built separately) when rebuilding the server.
  clean: ['*.js', '*.js.map'],
  target: 'node20',
  loader: { '.sql': 'text' },
});
