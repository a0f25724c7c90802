import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** The machine's Chromium from the OS packages; never a browser downloaded by a tool. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Launches the OS Chromium headless, or fails with one line that says how to get it.
 *
 * @example
 * const browser = await launchChromium();
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`browser tests need Chromium at ${CHROMIUM_PATH}: apt-get install -y chromium`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}
