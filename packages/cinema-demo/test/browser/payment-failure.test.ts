import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './support/chromium.js';
import {
  ARTIFACTS,
  balanceInDb,
  type DemoServer,
  seatStatusInDb,
  startDemoServer,
} from './support/demo-server.js';
import { reportPageProblems, roomPage } from './support/room-page.js';

// Failure injection by configuration: every payment is declined.
let demo: DemoServer;
let browser: Browser;

beforeAll(async () => {
  [demo, browser] = await Promise.all([
    startDemoServer('browser-decline', { PAYMENT_DECLINE_RATE: '1' }),
    launchChromium(),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await demo?.close();
});

describe.each(['saga', '2pc'] as const)('a declined payment in %s mode', { timeout: 180_000 }, (mode) => {
  it('shows the reason to the person and leaves the seats free, in the page and in the databases', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    reportPageProblems(page, mode);
    const screeningId = mode === 'saga' ? 1 : 2;
    await roomPage.open(page, demo.url, screeningId);
    await roomPage.signIn(page, 'Alice');
    const before = await balanceInDb(demo.dbs, 'Alice');

    await roomPage.seat(page, 'C3').click();
    await roomPage.seat(page, 'C4').click();
    if (mode === '2pc') await page.getByLabel(/Two-phase commit/).check();
    await page.getByRole('button', { name: 'Book 2 seats' }).click();

    const outcome = await roomPage.outcome(page);
    expect(outcome.status).toBe('rejected');
    expect(outcome.reason).toBe('payment-declined');
    expect(outcome.text).toContain('The payment was declined.');
    // The reason is said once (not again in the server's words).
    expect(outcome.text.match(/declined/gi)).toHaveLength(1);
    const timeline = await roomPage.timeline(page);
    if (mode === 'saga') {
      // The charge failed, and the seat reservation that had committed was compensated.
      expect(timeline.some((row) => /^step charge-payment: failed/.test(row))).toBe(true);
      expect(timeline).toContain('compensation reserve-seats: completed');
    } else {
      expect(timeline).toContain('phase rollback: failed');
    }
    // The seats are free again on the map (a saga sold them for a moment, then compensated) and in the database.
    await roomPage.waitForSeat(page, 'C3', 'free');
    await roomPage.waitForSeat(page, 'C4', 'free');
    expect(await seatStatusInDb(demo.dbs, screeningId, 'C3')).toBe('free');
    expect(await seatStatusInDb(demo.dbs, screeningId, 'C4')).toBe('free');
    expect(await balanceInDb(demo.dbs, 'Alice')).toBe(before);
    await page.screenshot({ path: join(ARTIFACTS, `room-declined-${mode}.png`), fullPage: true });
    await context.close();
  });
});
