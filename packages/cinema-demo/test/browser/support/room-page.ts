import type { Page } from 'playwright-core';
import { demoEmail } from '../../../src/auth/demo-passwords.js';
import { DEMO_PASSWORDS } from '../../support/demo-harness.js';

/** Steps a person takes on the room page, written the way they read. */
export const roomPage = {
  async open(page: Page, baseUrl: string, screeningId: number): Promise<void> {
    await page.goto(`${baseUrl}/#/screenings/${screeningId}`);
    await page.locator('[data-seat="A1"]').waitFor({ timeout: 30_000 });
    await page.locator('[data-testid="connection"][data-state="live"]').waitFor({ timeout: 30_000 });
  },

  /** Signs a seeded customer in with their email and password (the tests' demo passwords). */
  async signIn(page: Page, name: string): Promise<void> {
    await roomPage.signInWith(page, demoEmail(name), DEMO_PASSWORDS[name]!);
    await page.locator('[data-testid="customer-name"]', { hasText: name }).waitFor();
  },

  /** Fills the sign-in form and submits it (does not wait for the outcome). */
  async signInWith(page: Page, email: string, password: string): Promise<void> {
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  },

  seat(page: Page, name: string) {
    return page.locator(`[data-seat="${name}"]`);
  },

  /** Resolves when the seat shows the given look (free, selected, pending, booked, mine). */
  async waitForSeat(page: Page, name: string, look: string, timeout = 30_000): Promise<void> {
    await page.locator(`[data-seat="${name}"][data-look="${look}"]`).waitFor({ timeout });
  },

  /**
   * The bars of the settled booking's waterfall (the outcome's, or `within` another container) as
   * "kind name: completed | failed", in the order they are drawn (lane by lane).
   */
  async timeline(page: Page, within = '.booking-waterfall'): Promise<string[]> {
    const bars = page.locator(`${within} [data-testid="waterfall"][data-run="booking"] .wf-bar`);
    await bars.first().waitFor({ timeout: 30_000 });
    return bars.evaluateAll((items) =>
      items.map((bar) => {
        const d = (bar as HTMLElement).dataset;
        return `${d.kind} ${d.name}: ${bar.classList.contains('wf-failed') ? 'failed' : 'completed'}`;
      }),
    );
  },

  /** The bars of one waterfall with their drawn geometry and their times. */
  waterfallBars(page: Page, waterfall: string) {
    return page.locator(`${waterfall} .wf-bar`).evaluateAll((items) =>
      items.map((bar) => {
        const d = (bar as HTMLElement).dataset;
        const box = bar.getBoundingClientRect();
        return {
          lane: (bar.closest('[data-lane]') as HTMLElement).dataset.lane,
          kind: d.kind,
          name: d.name,
          failed: bar.classList.contains('wf-failed'),
          startMs: Number(d.startMs),
          durationMs: Number(d.durationMs),
          x: box.x,
          width: box.width,
        };
      }),
    );
  },

  /** The outcome panel once the booking has settled. */
  async outcome(page: Page, timeout = 60_000) {
    const settled = page.locator('[data-testid="outcome"]:not([data-status="pending"])');
    await settled.waitFor({ timeout });
    return {
      status: await settled.getAttribute('data-status'),
      reason: await settled.getAttribute('data-reason'),
      text: ((await settled.textContent()) ?? '').replace(/\s+/g, ' '),
    };
  },
};

/** Reports the page's script errors and failed requests on stderr, so a failing test says why. */
export function reportPageProblems(page: Page, who: string): void {
  page.on('pageerror', (error) => console.error(`[${who}] page error: ${error.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') console.error(`[${who}] console: ${m.text()}`);
  });
}

/**
 * Presses Tab until the focused element matches `selector` (keyboard-only navigation), failing after `max`.
 *
 * @example
 * await tabTo(page, '[data-seat]');
 */
export async function tabTo(page: Page, selector: string, max = 60): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
  }
  throw new Error(`Tab never reached ${selector}`);
}

/** The focused element's accessible description, for messages. */
export function focused(page: Page): Promise<string> {
  return page.evaluate(() => {
    const el = document.activeElement;
    return el
      ? `${el.tagName.toLowerCase()} ${el.getAttribute('aria-label') ?? el.textContent ?? ''}`
      : 'nothing';
  });
}
