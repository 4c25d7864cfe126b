/**
 * Headless Chromium for the browser end-to-end tests: Debian's `/usr/bin/chromium` driven by
 * playwright-core, never a downloaded browser, with a fresh profile that is removed afterwards.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Where tests save artefacts such as screenshots (git-ignored). */
export const artifactsDir = join(__dirname, '..', 'artifacts');

/** The Chromium flags: headless, and nothing that reaches for the network on its own. */
export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** A running browser. */
export interface Chromium {
  context: BrowserContext;
  /** Opens a new page (a tab) at `url` and resolves once it has loaded. */
  open(url: string): Promise<Page>;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

/** Launches Chromium with a fresh user-data-dir. */
export async function launchChromium(): Promise<Chromium> {
  const profile = await mkdtemp(join(tmpdir(), 'silverback-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: chromiumArgs,
    });
  } catch (err) {
    await rm(profile, { recursive: true, force: true });
    throw err;
  }
  return {
    context,
    async open(url) {
      const page = await context.newPage();
      await page.goto(url);
      return page;
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Launches one Chromium for the calling test file (in `beforeAll`) and closes it after the file's
 * tests (in `afterAll`); resolves `open()` on that browser.
 */
export function useChromium(): Pick<Chromium, 'open'> {
  let browser: Chromium | undefined;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  return {
    open(url) {
      if (browser === undefined) throw new Error('Chromium is not running: open pages in tests');
      return browser.open(url);
    },
  };
}

/** Saves a screenshot of `page` as `test/artifacts/<name>.png` and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(artifactsDir, { recursive: true });
  const path = join(artifactsDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
