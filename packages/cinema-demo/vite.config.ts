import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The web UI lives in src/web and is built into dist/web, which the API server serves on its own port.
// `npx vite` runs a dev server that forwards the API and socket.io to a local `npm start` (port 3000).
const api = process.env.CINEMA_API ?? 'http://127.0.0.1:3000';

export default defineConfig({
  root: 'src/web',
  base: '/',
  plugins: [react()],
  build: {
    outDir: '../../dist/web',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
  },
  server: {
    proxy: {
      '/api': api,
      '/healthz': api,
      '/socket.io': { target: api, ws: true },
    },
  },
});
