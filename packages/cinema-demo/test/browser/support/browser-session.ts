import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { launchChromium } from './chromium.js';
import { type DemoServer, startDemoServer } from './demo-server.js';
import { reportPageProblems } from './room-page.js';

/** A test file's demo server and Chromium, and pages of their own (one browser context each). */
export interface BrowserSession {
  /** The demo server (set once the file's `beforeAll` has run). */
  readonly demo: DemoServer;
  /**
   * A page in a fresh browser context (its own cookies: another person), reporting its script errors; `dark`
   * asks for the dark colour scheme.
   */
  newPage(width?: number, height?: number, options?: { dark?: boolean }): Promise<Page>;
}

/**
 * Starts the demo server and Chromium before the file's tests and closes both (and every page) after them.
 *
 * @example
 * const session = browserSession('browser-room');
 * it('books', async () => { const page = await session.newPage(); await page.goto(session.demo.url); });
 */
export function browserSession(label: string, env: Record<string, string> = {}): BrowserSession {
  let demo: DemoServer | undefined;
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  beforeAll(async () => {
    [demo, browser] = await Promise.all([startDemoServer(label, env), launchChromium()]);
  });
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await demo?.close();
  });
  return {
    get demo() {
      if (!demo) throw new Error('the demo server is not started yet (use it inside a test)');
      return demo;
    },
    async newPage(width = 1280, height = 900, options = {}) {
      if (!browser) throw new Error('Chromium is not started yet (use it inside a test)');
      const context = await browser.newContext({
        viewport: { width, height },
        ...(options.dark ? { colorScheme: 'dark' as const } : {}),
      });
      contexts.push(context);
      const page = await context.newPage();
      reportPageProblems(page, `page ${contexts.length}`);
      return page;
    },
  };
}
