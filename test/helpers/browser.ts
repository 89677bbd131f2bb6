import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser } from 'playwright-core';

/** Debian's Chromium: tests drive it with playwright-core and never download a browser. */
export const CHROMIUM = '/usr/bin/chromium';

const hasPlaywright = (() => {
  try {
    createRequire(import.meta.url).resolve('playwright-core');
    return true;
  } catch {
    return false;
  }
})();

/** Why a browser test cannot run here (it says so in its skipped title), or undefined when it can. */
export const BROWSER_MISSING = !existsSync(CHROMIUM)
  ? `${CHROMIUM} not installed (apt-get install -y chromium)`
  : !hasPlaywright ? 'playwright-core not installed (npm install -D playwright-core@1)' : undefined;

/** Headless Chromium with no network of its own (reports must render offline). */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
