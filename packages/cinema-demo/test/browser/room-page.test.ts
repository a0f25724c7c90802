import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { demoEmail } from '../../src/auth/demo-passwords.js';
import { DEMO_PASSWORDS } from '../support/demo-harness.js';
import { browserSession } from './support/browser-session.js';
import { ARTIFACTS, balanceInDb, seatStatusInDb } from './support/demo-server.js';
import { focused, roomPage, tabTo } from './support/room-page.js';

// Screening 1 is in Room 1 (10 rows of 15) at 12.00 a seat; screening 3 is in the same room, 3 and 5 elsewhere.
const session = browserSession('browser-room');
const newPage = (width?: number, height?: number) => session.newPage(width, height);

// Generous limits: these run beside the other suites on a small machine; a pass is usually a few seconds.
describe('the room page in a real browser', { timeout: 180_000 }, () => {
  it('A books two seats by saga and B, on the same screening, sees them turn booked (and free again on cancel) without a reload', async () => {
    const [a, b] = [await newPage(), await newPage()];
    await roomPage.open(a, session.demo.url, 1);
    await roomPage.open(b, session.demo.url, 1);
    await roomPage.signIn(a, 'Alice');
    await roomPage.signIn(b, 'Bob');
    // A marker that a reload would wipe out.
    await b.evaluate(() => Object.assign(window, { stillTheSamePage: true }));

    await roomPage.seat(a, 'A1').click();
    await roomPage.seat(a, 'A2').click();
    await roomPage.waitForSeat(a, 'A2', 'selected');
    expect((await a.getByTestId('total').textContent()) ?? '').toMatch(/24[.,]00/);
    await a.screenshot({ path: join(ARTIFACTS, 'room-before-booking.png'), fullPage: true });

    await a.getByRole('button', { name: 'Book 2 seats' }).click();
    const outcome = await roomPage.outcome(a);
    expect(outcome.status).toBe('confirmed');
    expect(await a.locator('.tickets code').count()).toBe(2);
    // The timeline (a waterfall) shows the saga's steps as they ran.
    expect(await roomPage.timeline(a)).toEqual(
      expect.arrayContaining([
        'step reserve-seats: completed',
        'step charge-payment: completed',
        'step issue-tickets: completed',
      ]),
    );
    await roomPage.waitForSeat(a, 'A1', 'mine');
    await roomPage.waitForSeat(a, 'A2', 'mine');

    // B: the seats turn booked through the read model's socket, on the page as it was.
    await roomPage.waitForSeat(b, 'A1', 'booked');
    await roomPage.waitForSeat(b, 'A2', 'booked');
    expect(
      await b.evaluate(() => (window as unknown as { stillTheSamePage?: boolean }).stillTheSamePage),
    ).toBe(true);
    expect(await roomPage.seat(b, 'A1').getAttribute('aria-disabled')).toBe('true');
    expect(await seatStatusInDb(session.demo.dbs, 1, 'A1')).toBe('sold');
    expect(await seatStatusInDb(session.demo.dbs, 1, 'A2')).toBe('sold');
    await a.screenshot({ path: join(ARTIFACTS, 'room-after-booking.png'), fullPage: true });
    await b.screenshot({ path: join(ARTIFACTS, 'room-other-visitor.png'), fullPage: true });

    // And the other way round, in two-phase-commit mode: B books, A sees it live.
    await roomPage.seat(b, 'E7').click();
    await b.getByLabel(/Two-phase commit/).check();
    await b.getByRole('button', { name: 'Book 1 seat' }).click();
    expect((await roomPage.outcome(b)).status).toBe('confirmed');
    expect(await roomPage.timeline(b)).toEqual(
      expect.arrayContaining(['phase prepare: completed', 'phase commit: completed']),
    );
    await roomPage.waitForSeat(a, 'E7', 'booked');
    await roomPage.waitForSeat(b, 'E7', 'mine');

    // A cancels; both pages show the seats free again, still without a reload.
    await a.getByRole('button', { name: 'Cancel booking of A1, A2' }).click();
    await a.locator('.my-bookings .badge.cancelled').waitFor();
    await roomPage.waitForSeat(b, 'A1', 'free');
    await roomPage.waitForSeat(a, 'A1', 'free');
    expect(await seatStatusInDb(session.demo.dbs, 1, 'A1')).toBe('free');
    expect(
      await b.evaluate(() => (window as unknown as { stillTheSamePage?: boolean }).stillTheSamePage),
    ).toBe(true);
  });

  it('shows the live feed going offline and back, and catches up on what it missed', async () => {
    const [a, b] = [await newPage(), await newPage()];
    await roomPage.open(a, session.demo.url, 1);
    await roomPage.open(b, session.demo.url, 1);
    await roomPage.signIn(a, 'Dave');
    await b.context().setOffline(true);
    await b.locator('[data-testid="connection"][data-state="offline"]').waitFor({ timeout: 60_000 });

    await roomPage.seat(a, 'H8').click();
    await a.getByRole('button', { name: 'Book 1 seat' }).click();
    expect((await roomPage.outcome(a)).status).toBe('confirmed');

    await b.context().setOffline(false);
    await b.locator('[data-testid="connection"][data-state="live"]').waitFor({ timeout: 60_000 });
    // The snapshot sent on re-watching brings the seat booked while B was away.
    await roomPage.waitForSeat(b, 'H8', 'booked');
  });

  it('signs in as the chosen customer and books as them: their booking, their wallet', async () => {
    const page = await newPage();
    await roomPage.open(page, session.demo.url, 3);
    await roomPage.signIn(page, 'Carol');
    const before = await balanceInDb(session.demo.dbs, 'Carol');
    await roomPage.seat(page, 'J15').click();
    await page.getByRole('button', { name: 'Book 1 seat' }).click();
    expect((await roomPage.outcome(page)).status).toBe('confirmed');

    const { rows } = await session.demo.dbs.seats.query<{ customer_id: number }>(
      "SELECT customer_id FROM cinema.bookings WHERE screening_id = 3 AND status = 'confirmed'",
    );
    const carol = await session.demo.dbs.payments.query<{ id: number }>(
      "SELECT id FROM cinema.customers WHERE name = 'Carol'",
    );
    expect(rows).toEqual([{ customer_id: carol.rows[0]!.id }]);
    expect(await balanceInDb(session.demo.dbs, 'Carol')).toBe(before - 1200);
    await page.locator('[data-testid="wallet"]', { hasText: /488[.,]00/ }).waitFor();
    expect(await page.locator('.app-header .account-name').textContent()).toBe('Carol');

    // The session outlives a reload (HttpOnly cookie); a forged one is refused and the page offers sign-in.
    await page.reload();
    await page.locator('[data-testid="customer-name"]', { hasText: 'Carol' }).waitFor();
    await page
      .context()
      .addCookies([{ name: 'cinema_session', value: 'forged.token', url: session.demo.url }]);
    await page.reload();
    await page.getByLabel('Email').waitFor();
    expect(await page.locator('.app-header .account-name').count()).toBe(0);
  });

  it('books with the keyboard alone: sign in, move with arrows, select with Space and Enter, book', async () => {
    const page = await newPage();
    await roomPage.open(page, session.demo.url, 3);

    await tabTo(page, 'input[type="email"]');
    await page.keyboard.type(demoEmail('Dave'));
    await page.keyboard.press('Tab');
    await page.keyboard.type(DEMO_PASSWORDS.Dave!);
    await tabTo(page, 'button.primary');
    await page.keyboard.press('Enter');
    await page.locator('[data-testid="customer-name"]', { hasText: 'Dave' }).waitFor();

    await tabTo(page, '[data-seat]');
    expect(await focused(page)).toContain('Row A, seat 1');
    for (const key of ['ArrowRight', 'ArrowRight', 'ArrowRight', 'ArrowDown']) await page.keyboard.press(key);
    expect(await focused(page)).toContain('Row B, seat 4, free');
    await page.keyboard.press('Space');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Enter');
    await roomPage.waitForSeat(page, 'B4', 'selected');
    await roomPage.waitForSeat(page, 'B5', 'selected');
    // Seats already sold are passed over by the keys but cannot be chosen.
    await page.keyboard.press('End');
    expect(await focused(page)).toContain('Row B, seat 15');

    await tabTo(page, 'input[type="radio"]');
    await page.keyboard.press('ArrowDown');
    expect(await page.getByLabel(/Two-phase commit/).isChecked()).toBe(true);
    await tabTo(page, 'button.primary.big');
    await page.keyboard.press('Enter');
    expect((await roomPage.outcome(page)).status).toBe('confirmed');
    expect(await seatStatusInDb(session.demo.dbs, 3, 'B4')).toBe('sold');
    expect(await seatStatusInDb(session.demo.dbs, 3, 'B5')).toBe('sold');
    await roomPage.waitForSeat(page, 'B4', 'mine');
  });

  it('a lost answer is retried with the same idempotency key: one booking, one payment', async () => {
    const page = await newPage();
    await roomPage.open(page, session.demo.url, 5);
    await roomPage.signIn(page, 'Bob');
    // The first booking request reaches the server, but its answer is lost on the way back.
    let dropped = false;
    await page.route('**/api/bookings', async (route) => {
      if (route.request().method() !== 'POST' || dropped) return route.continue();
      dropped = true;
      await route.fetch();
      await route.abort('connectionreset');
    });
    await roomPage.seat(page, 'D5').click();
    await page.getByRole('button', { name: 'Book 1 seat' }).click();
    await page.locator('[data-testid="outcome"][data-status="error"]').waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Try again' }).click();
    await page.locator('[data-testid="outcome"][data-status="confirmed"]').waitFor({ timeout: 60_000 });

    const bookings = await session.demo.dbs.seats.query(
      'SELECT id FROM cinema.bookings WHERE screening_id = 5',
    );
    expect(bookings.rows).toHaveLength(1);
    const payments = await session.demo.dbs.payments.query(
      'SELECT 1 FROM cinema.payments WHERE booking_id = $1',
      [bookings.rows[0].id],
    );
    expect(payments.rows).toHaveLength(1);
    await roomPage.waitForSeat(page, 'D5', 'mine');
  });

  it('lists screenings, and the operations page shows recent transactions only with the operator token', async () => {
    const page = await newPage();
    await page.goto(`${session.demo.url}/#/`);
    const first = page.locator('a.screening').first();
    await first.waitFor();
    // Screening 1: E7 and H8 sold by the tests above (A1 and A2 were sold, then cancelled).
    expect(await first.textContent()).toContain('148 of 150 seats left');
    await page.screenshot({ path: join(ARTIFACTS, 'screenings.png'), fullPage: true });

    await page.getByRole('link', { name: 'Operations' }).click();
    await page.getByLabel('Operator token').fill('not-the-token-at-all-0000');
    await page.getByRole('button', { name: 'Open' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: /operator token/i })
      .waitFor();

    await page.getByLabel('Operator token').fill(session.demo.config.OPERATOR_TOKEN);
    await page.getByRole('button', { name: 'Open' }).click();
    await page.getByRole('heading', { name: 'Recent sagas' }).waitFor();
    await page.locator('#sagas-title + table tbody tr').first().waitFor();
    expect(await page.locator('#sagas-title + table tbody tr').count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator('#tpc-title + table tbody tr').count()).toBeGreaterThanOrEqual(2);
    expect(await page.getByRole('heading', { name: /In doubt/ }).textContent()).toContain('0');
    await page.screenshot({ path: join(ARTIFACTS, 'operations.png'), fullPage: true });
  });

  it('fits a narrow phone screen: no page-wide horizontal scroll, the map scrolls inside its card', async () => {
    const page = await newPage(375, 740);
    await roomPage.open(page, session.demo.url, 1);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(ARTIFACTS, 'room-narrow.png'), fullPage: true });
    // The map scrolls inside its box, centred, and says so.
    await page.locator('.scroll-hint').waitFor();
    expect(await page.locator('.seat-scroll').evaluate((el) => el.scrollLeft)).toBeGreaterThan(0);

    const night = await session.newPage(1280, 900, { dark: true });
    await roomPage.open(night, session.demo.url, 1);
    await night.screenshot({ path: join(ARTIFACTS, 'room-dark.png'), fullPage: true });
  });
});
