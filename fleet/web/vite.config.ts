import { defineConfig } from 'vitest/config';
import tailwindcss from '@tailwindcss/vite';

// The UI is served by keel-fleet from fleet/web/dist at the site root; the API is same-origin
// under /api/v1. `npm run dev` proxies the API to a local keel-fleet (KEEL_FLEET_URL).
export default defineConfig({
  plugins: [tailwindcss()],
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // No inline scripts or styles: the server can send a strict Content-Security-Policy.
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
  server: {
    proxy: { '/api': process.env.KEEL_FLEET_URL ?? 'http://127.0.0.1:8080' },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
