/**
 * Debian's Chromium for the dashboard tests, driven by playwright-core. As root it needs
 * --no-sandbox; the background-networking flags keep it from calling out of this closed network.
 * A missing Chromium fails the browser tests (never skips them): `make test` installs it
 * (.tools/chromium.ok).
 */
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

export const LAUNCH_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `the dashboard's browser tests need Chromium at ${CHROMIUM}: run \`make test\` (it installs it) or apt-get install chromium`,
    );
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS });
}
