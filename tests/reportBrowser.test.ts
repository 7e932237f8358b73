/**
 * The report in a real browser (headless Debian chromium via playwright-core): loads without
 * console errors or network requests, rows, sorting, filtering, the POI switch, the reference fit,
 * inert names, postfit plots, the post-fit sections from hand-written keys. Screenshots go to
 * test-artifacts/report/ (gitignored).
 */
import fs from "node:fs";
import path from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { buildReport } from "../src/report/buildReport.js";
import { HAS_CHROMIUM, elementShot, launchChromium, openReport, watchedPage, type WatchedPage } from "./helpers/browser.js";
import { MARKUP_PROC, N_NUISANCES, NOI, XSS_NAME, reportFits } from "./helpers/reportFixture.js";
import { fixture, repoRoot, tempDir } from "./fixtures/tensorFiles.js";
import { main as fitMain } from "../src/cli/fit.js";
import { runCommand } from "./helpers/cli.js";

const SHOTS = path.join(repoRoot, "test-artifacts", "report");

describe.skipIf(!HAS_CHROMIUM)("report in headless chromium", () => {
  let browser: Browser;
  let w: WatchedPage;
  let fits: { fit: string; asimov: string };
  let withPost: string;

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    fits = await reportFits(tempDir("hepfit-report-browser-"));
    await buildReport(fits.fit, { reference: fits.asimov });
    // a copy of the fit with the hand-written post-fit keys of results.md merged in
    withPost = tempDir("hepfit-report-post-");
    for (const f of ["fitresults.json", "fitresults.hdf5"]) fs.copyFileSync(path.join(fits.fit, f), path.join(withPost, f));
    const json = JSON.parse(fs.readFileSync(path.join(withPost, "fitresults.json"), "utf8")) as Record<string, unknown> & {
      parameters: { name: string; minos?: unknown }[];
    };
    const keys = JSON.parse(fs.readFileSync(fixture("report_postfit_keys.json"), "utf8")) as Record<string, unknown> & {
      minos: Record<string, unknown>;
    };
    for (const p of json.parameters) if (keys.minos[p.name]) p.minos = keys.minos[p.name];
    for (const k of ["scans", "scans2d", "contours", "limits", "significance", "refit_impacts", "toys"]) json[k] = keys[k];
    // a nested diagnostic (as the Krylov errors' summary is): a nested table and a list, not JSON text
    json.diagnostic_demo = { method: "sparse-cholesky", notes: ["first note", "second note"], impacts: { note: "inner note" } };
    fs.writeFileSync(path.join(withPost, "fitresults.json"), JSON.stringify(json));
    await buildReport(withPost);
    browser = await launchChromium();
    w = await watchedPage(browser);
    await openReport(w, path.join(fits.fit, "report.html"));
    // element screenshots: the sticky page header would be drawn over them
    await w.page.addStyleTag({ content: "header { position: static !important; }" });
  });
  afterAll(async () => {
    await browser?.close();
  });

  const rowNames = (): Promise<string[]> => w.page.$$eval("#np-table tbody td.name", (tds) => tds.map((t) => t.textContent ?? ""));
  const colNumbers = (col: number): Promise<number[]> =>
    w.page.$$eval(`#np-table tbody tr td:nth-child(${col})`, (tds) => tds.map((t) => Number(t.textContent)));

  test("loads without console errors and without network requests", async () => {
    expect(w.errors).toEqual([]);
    expect(w.requests).toEqual([]);
    expect(await w.page.$$eval("#corr-plot .main-svg", (e) => e.length)).toBeGreaterThan(0);
    await w.page.screenshot({ path: path.join(SHOTS, "overview.png") });
  });

  test("nested provenance (the input's meta_info) is shown as JSON text", async () => {
    const text = (await w.page.textContent("#overview")) ?? "";
    expect(text).toContain("input_meta_info");
    expect(text).not.toContain("[object Object]");
  });

  test("one row per nuisance, paged", async () => {
    expect(await w.page.$$eval("#np-table tbody tr", (r) => r.length)).toBe(50);
    expect(await w.page.textContent("#np-info")).toContain(`of ${N_NUISANCES}`);
    await w.page.selectOption("#np-pagesize", "100");
    expect(await w.page.$$eval("#np-table tbody tr", (r) => r.length)).toBe(N_NUISANCES);
    await w.page.selectOption("#np-kinds", "all");
    expect(await w.page.$$eval("#np-table tbody tr", (r) => r.length)).toBe(N_NUISANCES + 2);
    await w.page.selectOption("#np-kinds", "nuisances");
    await elementShot(w.page, "#pulls", path.join(SHOTS, "pulls.png"));
  });

  test("sorting by impact, pull and name orders the rows", async () => {
    // default: |impact| descending with ranks 1, 2, 3, ...
    const up = await colNumbers(6);
    const dn = await colNumbers(7);
    const mag = up.map((u, i) => Math.max(Math.abs(u), Math.abs(dn[i])));
    for (let i = 1; i < 20; i++) expect(mag[i]).toBeLessThanOrEqual(mag[i - 1]);
    expect((await colNumbers(1)).slice(0, 5)).toEqual([1, 2, 3, 4, 5]);
    const byImpact = await rowNames();
    await w.page.selectOption("#np-sort", "pull");
    // unconstrained parameters show "θ̂ value" (NaN here) and sort last
    const pulls = (await colNumbers(3)).filter((v) => Number.isFinite(v));
    expect(pulls.length).toBe(N_NUISANCES - 1);
    for (let i = 1; i < pulls.length; i++) expect(Math.abs(pulls[i])).toBeLessThanOrEqual(Math.abs(pulls[i - 1]));
    await w.page.selectOption("#np-sort", "name");
    const byName = await rowNames();
    expect(byName).not.toEqual(byImpact);
    const coll = new Intl.Collator(undefined, { numeric: true });
    expect([...byName].sort(coll.compare)).toEqual(byName);
    await w.page.click("#np-dir");
    expect(await rowNames()).toEqual([...byName].reverse());
    await w.page.selectOption("#np-sort", "impact");
  });

  test("the regex filter narrows the rows; a bad regex is flagged, not thrown", async () => {
    await w.page.fill("#np-filter", "^shape_0\\d$");
    expect((await rowNames()).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `shape_0${i}`));
    await w.page.fill("#np-filter", "(");
    expect(await w.page.getAttribute("#np-filter", "class")).toContain("bad");
    await w.page.fill("#np-filter", "");
    expect(await w.page.$$eval("#np-table tbody tr", (r) => r.length)).toBe(N_NUISANCES);
    expect(w.errors).toEqual([]);
  });

  test("switching the POI changes impacts and ranking; impact types switch", async () => {
    const before = await colNumbers(6);
    await w.page.selectOption("#np-target", NOI);
    expect(await w.page.textContent("#top-impacts h3")).toContain(NOI);
    expect(await w.page.$$eval("#pull-hist .main-svg", (e) => e.length)).toBeGreaterThan(0);
    const after = await colNumbers(6);
    expect(after).not.toEqual(before);
    const types = await w.page.$$eval("#np-type option", (o) => o.map((x) => (x as HTMLOptionElement).value));
    expect(types).toEqual(["hessian", "global"]);
    await w.page.selectOption("#np-type", "global");
    expect(await colNumbers(6)).not.toEqual(after);
    await w.page.selectOption("#np-target", "sig");
    await w.page.selectOption("#np-type", "hessian");
  });

  test("the reference fit is drawn beside (orange markers and outlined bars)", async () => {
    expect(await w.page.textContent("header")).toContain("reference: asimov");
    expect(await w.page.$$eval("#np-table tbody circle[fill='#fff']", (c) => c.length)).toBeGreaterThan(N_NUISANCES - 5);
    expect(await w.page.$$eval("#np-table tbody rect[stroke='#ff7f0e']", (c) => c.length)).toBeGreaterThan(0);
    expect(await w.page.$$eval("#grouped th", (t) => t.map((x) => x.textContent))).toContain("reference Hessian");
  });

  test("names are text: the XSS systematic and the markup process render inert", async () => {
    await w.page.fill("#np-filter", "img");
    expect(await rowNames()).toEqual([XSS_NAME]);
    expect(await w.page.$$eval("img", (i) => i.length)).toBe(0);
    expect(await w.page.$$eval("b", (b) => b.length)).toBe(0);
    expect(w.dialogs).toEqual([]);
    await elementShot(w.page, "#np-table", path.join(SHOTS, "xss-filter.png"));
    await w.page.fill("#np-filter", "");
    await w.page.$eval("#postfit", (e) => e.scrollIntoView());
    await w.page.waitForSelector("body[data-postfit-drawn='1']", { state: "attached" });
    expect(await w.page.textContent("#plot-postfit")).toContain(MARKUP_PROC);
    expect(w.dialogs).toEqual([]);
  });

  test("postfit plots: unrolled, projections, the masked channel without data", async () => {
    await w.page.$eval("#postfit", (e) => e.scrollIntoView());
    await w.page.waitForSelector("#plot-postfit .main-svg");
    const legend = (): Promise<string[]> => w.page.$$eval("#plot-postfit .legendtext", (t) => t.map((x) => x.textContent ?? ""));
    expect(await legend()).toEqual(expect.arrayContaining(["data", "total unc.", "sig", "ttbar"]));
    expect(await w.page.$$eval("#ch-view option", (o) => o.map((x) => x.textContent))).toEqual(["unrolled (all 16 bins)", "projection on mt", "projection on charge"]);
    await elementShot(w.page, "#postfit", path.join(SHOTS, "postfit-unrolled.png"));
    await w.page.selectOption("#ch-view", "0");
    // plotly puts zero-width spaces around sub/superscripts
    expect((await w.page.textContent("#plot-postfit .g-xtitle"))!.replace(/\u200b/g, "")).toBe("mT [GeV] (projection)");
    // the TLatex subscript became a plotly <sub> (a tspan), not literal text
    expect(await w.page.$$eval("#plot-postfit .g-xtitle tspan", (t) => t.length)).toBeGreaterThan(0);
    expect(await legend()).toContain("total unc. (√Σσ², uncorrelated)");
    await w.page.selectOption("#ch-band", "linear");
    expect(await legend()).toContain("total unc. (Σσ, fully correlated)");
    await elementShot(w.page, "#postfit", path.join(SHOTS, "postfit-projection.png"));
    await w.page.selectOption("#ch-select", "1");
    expect(await w.page.textContent("#plot-postfit")).toContain("masked channel, no data");
    expect(await legend()).not.toContain("data");
    expect(w.errors).toEqual([]);
  });

  test("scans, 2-D scans, contours, MINOS, limits, significance, refit impacts and toys are drawn", async () => {
    const p = await watchedPage(browser);
    await openReport(p, path.join(withPost, "report.html"));
    await p.page.addStyleTag({ content: "header { position: static !important; }" });
    for (const id of ["#scan-0", "#scan-1", "#scan2d-0", "#contour-0", "#limits", "#toys"]) {
      expect(await p.page.$$eval(`${id} .main-svg`, (e) => e.length), id).toBeGreaterThan(0);
    }
    expect(await p.page.textContent("#significance")).toContain("0.8600");
    expect(await p.page.textContent("#overview")).toContain("1.210");
    expect(await p.page.$$eval("#overview table.kv table.kv th", (t) => t.map((x) => x.textContent))).toEqual(expect.arrayContaining(["method", "notes", "impacts", "note"]));
    expect(await p.page.$$eval("#overview ul.notes li", (t) => t.map((x) => x.textContent))).toEqual(["first note", "second note"]);
    expect(await p.page.textContent("#overview")).not.toContain('{"method"');
    const types = await p.page.$$eval("#np-type option", (o) => o.map((x) => (x as HTMLOptionElement).value));
    expect(types).toEqual(["hessian", "global", "refit"]);
    await p.page.selectOption("#np-type", "refit");
    expect(await p.page.$$eval("#np-table tbody td.name", (t) => t.slice(0, 3).map((x) => x.textContent))).toEqual(["shape_00", XSS_NAME, "lumi"]);
    expect(p.errors).toEqual([]);
    expect(p.requests).toEqual([]);
    expect(p.dialogs).toEqual([]);
    await elementShot(p.page, "#postfit-results", path.join(SHOTS, "postfit-results.png"));
    await p.page.context().close();
  });

  test("a fit without impacts: pulls sorted by |pull|, no impact columns filled, no errors", async () => {
    const dir = tempDir("hepfit-report-noimpacts-");
    const r = await runCommand(fitMain, "fit", [fixture("ref_dense.hdf5"), "-o", dir]);
    expect(r.code, r.stderr).toBe(0);
    const p = await watchedPage(browser);
    await openReport(p, path.join(dir, "report.html"));
    expect(await p.page.$eval("#np-sort", (s) => (s as HTMLSelectElement).value)).toBe("pull");
    const pulls = await p.page.$$eval("#np-table tbody tr td:nth-child(3)", (tds) => tds.map((t) => Math.abs(Number(t.textContent))));
    expect(pulls.length).toBe(20);
    for (let i = 1; i < pulls.length; i++) expect(pulls[i]).toBeLessThanOrEqual(pulls[i - 1]);
    expect(await p.page.textContent("#grouped")).toContain("no grouped impacts");
    expect(p.errors).toEqual([]);
    await p.page.context().close();
  });
});
