import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The web console: built into console/dist, which Nest serves at / (src/console/console-assets.ts).
// No inline scripts (the CSP allows only 'self'), hashed file names under assets/ (cached a year).
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1500,
    reportCompressedSize: false,
  },
});
