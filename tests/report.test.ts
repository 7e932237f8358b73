/**
 * The report builder without a browser: data loading (fitresults.json/.hdf5), impacts alignment,
 * correlation from the covariance, JSON escaping, report.log, the fit-report CLI and fit's report.
 */
import fs from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { main as fitReportMain } from "../src/cli/fitReport.js";
import { buildPayload } from "../src/report/buildReport.js";
import { correlationBlock, FULL_SCAN_MAX } from "../src/report/correlation.js";
import { CLIENT_SCRIPTS, clientScript, jsonForScript, plotlySource, reportHtml } from "../src/report/htmlPage.js";
import { fitPayload, readResultsHdf5, readResultsJson } from "../src/report/loadFitResults.js";
import { runCommand } from "./helpers/cli.js";
import { N_NUISANCES, XSS_NAME, reportFits } from "./helpers/reportFixture.js";
import { repoRoot, tempDir } from "./fixtures/tensorFiles.js";

let fits: { input: string; fit: string; asimov: string };
beforeAll(async () => {
  fits = await reportFits(tempDir("hepfit-report-"));
});

describe("jsonForScript", () => {
  test("no '<' survives, so a name cannot close the script tag; the JSON parses back", () => {
    const v = { name: "</script><script>alert(1)</script>", x: "a\u2028b" };
    const text = jsonForScript(v);
    expect(text).not.toContain("<");
    expect(text).not.toContain("\u2028");
    expect(JSON.parse(text)).toEqual(v);
  });
  test("the page embeds the payload once, inert, and plotly as text", () => {
    const html = reportHtml({ title: "<t>" } as never, { plotly: "var a='</script>';", script: "1", css: "" });
    expect(html).toContain("<title>&#60;t&#62;</title>");
    expect(html).toContain(`<script>1</script>\n<script type="text/plain" id="plotly-src">var a='<\\/script>';</script>`);
    expect(html).toMatch(/Content-Security-Policy" content="default-src 'none'/);
  });
});

describe("client script and plotly", () => {
  test("the client files join into one strict function that compiles; plotly has no closing script tag", () => {
    const script = clientScript(repoRoot);
    for (const f of CLIENT_SCRIPTS) expect(script).toContain(`// ---- ${f}\n`);
    expect(script.startsWith('(function () {\n"use strict";')).toBe(true);
    expect(() => new Function(script)).not.toThrow();
    const plotly = plotlySource();
    expect(plotly.length).toBeGreaterThan(1e6);
    expect(plotly).not.toMatch(/<\/script/i);
  });
});

describe("correlationBlock", () => {
  const names = ["mu", "a", "b", "c"];
  const kinds = ["poi", "nuisance", "nuisance", "nuisance"];
  // cov with sd = [2, 1, 3, 1]; corr(mu,a) = 0.5, corr(a,b) = -0.9, c uncorrelated
  const sd = [2, 1, 3, 1];
  const rho = [
    [1, 0.5, 0.1, 0],
    [0.5, 1, -0.9, 0],
    [0.1, -0.9, 1, 0],
    [0, 0, 0, 1],
  ];
  const cov = Float64Array.from({ length: 16 }, (_, k) => rho[Math.floor(k / 4)][k % 4] * sd[Math.floor(k / 4)] * sd[k % 4]);
  const rows = (a: number, b: number): Float64Array => cov.slice(a * 4, b * 4);
  test("POIs first, then the most correlated; values are cov / (σσ)", () => {
    const c = correlationBlock({ names, kinds, rows, top: 2 })!;
    expect(c.names).toEqual(["mu", "a", "b"]);
    expect(c.matrix[0 * 3 + 1]).toBeCloseTo(0.5, 14);
    expect(c.matrix[1 * 3 + 2]).toBeCloseTo(-0.9, 14);
    expect(c.matrix[2 * 3 + 2]).toBe(1);
  });
  test("large fits rank by correlation with the targets, reading single rows", () => {
    expect(FULL_SCAN_MAX).toBeGreaterThan(4);
    const n = FULL_SCAN_MAX + 1;
    const big = (a: number, b: number): Float64Array => {
      const out = new Float64Array((b - a) * n);
      for (let i = a; i < b; i++) {
        out[(i - a) * n + i] = i === 7 ? 100 : 1;
        // param 5: corr 0.3 with the POI; param 7: covariance 2 but σ = 10, corr 0.2
        if (i === 0) { out[(i - a) * n + 5] = 0.3; out[(i - a) * n + 7] = 2; }
        if (i === 5) out[(i - a) * n] = 0.3;
        if (i === 7) out[(i - a) * n] = 2;
      }
      return out;
    };
    const k = Array.from({ length: n }, (_, i) => (i === 0 ? "poi" : "nuisance"));
    const c = correlationBlock({ names: k.map((_, i) => `p${i}`), kinds: k, rows: big, top: 2 })!;
    expect(c.names).toEqual(["p0", "p5", "p7"]);
    expect(c.matrix[1]).toBeCloseTo(0.3, 14);
    expect(c.matrix[2]).toBeCloseTo(0.2, 14);
  });
});

describe("reading a fit folder", () => {
  test("parameters, channels with axes, impacts aligned by name", async () => {
    const json = readResultsJson(fits.fit);
    const h5 = await readResultsHdf5(fits.fit);
    try {
      expect(h5.names).toEqual(json.parameters.map((p) => p.name));
      expect(h5.channels.map((c) => [c.name, c.size, c.masked, c.data === null])).toEqual([
        ["sr", 16, false, false],
        ["fiducial", 4, true, true],
      ]);
      expect(h5.channels[0].axes.map((a) => a.name)).toEqual(["mt", "charge"]);
      expect(h5.channels[0].postfit!.yields).toHaveLength(16);
      const fp = fitPayload("fit", json, h5.impacts);
      expect(fp.targets).toEqual(["sig", "shift_noi"]);
      const i = fp.names.indexOf(XSS_NAME);
      expect(fp.impacts.hessian.sig.up[i]).toBeCloseTo(json.impacts!.sig[XSS_NAME]!, 14);
      expect(fp.impacts.hessian.sig.down[i]).toBeCloseTo(-json.impacts!.sig[XSS_NAME]!, 14);
      expect(fp.grouped!.names).toEqual([...h5.impacts!.groups, "stat"]);
      // JSON-only path gives the same numbers
      const fj = fitPayload("fit", json, null);
      expect(fj.impacts.hessian.sig.up).toEqual(fp.impacts.hessian.sig.up);
      expect(fj.impacts.global.sig.up).toEqual(fp.impacts.global.sig.up);
      expect(fj.grouped!.hessian.sig).toEqual(fp.grouped!.hessian.sig);
    } finally {
      h5.close();
    }
  });
  test("reference fit and post-fit keys reach the payload", async () => {
    const p = await buildPayload(fits.fit, { reference: fits.asimov });
    expect(p.reference!.names).toEqual(p.fit.names);
    expect(p.fit.names.filter((_, i) => !["poi", "noi"].includes(p.fit.kinds[i]))).toHaveLength(N_NUISANCES);
    expect(p.correlation!.names.slice(0, 2)).toEqual(["sig", "shift_noi"]);
    expect(p.post).toEqual({});
  });
  test("user errors name the file", async () => {
    const dir = tempDir("hepfit-report-bad-");
    const r1 = await runCommand(fitReportMain, "fit-report", [dir]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/fitresults\.json: no such file/);
    fs.writeFileSync(path.join(dir, "fitresults.json"), "{");
    const r2 = await runCommand(fitReportMain, "fit-report", [dir]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/fitresults\.json: not valid JSON/);
    fs.copyFileSync(path.join(fits.fit, "fitresults.json"), path.join(dir, "fitresults.json"));
    fs.copyFileSync(path.join(fits.asimov, "fitresults.json"), path.join(dir, "x.json"));
    const r3 = await runCommand(fitReportMain, "fit-report", [dir]);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toMatch(/fitresults\.hdf5: no such file/);
    expect(fs.readdirSync(dir).sort()).toEqual(["fitresults.json", "x.json"]);
    const r4 = await runCommand(fitReportMain, "fit-report", [fits.fit, "--reference", path.join(dir, "nope")]);
    expect(r4.code).toBe(2);
    expect(r4.stderr).toMatch(/nope: no such folder/);
    const r5 = await runCommand(fitReportMain, "fit-report", [fits.fit, "-o", path.join(dir, "missing", "r.html")]);
    expect(r5.code).toBe(2);
    expect(r5.stderr).toMatch(/-o .*missing.*does not exist/);
    expect(fs.readdirSync(dir).sort()).toEqual(["fitresults.json", "x.json"]);
  });
});

describe("fit-report output checks", () => {
  test("-o on an input, under a file or in /proc: one line, exit 2, inputs untouched; --version", async () => {
    const json = path.join(fits.fit, "fitresults.json");
    const before = fs.readFileSync(json);
    const r1 = await runCommand(fitReportMain, "fit-report", [fits.fit, "-o", json]);
    expect(r1.code).toBe(2);
    expect(r1.stderr.trim().split("\n")).toHaveLength(1);
    expect(r1.stderr).toMatch(/fitresults\.json/);
    expect(fs.readFileSync(json).equals(before)).toBe(true);
    const r2 = await runCommand(fitReportMain, "fit-report", [fits.fit, "-o", path.join(json, "r.html")]);
    expect(r2.code).toBe(2);
    const r3 = await runCommand(fitReportMain, "fit-report", [fits.fit, "-o", "/proc/hepfit-report.html"]);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toMatch(/virtual file system/);
    const v = await runCommand(fitReportMain, "fit-report", ["--version"]);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe("fit-report CLI", () => {
  test("writes report.html and report.log atomically, with provenance and the yields shown", async () => {
    const out = path.join(tempDir("hepfit-report-out-"), "r.html");
    const r = await runCommand(fitReportMain, "fit-report", [fits.fit, "--reference", fits.asimov, "-o", out]);
    expect(r.code, r.stderr).toBe(0);
    const html = fs.readFileSync(out, "utf8");
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    // the XSS name only appears escaped inside the JSON block
    expect(html).not.toContain(XSS_NAME);
    expect(html).toContain("\\u003cimg src=x onerror=alert(1)>");
    const log = fs.readFileSync(path.join(path.dirname(out), "report.log"), "utf8");
    const meta = readResultsJson(fits.fit).meta as { input_sha256: string };
    expect(log).toContain(`input sha256:   ${meta.input_sha256}`);
    expect(log).toMatch(/report code:    git [0-9a-f]{40} \((clean|dirty)/);
    expect(log).toContain(`reference:      ${path.resolve(fits.asimov)}`);
    // postfit yields as drawn: bin 0 of sr, total and σ from the HDF5
    const h5 = await readResultsHdf5(fits.fit);
    const sr = h5.channels[0];
    h5.close();
    expect(log).toContain(`    0 ${sr.postfit!.total[0].toPrecision(8)} ${sr.postfit!.totalErr[0].toPrecision(8)} ${sr.data![0].toPrecision(8)}`);
    expect(log).toContain(`## plot: channel "fiducial" prefit/postfit stacks`);
    const blocks = log.split("## plot: ").slice(1);
    expect(blocks.length).toBeGreaterThanOrEqual(6);
    for (const b of blocks) expect(b).toMatch(new RegExp(`made by: fit-report .* \\| git ([0-9a-f]{40}|unknown) .*\\| input sha256 ${meta.input_sha256}`));
    expect(fs.readdirSync(path.dirname(out)).sort()).toEqual(["r.html", "report.log"]);
  });
  test("fit writes report.html unless --no-html", async () => {
    expect(fs.existsSync(path.join(fits.fit, "report.html"))).toBe(true);
    expect(fs.existsSync(path.join(fits.fit, "report.log"))).toBe(true);
    const { main: fitMain } = await import("../src/cli/fit.js");
    const out = tempDir("hepfit-report-nohtml-");
    const r = await runCommand(fitMain, "fit", [fits.input, "--no-html", "-o", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual(["fitresults.hdf5", "fitresults.json"]);
  });
});
