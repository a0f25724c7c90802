import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './support/chromium.js';
import { type DemoServer, startDemoServer } from './support/demo-server.js';
import { reportPageProblems, roomPage } from './support/room-page.js';

// A person's account from start to finish in a real browser: sign up, sign out, a wrong password refused, sign in
// with the right one, demo money, a booking that shows up under their name.
let demo: DemoServer;
let browser: Browser;

beforeAll(async () => {
  [demo, browser] = await Promise.all([startDemoServer('browser-accounts'), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await demo?.close();
});

describe('an account in the browser', { timeout: 180_000 }, () => {
  it('signs up, signs out, is refused a wrong password, signs in with the right one, books and sees it', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    reportPageProblems(page, 'accounts');
    const email = 'hana@example.org';
    const password = 'hanas-very-own-password';
    await roomPage.open(page, demo.url, 1);

    await page.getByRole('button', { name: 'New here? Create an account' }).click();
    await page.getByLabel('Name').fill('Hana');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.locator('[data-testid="customer-name"]', { hasText: 'Hana' }).waitFor();
    await page.locator('[data-testid="wallet"]', { hasText: /0[.,]00/ }).waitFor();

    await page.locator('.app-header').getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Email').waitFor();
    expect(await page.locator('.app-header .account-name').count()).toBe(0);

    await roomPage.signInWith(page, email, 'not-hanas-password');
    await page.getByRole('alert').filter({ hasText: 'wrong email or password' }).waitFor();
    expect(await page.locator('[data-testid="customer-name"]').count()).toBe(0);

    await roomPage.signInWith(page, email, password);
    await page.locator('[data-testid="customer-name"]', { hasText: 'Hana' }).waitFor();
    await page.getByRole('button', { name: /demo money/ }).click();
    await page.locator('[data-testid="wallet"]', { hasText: /100[.,]00/ }).waitFor();

    await roomPage.seat(page, 'B2').click();
    await page.getByRole('button', { name: 'Book 1 seat' }).click();
    expect((await roomPage.outcome(page)).status).toBe('confirmed');
    const mine = page.locator('.my-bookings li', { hasText: 'B2' });
    await mine.locator('.badge.confirmed').waitFor();

    const { rows } = await demo.dbs.seats.query<{ status: string; customer_id: number }>(
      'SELECT status, customer_id FROM cinema.bookings',
    );
    const hana = await demo.dbs.payments.query<{ id: number }>(
      "SELECT id FROM cinema.customers WHERE name = 'Hana'",
    );
    expect(rows).toEqual([{ status: 'confirmed', customer_id: hana.rows[0]!.id }]);
    await context.close();
  });
});
