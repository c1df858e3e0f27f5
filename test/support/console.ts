import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { ensureBinary } from './binaries.js';

const ROOT = new URL('../..', import.meta.url).pathname;

/** Where the console specs write their screenshots (kept after the run, for review). */
export const SCREENSHOT_DIR = join(ROOT, 'test-output', 'console');

/**
 * Builds the web console (console/dist) once when its sources changed since the last build;
 * concurrent spec files wait on the build lock (scripts/build-if-needed.mjs).
 */
export async function ensureConsoleBuilt(): Promise<void> {
  const { buildConsoleIfNeeded } = (await import(join(ROOT, 'scripts', 'build-if-needed.mjs'))) as {
    buildConsoleIfNeeded: () => boolean;
  };
  buildConsoleIfNeeded();
}

/**
 * The system Chromium (Debian's `chromium`, installed with apt like redis-server when missing),
 * headless, driven by playwright-core. As root it needs --no-sandbox; the other flags keep it off
 * the network (no updates, sync or background requests).
 */
export async function launchChromium(): Promise<Browser> {
  const executablePath = await ensureBinary('chromium', 'chromium');
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--disable-default-apps',
    ],
  });
}
