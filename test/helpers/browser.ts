// Headless Chromium for page tests (Debian's chromium, driven by playwright-core): TEST_CHROMIUM names it, CI sets it.
import { existsSync } from 'node:fs';
import type { Test } from 'tap';
import { chromium, type Browser } from 'playwright-core';

/**
 * Why page tests are skipped here (no Chromium), or false. TEST_CHROMIUM naming a file that does not exist throws:
 * CI sets it, and must not pass by skipping.
 */
export function browserSkip(): string | false {
  const named = process.env.TEST_CHROMIUM;
  if (existsSync(named || CHROMIUM)) return false;
  if (named) throw new Error(`TEST_CHROMIUM=${named}: no such file (apt-get install chromium)`);
  return `no Chromium at ${CHROMIUM} (apt-get install chromium, or set TEST_CHROMIUM)`;
}

const CHROMIUM = '/usr/bin/chromium';

/** Launches the browser (closed when the test ends). */
export async function browserForTests(t: Test): Promise<Browser> {
  const path = process.env.TEST_CHROMIUM || CHROMIUM;
  // The flags keep Chromium from reaching for the network (updates, sync): this machine's network is closed.
  const browser = await chromium.launch({
    executablePath: path,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  return browser;
}
