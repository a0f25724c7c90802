import { networkInterfaces } from 'node:os';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './support/chromium.js';
import { type DemoServer, startDemoServer } from './support/demo-server.js';
import { reportPageProblems } from './support/room-page.js';

// A non-loopback address of this machine: a browser treats it as an untrustworthy origin (unlike 127.0.0.1), as
// it does a LAN address or the compose proxy's host name.
const lanAddress = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

describe.skipIf(!lanAddress)(
  'the web UI served over plain http to another machine',
  { timeout: 120_000 },
  () => {
    let demo: DemoServer;
    let browser: Browser;
    beforeAll(async () => {
      [demo, browser] = await Promise.all([
        startDemoServer('browser-lan', { HOST: '0.0.0.0' }),
        launchChromium(),
      ]);
    });
    afterAll(async () => {
      await browser?.close();
      await demo?.close();
    });

    it('loads its scripts and lists the screenings (no https upgrade of its own URLs)', async () => {
      const page = await browser.newPage();
      reportPageProblems(page, 'lan');
      const url = `http://${lanAddress}:${demo.config.PORT}/#/`;
      await page.goto(url);
      await page.locator('a.screening').first().waitFor({ timeout: 30_000 });
      expect(await page.locator('a.screening').count()).toBe(6);
      await page.close();
    });
  },
);
