/**
 * Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core for the report tests;
 * a fresh temporary profile each launch, background networking off. Tests skip with a printed
 * reason when the browser is missing.
 */
import fs from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
export const HAS_CHROMIUM = fs.existsSync(CHROMIUM);
if (!HAS_CHROMIUM) console.log(`${CHROMIUM} not found: the report's browser tests are skipped`);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

export interface WatchedPage {
  page: Page;
  /** console errors/warnings and uncaught exceptions */
  errors: string[];
  /** every request that is not the report file itself */
  requests: string[];
  /** alert/confirm/prompt dialogs (an injected script would open one) */
  dialogs: string[];
}

/** A page that records console errors, requests (all blocked but file://) and dialogs. */
export async function watchedPage(browser: Browser, viewport = { width: 1400, height: 900 }): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const w: WatchedPage = { page, errors: [], requests: [], dialogs: [] };
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") w.errors.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => w.errors.push(`pageerror: ${e.message}`));
  page.on("dialog", (d) => {
    w.dialogs.push(d.message());
    void d.dismiss();
  });
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("file:") || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
    w.requests.push(url);
    return route.abort();
  });
  page.on("request", (r) => {
    const url = r.url();
    if (!/^(file|data|blob):/.test(url) && !w.requests.includes(url)) w.requests.push(url);
  });
  return w;
}

/** Opens a report and waits until plotly has run and the first plots are drawn. */
export async function openReport(w: WatchedPage, file: string): Promise<void> {
  await w.page.goto(`file://${file}`);
  await w.page.waitForSelector("body[data-ready='1']", { state: "attached", timeout: 90_000 });
}

/**
 * Screenshot of one element, cut from a full-page capture (element screenshots of tall elements
 * are stitched from several captures and can lose rows).
 */
export async function elementShot(page: Page, selector: string, file: string): Promise<void> {
  const box = await page.$eval(selector, (e) => {
    const r = e.getBoundingClientRect();
    return { x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width, height: r.height };
  });
  await page.screenshot({ path: file, fullPage: true, clip: box });
}
